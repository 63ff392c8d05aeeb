package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	script, err := PrepareDiskScript()
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

func TestPrepareDiskRefusesAForeignFilesystem(t *testing.T) {
	dev := loopDisk(t)
	if out, err := exec.Command("mkswap", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkswap: %v\n%s", err, out)
	}
	dir := t.TempDir()
	out, err := prepare(t, dev, filepath.Join(dir, "data"), createFile(t, filepath.Join(dir, "fstab")))
	if err == nil || !strings.Contains(out, "holds a swap filesystem, not ext4; refusing") {
		t.Fatalf("a disk holding another filesystem was not refused loudly: %v\n%s", err, out)
	}
	if typ, _ := exec.Command("blkid", "-p", "-o", "value", "-s", "TYPE", dev).Output(); strings.TrimSpace(string(typ)) != "swap" {
		t.Errorf("the refused disk was changed: now %q", typ)
	}
}
