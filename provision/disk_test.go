package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

// loopDisk makes a blank 64 MiB disk as a loop device, removed when the test ends.
func loopDisk(t *testing.T) string {
	t.Helper()
	testtool.NeedRoot(t)
	losetup := tool(t, "losetup")
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.Truncate(createFile(t, img), 64<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v\n%s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command(losetup, "--detach", dev).Run() })
	return dev
}

func createFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// prepare runs the rendered prepare-disk.sh against dev, with a scratch fstab.
func prepare(t *testing.T, dev, mnt, fstab string) (string, error) {
	t.Helper()
	script, err := PrepareDiskScript(t)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "prepare-disk.sh", script)
	cmd := exec.Command(tool(t, "bash"), path, dev, mnt)
	cmd.Env = append(os.Environ(), "CAMPHUB_FSTAB="+fstab)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func unmount(t *testing.T, mnt string) {
	t.Helper()
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount %s: %v\n%s", mnt, err, out)
	}
}

func TestPrepareDiskFormatsOnlyOnce(t *testing.T) {
	dev := loopDisk(t)
	dir := t.TempDir()
	mnt, fstab := filepath.Join(dir, "data"), createFile(t, filepath.Join(dir, "fstab"))

	out, err := prepare(t, dev, mnt, fstab)
	if err != nil || !strings.Contains(out, "is blank; creating") {
		t.Fatalf("first run on a blank disk: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	if err := os.WriteFile(filepath.Join(mnt, "student-work.ipynb"), []byte("precious"), 0o644); err != nil {
		t.Fatalf("the prepared disk is not mounted writable: %v", err)
	}

	// Second run while mounted: nothing changes.
	if out, err := prepare(t, dev, mnt, fstab); err != nil || strings.Contains(out, "creating") {
		t.Fatalf("second run (mounted): %v\n%s", err, out)
	}
	// Third run after a reboot-like unmount: mounted again, never formatted.
	unmount(t, mnt)
	if out, err := prepare(t, dev, mnt, fstab); err != nil || !strings.Contains(out, "keeping its data") {
		t.Fatalf("run on a disk with data: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "student-work.ipynb")); err != nil || string(b) != "precious" {
		t.Fatalf("the student's file did not survive a second preparation: %q %v", b, err)
	}
	tab, _ := os.ReadFile(fstab)
	if lines := strings.Count(string(tab), " "+mnt+" ext4 "); lines != 1 || !strings.HasPrefix(string(tab), "UUID=") {
		t.Errorf("fstab should mount the disk once, by UUID:\n%s", tab)
	}
}

// TestPrepareDiskRefusesWhatItDidNotMake: a disk with a partition table but no filesystem, and a
// disk holding another filesystem, are refused loudly and left as they were.
func TestPrepareDiskRefusesWhatItDidNotMake(t *testing.T) {
	for name, tc := range map[string]struct {
		make       func(dev string) *exec.Cmd
		stdin      string
		refusal    string
		tag, value string
	}{
		"a partitioned disk": {func(dev string) *exec.Cmd { return exec.Command(tool(t, "sfdisk"), "--quiet", dev) }, "label: gpt\n,,L\n",
			"partition table or signature but no filesystem; refusing", "PTTYPE", "gpt"},
		"another filesystem": {func(dev string) *exec.Cmd { return exec.Command("mkswap", dev) }, "",
			"holds a swap filesystem, not ext4; refusing", "TYPE", "swap"},
	} {
		dev := loopDisk(t)
		cmd := tc.make(dev)
		cmd.Stdin = strings.NewReader(tc.stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		dir := t.TempDir()
		out, err := prepare(t, dev, filepath.Join(dir, "data"), createFile(t, filepath.Join(dir, "fstab")))
		if err == nil || !strings.Contains(out, tc.refusal) {
			t.Errorf("%s was not refused loudly: %v\n%s", name, err, out)
		}
		if v, _ := exec.Command("blkid", "-p", "-o", "value", "-s", tc.tag, dev).Output(); strings.TrimSpace(string(v)) != tc.value {
			t.Errorf("%s: the refused disk was changed: %s now %q", name, tc.tag, v)
		}
	}
}

// TestFullDiskLeavesTheHubRoom fills the prepared data file system as a student (uid 1000)
// until it refuses, then runs the rendered configuration's own home-folder function as the hub
// does (root, not squashed): the reserve lets it make a new student's folder. Growing the
// device and preparing again grows the file system, data kept.
func TestFullDiskLeavesTheHubRoom(t *testing.T) {
	dev := loopDisk(t)
	setpriv := tool(t, "setpriv")
	dir := t.TempDir()
	mnt, fstab := filepath.Join(dir, "data"), createFile(t, filepath.Join(dir, "fstab"))
	if out, err := prepare(t, dev, mnt, fstab); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir's are 0700; students need a way in
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	homes := filepath.Join(mnt, "home")
	if err := os.Mkdir(homes, 0o755); err != nil {
		t.Fatal(err)
	}
	config := renderAll(t, "dev")
	var first struct{ Home string }
	testtool.HubConfig(t, config, map[string]any{"op": "make_home", "homes": homes, "user": "ada@example.org"}, &first)

	// A student fills the disk: dd stops at "No space left on device".
	fill := filepath.Join(first.Home, "big.bin")
	out, err := exec.Command(setpriv, "--reuid", "1000", "--regid", "100", "--clear-groups",
		"dd", "if=/dev/zero", "of="+fill, "bs=1M").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No space left on device") {
		t.Fatalf("filling the disk as a student: %v\n%s", err, out)
	}
	_ = exec.Command("sync").Run()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	// What students may still use is next to nothing; root keeps its reserve (about 1 %).
	if avail, free := st.Bavail*uint64(st.Bsize), st.Bfree*uint64(st.Bsize); avail > 1<<20 || free-avail < st.Blocks*uint64(st.Bsize)/200 {
		t.Errorf("after the student filled the disk: %d bytes left for students, %d for root; want ~0 and a reserve of about 1 %%", avail, free)
	}

	// The hub still makes a new student's home (root uses the reserve).
	var second struct{ Home string }
	testtool.HubConfig(t, config, map[string]any{"op": "make_home", "homes": homes, "user": "grace@example.net"}, &second)
	if st, err := os.Stat(filepath.Join(second.Home, "course")); err != nil || !st.IsDir() {
		t.Fatalf("with the disk full for students, the hub could not make a new home: %v", err)
	}

	// Grow the device while the server is down (this machine's kernel refuses online resizing
	// of a loop-mounted ext4; on the NFS server the script grows a mounted one online, the
	// branch after mounting), prepare again: more room, the student's data still there.
	before := fsSize(t, mnt)
	unmount(t, mnt)
	img := strings.TrimSpace(string(must(exec.Command("losetup", "--noheadings", "-O", "BACK-FILE", dev).Output())))
	if err := os.Truncate(img, 128<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("losetup", "--set-capacity", dev).CombinedOutput(); err != nil {
		t.Fatalf("losetup --set-capacity: %v\n%s", err, out)
	}
	if out, err := prepare(t, dev, mnt, fstab); err != nil {
		t.Fatalf("preparing the grown disk: %v\n%s", err, out)
	}
	if after := fsSize(t, mnt); after < before+50<<20 {
		t.Errorf("the file system did not grow with the device: %d -> %d bytes", before, after)
	}
	if _, err := os.Stat(fill); err != nil {
		t.Errorf("the student's file is gone after growing: %v", err)
	}
}

func fsSize(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks) * st.Bsize
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
