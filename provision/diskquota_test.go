package provision

// The NFS server's data disk with project quotas (prepare_disk ... prjquota), on a real loop
// device with the real e2fsprogs.
//
// What this machine hides: its kernel has no quota support (CONFIG_QUOTA, CONFIG_QFMT_V2
// unset), so it refuses to mount an ext4 that has the quota or project feature. These tests
// therefore put a stand-in `mount` on PATH for the run that turns quotas on: it records the
// options it was given and mounts nothing. Everything before the mount is real: the features
// mkfs or tune2fs writes, the fstab line, the unmount of a file system mounted without quotas,
// the data kept through the conversion (read back with debugfs, which needs no kernel). That
// the kernel then enforces the limits is proven on AWS: the smoke step's probe writes past its
// small quota and must get "Disk quota exceeded" (camphub_kernel_probe.py's quota stage).

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

// quotaStubs is a PATH folder with stand-ins for mount (records its arguments, mounts nothing)
// and systemctl (records; says the NFS server is active), and the file they record into.
func quotaStubs(t *testing.T) (dir, calls string) {
	t.Helper()
	dir = t.TempDir()
	calls = filepath.Join(dir, "calls")
	for _, name := range []string{"mount", "systemctl"} {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>" + calls + "\nexit 0\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, calls
}

// prepareQuota runs the rendered prepare-disk with prjquota against dev, the stand-ins first on PATH.
func prepareQuota(t *testing.T, dev, mnt, fstab, stubs string) (string, error) {
	t.Helper()
	script, err := PrepareQuotaDiskScript(t)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool(t, "bash"), writeTemp(t, "prepare-quota-disk.sh", script), dev, mnt)
	cmd.Env = append(os.Environ(), "CAMPHUB_FSTAB="+fstab, "PATH="+stubs+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func features(t *testing.T, dev string) string {
	t.Helper()
	out, err := exec.Command(tool(t, "dumpe2fs"), "-h", dev).Output()
	if err != nil {
		t.Fatalf("dumpe2fs %s: %v", dev, err)
	}
	return string(out)
}

func hasQuota(header string) bool {
	for _, line := range strings.Split(header, "\n") {
		if strings.HasPrefix(line, "Filesystem features:") {
			f := strings.Fields(line)
			return slices.Contains(f, "quota") && slices.Contains(f, "project") && strings.Contains(header, "Project quota inode:")
		}
	}
	return false
}

// TestABlankDataDiskGetsProjectQuotas: the NFS server's new data disk is made with the quota and
// project features and mounted with prjquota, from fstab and from the script; a second run
// formats nothing and converts nothing.
func TestABlankDataDiskGetsProjectQuotas(t *testing.T) {
	dev := loopDisk(t)
	dir := t.TempDir()
	mnt, fstab := filepath.Join(dir, "data"), createFile(t, filepath.Join(dir, "fstab"))
	stubs, calls := quotaStubs(t)
	out, err := prepareQuota(t, dev, mnt, fstab, stubs)
	if err != nil || !strings.Contains(out, "is blank; creating") {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if h := features(t, dev); !hasQuota(h) {
		t.Errorf("the new file system has no project quota (features quota and project, a project quota inode):\n%s", h)
	}
	tab := string(must(os.ReadFile(fstab)))
	if !strings.Contains(tab, " "+mnt+" ext4 defaults,nofail,noatime,prjquota 0 2") {
		t.Errorf("fstab does not mount it with prjquota (ext4 enforces no project limit without it):\n%s", tab)
	}
	if c := string(must(os.ReadFile(calls))); !strings.Contains(c, "mount -t ext4 -o noatime,prjquota UUID=") {
		t.Errorf("the script did not mount it with prjquota: %s", c)
	}
	out, err = prepareQuota(t, dev, mnt, fstab, stubs)
	if err != nil || strings.Contains(out, "creating") || strings.Contains(out, "turning on") {
		t.Errorf("second run changed the disk: %v\n%s", err, out)
	}
	if n := strings.Count(string(must(os.ReadFile(fstab))), "UUID="); n != 1 {
		t.Errorf("fstab has %d lines for the disk, want 1", n)
	}
}

// TestAVolumeWithoutQuotasIsConvertedDataKept: a data volume made before quotas (last year's,
// restored from nfsVolumeId or a snapshot), mounted and exported, gets the features on the next
// setup run: the NFS server is stopped, the file system unmounted, checked and converted, its
// fstab line replaced; the students' files are still there.
func TestAVolumeWithoutQuotasIsConvertedDataKept(t *testing.T) {
	testtool.NeedRoot(t)
	dev := loopDisk(t)
	dir := t.TempDir()
	mnt, fstab := filepath.Join(dir, "data"), createFile(t, filepath.Join(dir, "fstab"))
	if out, err := prepare(t, dev, mnt, fstab); err != nil { // today's disk, without quotas
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	if err := os.MkdirAll(filepath.Join(mnt, "home", "ada"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "home", "ada", "work.ipynb"), []byte("a year of work"), 0o644); err != nil {
		t.Fatal(err)
	}
	if hasQuota(features(t, dev)) {
		t.Fatal("the old-style disk already has quotas: the test proves nothing")
	}

	stubs, calls := quotaStubs(t)
	out, err := prepareQuota(t, dev, mnt, fstab, stubs)
	if err != nil || !strings.Contains(out, "turning on project quotas") {
		t.Fatalf("converting: %v\n%s", err, out)
	}
	c := string(must(os.ReadFile(calls)))
	if !strings.Contains(c, "systemctl stop nfs-server") {
		t.Errorf("the NFS server was not stopped before the file system was unmounted: %s", c)
	}
	if exec.Command("mountpoint", "-q", mnt).Run() == nil {
		t.Error("the file system is still mounted without quotas")
	}
	if h := features(t, dev); !hasQuota(h) {
		t.Errorf("the converted file system has no project quota:\n%s", h)
	}
	got, err := exec.Command(tool(t, "debugfs"), "-R", "cat /home/ada/work.ipynb", dev).Output()
	if err != nil || string(got) != "a year of work" {
		t.Errorf("the student's file after the conversion: %q, %v", got, err)
	}
	if out, err := exec.Command(tool(t, "e2fsck"), "-fn", dev).CombinedOutput(); err != nil {
		t.Errorf("the converted file system is not clean: %v\n%s", err, out)
	}
	tab := string(must(os.ReadFile(fstab)))
	if strings.Count(tab, "UUID=") != 1 || !strings.Contains(tab, "noatime,prjquota") {
		t.Errorf("fstab after the conversion:\n%s", tab)
	}
}
