package rehearsal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camphub/camphub/internal/testtool"
)

// trixieRoot is the rehearsal image's root file system: Debian trixie's JupyterHub 5
// generation (scripts/rehearsal-image.sh, which .ci/run runs first). The hub, its services and
// the single-user servers of every rehearsal test about the hub, the roster, the spawn path,
// the proxy or the smoke step run from it. JupyterHub 3.0 (the host's Debian bookworm package)
// runs only in TestUpgradeFromJupyterHub3.
func trixieRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("../scripts/rehearsal-image.sh", "--path").Output()
	if err != nil {
		t.Fatalf("scripts/rehearsal-image.sh --path: %v", err)
	}
	root := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(root, ".camphub-complete")); err != nil {
		testtool.Missing(t, "the rehearsal image is not built ("+root+"); run scripts/rehearsal-image.sh (.ci/run does)")
	}
	return root
}

// imageVersions is what the image holds, as scripts/rehearsal-image.sh recorded it.
func imageVersions(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(trixieRoot(t), ".camphub-versions"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// imageMounts is the shell that shows, inside the image's root, this host's hub directory and
// NFS mount point, its devices, processes and names, a private /tmp and, at /opt, the test's
// scratch folder. Run in a private mount namespace: nothing of it reaches the image's files.
func imageMounts(root, scratch, hosts string) string {
	return strings.Join([]string{
		"mount --rbind /srv " + root + "/srv",
		"mount --rbind /mnt " + root + "/mnt",
		"mount -t proc proc " + root + "/proc",
		"mount --rbind /dev " + root + "/dev",
		"mount --rbind /sys " + root + "/sys",
		"mount -t tmpfs camphub-rehearsal " + root + "/tmp",
		"mount --bind " + hosts + " " + root + "/etc/hosts",
		"mount --bind " + scratch + " " + root + "/opt",
	}, "\n")
}

// netNSPids lists the processes in the network namespace of process pid, pid itself left out.
func netNSPids(pid int) []int {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil
	}
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		if other, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p)); err == nil && other == ns {
			out = append(out, p)
		}
	}
	return out
}

// killNetNS ends every process in the network namespace of process pid (servers a hub started
// in sessions of their own); pid itself is the test's to end.
func killNetNS(t *testing.T, pid int) {
	t.Helper()
	for _, p := range netNSPids(pid) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	time.Sleep(200 * time.Millisecond)
}

// netNSProcesses lists the command lines in pid's network namespace that contain word.
func netNSProcesses(pid int, word string) []string {
	var out []string
	for _, p := range netNSPids(pid) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if line := strings.ReplaceAll(string(cmdline), "\x00", " "); strings.Contains(line, word) {
			out = append(out, strconv.Itoa(p)+": "+line)
		}
	}
	return out
}

// importTrixie imports the rehearsal image into one engine under ref: the image's own
// entrypoint is tini (as docker-stacks'), the rest as changes says.
func importTrixie(t *testing.T, e engine, ref string, changes ...string) {
	t.Helper()
	importImage(t, e, trixieRoot(t), ref, append([]string{`ENTRYPOINT ["tini", "-g", "--"]`, "ENV LANG=C.UTF-8"}, changes...)...)
}
