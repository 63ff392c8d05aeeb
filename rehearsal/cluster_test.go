package rehearsal

import (
	"fmt"

	"github.com/camphub/camphub/provision"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The rehearsal cluster's addresses, in the default VPC block (camphub:vpcCidr 10.42.0.0/16).
const (
	vpcCidr    = "10.42.0.0/16"
	hubAddr    = "10.42.0.10"
	nfsAddr    = "10.42.0.11"
	workerAddr = "10.42.0.12"
)

var netSeq atomic.Int32

// switchNS is a network namespace holding one bridge, the cluster's subnet: every test host is
// plugged into it with a veth pair, so nothing of the machine's own network is involved.
type switchNS struct {
	t    *testing.T
	name string
	id   string
	n    int
}

func newSwitch(t *testing.T) *switchNS {
	t.Helper()
	ip := need(t, "ip")
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, netSeq.Add(1))
	sw := &switchNS{t: t, name: "chrh-sw-" + id, id: id}
	must(t, nil, ip, "netns", "add", sw.name)
	t.Cleanup(func() { _, _ = run(t, 10*time.Second, "", nil, ip, "netns", "del", sw.name) })
	must(t, nil, ip, "-n", sw.name, "link", "add", "br0", "type", "bridge")
	must(t, nil, ip, "-n", sw.name, "link", "set", "br0", "up")
	must(t, nil, ip, "-n", sw.name, "link", "set", "lo", "up")
	return sw
}

