package rehearsal

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camphub/camphub/provision"
)

// smoke runs the rendered camphub-smoke in the hub host, as the smoke step and the dress
// rehearsal run it on the hub (its defaults name the hub's paths; only the hub's log, a file
// here instead of the journal, is pointed at).
func (h *hubHost) smoke(n string, env ...string) (string, error) {
	h.t.Helper()
	path := writeFile(h.t, h.t.TempDir(), "camphub-smoke", h.files.SmokeScript, 0o755)
	return h.run(5*time.Minute, "", h.smokeEnv(append([]string{"CAMPHUB_SEATS=7"}, env...)...), "bash", path, n)
}

// smokeEnv is the smoke probe's environment in this host: the hub's log instead of its journal,
// the kernel stage's program where hub-config installs it, and no quota stage: this machine's
// kernel has no ext4 quotas and the homes here are a plain folder (TestSmokeStep shows the
// stage fails when the write past the quota is not refused; on AWS it runs on every up).
// Later entries of more win.
func (h *hubHost) smokeEnv(more ...string) []string {
	h.t.Helper()
	probe := writeFile(h.t, h.t.TempDir(), "camphub_kernel_probe.py", h.files.KernelProbe, 0o644)
	return append([]string{"CAMPHUB_HUB_LOG=" + h.hub.log, "CAMPHUB_KERNEL_PROBE=" + probe, "CAMPHUB_QUOTA_MIB="}, more...)
}

// leftovers lists what probes could leave behind: hub users, home folders, servers' processes.
func (h *hubHost) leftovers() []string {
	h.t.Helper()
	var left []string
	for name := range h.users() {
		if strings.HasPrefix(name, provision.Layout.ProbePrefix) {
			left = append(left, "user "+name)
		}
	}
	homes := provision.Layout.MountRoot + "/home"
	out, _ := h.run(10*time.Second, "", nil, "ls", "-A", homes)
	for _, f := range strings.Fields(out) {
		if f != provision.Layout.NamesDir { // the hub's manifest of folder names stays; its entries may not
			left = append(left, "folder "+f)
		}
	}
	out, _ = h.run(10*time.Second, "", nil, "ls", "-A", homes+"/"+provision.Layout.NamesDir)
	for _, f := range strings.Fields(out) {
		left = append(left, "manifest entry "+f)
	}
	if procs := netNSProcesses(h.pid, "jupyterhub-singleuser"); len(procs) > 0 {
		left = append(left, "server processes "+strings.Join(procs, "; "))
	}
	return left
}

// TestSmokeStep runs the rendered smoke probe against the real hub behind the real proxy: one
// probe user, its server (the real jupyterhub-singleuser of the rehearsal image) started through
// the REST API, a file written through the server's contents API behind the proxy over HTTPS,
// read back from the hub's NFS mount, then read back again by code run in a real ipykernel
// through the proxy's websocket; nothing left afterwards.
//
// What the stand-in hides: the server runs as a local process (RehearsalLocalSpawner), not a
// swarm service; the same server in a container on the swarm is rehearsed in smokeswarm_test.go.
func TestSmokeStep(t *testing.T) {
	h := newHubHost(t)
	versions := imageVersions(t)
	for _, want := range []string{"jupyterhub 5.", "jupyterlab 4.", "python3-jupyter-server 2.", "python3-ipykernel 6."} {
		if !strings.Contains(versions, want) {
			t.Fatalf("the rehearsal image is not the JupyterHub 5 generation (want %s...):\n%s", want, versions)
		}
	}
	out, err := h.smoke("1")
	if err != nil || !strings.Contains(out, "1 of 1 probes started, wrote through the proxy, reached NFS and ran code in a kernel") {
		t.Fatalf("the smoke probe failed against a working hub: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ready: p50 ") || !strings.Contains(out, "first result: p50 ") || !strings.Contains(out, provision.Layout.ProbePrefix) {
		t.Errorf("no report (time to ready and to the kernel's first result):\n%s", out)
	}
	if left := h.leftovers(); len(left) > 0 {
		t.Errorf("the probe left %v behind", left)
	}
	if strings.Contains(out, h.smokeToken) {
		t.Error("the smoke probe printed its token")
	}

	// The quota stage as every `pulumi up` runs it: here nothing enforces the probe's quota (no
	// ext4 quotas in this kernel, no file server's slots), which is what a broken quota looks
	// like on AWS; the probe must fail, naming the quota, and still leave nothing behind.
	out, err = h.smoke("1", "CAMPHUB_QUOTA_MIB=8")
	if err == nil || !strings.Contains(out, "FAILED running code in a kernel at quota: the probe wrote 24 MiB into a home whose quota is 8 MiB: home quotas are not enforced") {
		t.Errorf("writing past the probe's quota succeeded, yet the smoke probe did not fail naming the quota: %v\n%s", err, out)
	}
	if left := h.leftovers(); len(left) > 0 {
		t.Errorf("the quota-failed probe left %v behind", left)
	}
}

// TestSmokeStepNamesTheCause: with servers that cannot start, the probe fails, saying which
// part failed and quoting the hub's own error, and still leaves nothing behind.
func TestSmokeStepNamesTheCause(t *testing.T) {
	h := newHubHost(t, hubOptions{Notebook: "/bin/false", Delay: "0", HTTPTimeout: "15"})
	out, err := h.smoke("1")
	if err == nil {
		t.Fatalf("the smoke probe passed with servers that cannot start:\n%s", out)
	}
	if !strings.Contains(out, "FAILED starting the server") && !strings.Contains(out, "FAILED: the server did not start") {
		t.Errorf("the failure does not name the part that failed:\n%s", out)
	}
	if !strings.Contains(out, "Spawner failed to start") {
		t.Errorf("the failure does not quote the hub's error:\n%s", out)
	}
	if left := h.leftovers(); len(left) > 0 {
		t.Errorf("the failed probe left %v behind", left)
	}
}

// TestDressRehearsal runs camphub-smoke with a class of three: three ready, the report with
// p50/p95/max and the seats; then again with slow servers, interrupted half-way as an operator's
// Ctrl-C does: it stops, and leaves no user, folder or server behind.
func TestDressRehearsal(t *testing.T) {
	h := newHubHost(t)
	out, err := h.smoke("3")
	if err != nil || strings.Count(out, " ok\n") != 3 || !strings.Contains(out, "ready: p50 ") || !strings.Contains(out, "p95") ||
		!strings.Contains(out, "seats: 7 in the cluster, 3 probes started at once, 4 left unused") {
		t.Fatalf("dress rehearsal of three: %v\n%s", err, out)
	}
	if left := h.leftovers(); len(left) > 0 {
		t.Errorf("the dress rehearsal left %v behind", left)
	}

	slow := newHubHost(t, hubOptions{Notebook: "/usr/local/bin/start-notebook.py", Delay: "30", HTTPTimeout: "120"})
	path := writeFile(t, t.TempDir(), "camphub-smoke", slow.files.SmokeScript, 0o755)
	bin, args := slow.cmd("bash", path, "3")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), slow.smokeEnv()...)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the probes to be under way", time.Minute, func() bool { return strings.Contains(buf.String(), "probes done") })
	_ = cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || !strings.Contains(buf.String(), "interrupted; removing the probes") {
		t.Errorf("interrupted dress rehearsal: %v\n%s", err, buf.String())
	}
	waitFor(t, "nothing left after the interruption", time.Minute, func() bool { return len(slow.leftovers()) == 0 })
}
