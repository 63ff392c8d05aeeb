package rehearsal

import (
	"bytes"
	"context"
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

func need(t *testing.T, name string) string { return testtool.Need(t, name) }

func needRoot(t *testing.T) { testtool.NeedRoot(t) }

// run runs a command with a deadline and returns its combined output.
func run(t *testing.T, timeout time.Duration, stdin string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// must runs a command that has to succeed.
func must(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, 2*time.Minute, "", env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// daemon is a background process in a process group of its own, stopped (the whole group)
// when the test ends, whatever happened.
type daemon struct {
	cmd *exec.Cmd
	log string
}

func start(t *testing.T, logName string, env []string, name string, args ...string) *daemon {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	d := &daemon{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		f.Close()
		if t.Failed() || testing.Verbose() {
			t.Logf("--- %s log:\n%s", logName, d.logText())
		}
	})
	return d
}

func (d *daemon) logText() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

// waitFor polls until ok returns true or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func shortDir(t *testing.T, prefix string) string {
	t.Helper()
	// Unix socket paths must stay short; t.TempDir's can be long.
	d, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// nsHost is a test host: a process holding a mount namespace and a network namespace of its own
// (only loopback, brought up), prepared by a setup script. Commands run in it through nsenter,
// so nothing it listens on meets the machine's own services (a host's Docker, swarm or hub).
type nsHost struct {
	t   *testing.T
	pid int
}

func newNSHost(t *testing.T, name, setup string) *nsHost {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	script := "set -eu\nip link set lo up\n" + setup + "\ntouch " + ready + "\nexec sleep infinity\n"
	d := start(t, name+"-host.log", nil, need(t, "unshare"), "--mount", "--propagation", "private", "--net", "sh", "-c", script)
	waitFor(t, name+" namespaces", 30*time.Second, func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	return &nsHost{t: t, pid: d.cmd.Process.Pid}
}

// cmd is the command line that runs name with args inside the host's namespaces.
func (h *nsHost) cmd(name string, args ...string) (string, []string) {
	return need(h.t, "nsenter"), append([]string{"-t", strconv.Itoa(h.pid), "-m", "-n", "--", name}, args...)
}

// run runs a command in the host and returns its combined output.
func (h *nsHost) run(timeout time.Duration, stdin string, env []string, name string, args ...string) (string, error) {
	h.t.Helper()
	bin, full := h.cmd(name, args...)
	return run(h.t, timeout, stdin, env, bin, full...)
}

// start starts a daemon in the host.
func (h *nsHost) start(logName string, env []string, name string, args ...string) *daemon {
	h.t.Helper()
	bin, full := h.cmd(name, args...)
	return start(h.t, logName, env, bin, full...)
}