// plug makes a network namespace for a test host with address addr/24 on the switch, and
// returns its name. A route to the "internet" stand-in's block goes through the switch too.
func (sw *switchNS) plug(host, addr string) string {
	t := sw.t
	t.Helper()
	ip := need(t, "ip")
	sw.n++
	ns := fmt.Sprintf("chrh-%s-%s", host, sw.id)
	hostEnd, swEnd := fmt.Sprintf("ch%sh%d", sw.id, sw.n), fmt.Sprintf("ch%ss%d", sw.id, sw.n)
	must(t, nil, ip, "netns", "add", ns)
	t.Cleanup(func() { _, _ = run(t, 10*time.Second, "", nil, ip, "netns", "del", ns) })
	must(t, nil, ip, "link", "add", hostEnd, "type", "veth", "peer", "name", swEnd)
	must(t, nil, ip, "link", "set", hostEnd, "netns", ns, "name", "eth0")
	must(t, nil, ip, "link", "set", swEnd, "netns", sw.name)
	must(t, nil, ip, "-n", sw.name, "link", "set", swEnd, "master", "br0", "up")
	must(t, nil, ip, "-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
	must(t, nil, ip, "-n", ns, "link", "set", "eth0", "up")
	must(t, nil, ip, "-n", ns, "link", "set", "lo", "up")
	if strings.HasPrefix(addr, "10.42.") {
		must(t, nil, ip, "-n", ns, "route", "add", "198.51.100.0/24", "dev", "eth0")
	} else {
		must(t, nil, ip, "-n", ns, "route", "add", vpcCidr, "dev", "eth0")
	}
	return ns
}

// engine is a Docker engine started for the test in a test host's network namespace, with
// Docker's own iptables rules on (they live in that namespace only).
type engine struct {
	name   string
	host   string // DOCKER_HOST
	ns     string
	dir    string
	proc   *daemon
	daemon []string // dockerd's arguments
	setup  string   // shell lines run before dockerd, each required
	argv   []string // nsenter's arguments, to start it again
}

func (e engine) env() []string { return []string{"DOCKER_HOST=" + e.host} }

// startEngine starts dockerd in network namespace ns. mountSetup, when set, runs first in a
// mount namespace of the engine's own (e.g. to show NFS stand-ins at /mnt/camphub).
func startEngine(t *testing.T, name, ns, mountSetup string, seed ...func(dataRoot string)) engine {
	t.Helper()
	dir := shortDir(t, "chrh-"+name+"-")
	for _, f := range seed {
		f(filepath.Join(dir, "data"))
	}
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	dockerd := need(t, "dockerd")
	args := []string{
		dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", sock,
	}
	// Registered before the engine starts, so it runs after the engine has stopped: end what
	// outlives its process group (shims) and unmount what it leaves behind.
	t.Cleanup(func() {
		_, _ = run(t, 10*time.Second, "", nil, "pkill", "-f", dir)
		if out, err := run(t, 10*time.Second, "", nil, "sh", "-c", "grep -o ' "+dir+"[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l"); err != nil {
			t.Logf("unmounting %s: %v %s", dir, err, out)
		}
	})
	e := &engine{name: name, host: sock, ns: ns, dir: dir, daemon: args, setup: mountSetup}
	e.argv = e.command(t)
	e.start(t)
	return *e
}

// command is nsenter's arguments for the engine: the engine's setup (mounts, then what
// docker.service runs before the engine), each step required, then dockerd. nsenter switches only
// the network namespace (ip netns exec would also remount /sys and hide the cgroup mounts the
// engine needs).
func (e *engine) command(t *testing.T) []string {
	t.Helper()
	if e.setup == "" {
		return append([]string{"--net=/var/run/netns/" + e.ns}, e.daemon...)
	}
	return append([]string{"--net=/var/run/netns/" + e.ns, need(t, "unshare"), "--mount", "--propagation", "private",
		"sh", "-c", "set -eu\n" + e.setup + "\nexec \"$@\"", "sh"}, e.daemon...)
}

// execStartPre makes the engine's next starts run the ExecStartPre lines of a docker.service
// drop-in first, with the installed paths in them replaced (installed -> here), as systemd runs
// them: the engine starts only if every one succeeds.
func (e *engine) execStartPre(t *testing.T, dropIn string, installed map[string]string) {
	t.Helper()
	for _, l := range strings.Split(dropIn, "\n") {
		if cmd, ok := strings.CutPrefix(l, "ExecStartPre="); ok {
			for from, to := range installed {
				cmd = strings.ReplaceAll(cmd, from, to)
			}
			e.setup = strings.TrimPrefix(e.setup+"\n"+cmd, "\n")
		}
	}
	e.argv = e.command(t)
}

func (e *engine) start(t *testing.T) {
	t.Helper()
	e.proc = start(t, e.name+".log", nil, need(t, "nsenter"), e.argv...)
	waitFor(t, e.name+" engine", time.Minute, func() bool {
		_, err := run(t, 10*time.Second, "", e.env(), "docker", "version")
		return err == nil
	})
}

// stop stops the engine as systemd would (SIGTERM, then wait).
func (e *engine) stop(t *testing.T) {
	t.Helper()
	_ = syscall.Kill(-e.proc.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = e.proc.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop", e.name)
	}
}

// restart stops the engine as systemd would (SIGTERM, then wait) and starts it again with the
// same state, as `systemctl restart docker` or a reboot does.
func (e *engine) restart(t *testing.T) {
	t.Helper()
	e.stop(t)
	e.start(t)
}

// docker runs the docker CLI against the engine.
func (e engine) docker(t *testing.T, args ...string) string {
	t.Helper()
	return must(t, e.env(), "docker", args...)
}

// inNS runs a command in the engine's network namespace.
func (e engine) inNS(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	return run(t, timeout, "", nil, need(t, "nsenter"), append([]string{"--net=/var/run/netns/" + e.ns, name}, args...)...)
}

// swarmStep runs the rendered camphub-swarm script (the hub's and workers' swarm functions).
func swarmStep(t *testing.T, e engine, stdin string, args ...string) string {
	t.Helper()
	out, err := run(t, 5*time.Minute, stdin, e.env(), "bash", append([]string{swarmScript(t)}, args...)...)
	if err != nil {
		t.Fatalf("camphub-swarm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// importImage makes an image from a root file system directory on one engine only.
func importImage(t *testing.T, e engine, rootfs, ref string, changes ...string) {
	t.Helper()
	args := []string{"-c", "tar -C \"$0\" -c . | docker import \"$@\" >/dev/null", rootfs}
	for _, c := range changes {
		args = append(args, "-c", c)
	}
	args = append(args, "-", ref)
	if out, err := run(t, 2*time.Minute, "", e.env(), "sh", args...); err != nil {
		t.Fatalf("importing %s on %s: %v\n%s", ref, e.name, err, out)
	}
}

// busyboxRoot is a minimal root file system: Debian's static busybox and its applets, with
// /lib and /lib64 pointing into /usr (so a container may borrow the machine's /usr read-only).
func busyboxRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	busybox := need(t, "busybox")
	root := t.TempDir()
	for _, d := range []string{"bin", "tmp", "etc", "usr/local/bin", "home/jovyan", "srv"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	must(t, nil, "cp", busybox, filepath.Join(root, "bin", "busybox"))
	for _, applet := range strings.Fields(must(t, nil, busybox, "--list")) {
		if applet != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, l := range []string{"lib", "lib64"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\njovyan:x:1000:100::/home/jovyan:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n", 0o644)
	writeFile(t, root, "etc/group", "root:x:0:\nusers:x:100:\nnogroup:x:65534:\n", 0o644)
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, root, name, content, 0o755)
	}
	return root
}

// swarmDispatch runs one swarm step of the hub's and workers' scripts on its own (the same
// functions, from provision's shared fragments): init ADDR | network [NAME] | join MANAGER
// (token on stdin) | label ADDR... Each is safe to run again.
const swarmDispatch = `usage() {
  echo "usage: $0 init ADDR | network [NAME] | join MANAGER (token on stdin) | label ADDR..." >&2
  exit 2
}
case "${1:-}" in
  init) [ "$#" -eq 2 ] || usage; swarm_init "$2" ;;
  network) overlay_network "${2:-%[1]s}" ;;
  join) [ "$#" -eq 2 ] || usage; IFS= read -r token; swarm_join "$2" "$token" ;;
  label) [ "$#" -ge 2 ] || usage; shift; label_workers %[2]s "$@" ;;
  *) usage ;;
esac
`

// swarmScript writes the swarm steps on their own (camphub-swarm) to a file.
func swarmScript(t *testing.T) string {
	t.Helper()
	body, err := provision.Fragments("swarm-manager", "swarm-join", "swarm-label")
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/usr/bin/env bash\nset -euo pipefail\n" + body + fmt.Sprintf(swarmDispatch, provision.Layout.NetworkName, provision.ShellQuote(provision.Layout.WorkerLabel))
	return writeFile(t, t.TempDir(), "camphub-swarm.sh", script, 0o755)
}

// cluster is a hub (swarm manager) and a worker, each a network namespace with its own engine,
// on one switch, joined into a swarm by the rendered steps, the worker labelled for notebooks,
// with the overlay network made by the rendered step.
type cluster struct {
	sw              *switchNS
	manager, worker engine
}

// newCluster builds the cluster. workerMounts is the worker engine's mount setup (see
// startEngine); the NFS stand-ins go there.
func newCluster(t *testing.T, workerMounts string) *cluster {
	t.Helper()
	needRoot(t)
	need(t, "docker")
	sw := newSwitch(t)
	c := &cluster{sw: sw}
	c.manager = startEngine(t, "manager", sw.plug("hub", hubAddr), "")
	c.worker = startEngine(t, "worker", sw.plug("worker", workerAddr), workerMounts)
	swarmStep(t, c.manager, "", "init", hubAddr)
	if espWorks(t) {
		swarmStep(t, c.manager, "", "network")
	} else {
		// Stand-in: this kernel cannot encrypt (no ESP with AES-GCM), so the overlay's data path
		// would carry nothing. What the plain network hides is the IPsec layer between the
		// nodes; the rendered step's encrypted network is checked in TestSwarmStepsAgainstReal-
		// Engines and the ESP security-group rules in the ingress policy test.
		t.Log("this kernel has no ESP (AES-GCM): the overlay network is made unencrypted here")
		c.manager.docker(t, "network", "create", "--driver", "overlay", "--attachable", provision.Layout.NetworkName)
	}
	token := c.manager.docker(t, "swarm", "join-token", "-q", "worker")
	swarmStep(t, c.worker, token+"\n", "join", hubAddr)
	swarmStep(t, c.manager, "", "label", workerAddr)
	return c
}

// espWorks tells whether this kernel can hold the IPsec state Docker makes for an encrypted
// overlay network (ESP, rfc4106 AES-GCM, transport mode).
func espWorks(t *testing.T) bool {
	t.Helper()
	ip := need(t, "ip")
	ns := fmt.Sprintf("chrh-esp-%d", os.Getpid())
	if _, err := run(t, 10*time.Second, "", nil, ip, "netns", "add", ns); err != nil {
		return false
	}
	defer func() { _, _ = run(t, 10*time.Second, "", nil, ip, "netns", "del", ns) }()
	_, err := run(t, 10*time.Second, "", nil, ip, "-n", ns, "xfrm", "state", "add", "src", "10.0.0.1", "dst", "10.0.0.2",
		"proto", "esp", "spi", "0x1", "reqid", "1", "mode", "transport",
		"aead", "rfc4106(gcm(aes))", "0x0102030405060708090a0b0c0d0e0f1011121314", "128")
	return err == nil
}

// startRefused starts the engine and wants it refused: a step of its setup fails, dockerd never
// runs and nothing answers on its socket. It returns what the setup printed.
func (e *engine) startRefused(t *testing.T) string {
	t.Helper()
	e.proc = start(t, e.name+"-refused.log", nil, need(t, "nsenter"), e.argv...)
	done := make(chan error, 1)
	go func() { done <- e.proc.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("%s: the engine's start exited 0", e.name)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s: the engine is running although its setup failed", e.name)
	}
	if out, err := run(t, 10*time.Second, "", e.env(), "docker", "version"); err == nil {
		t.Errorf("%s: an engine answers although its setup failed:\n%s", e.name, out)
	}
	return e.proc.logText()
}
