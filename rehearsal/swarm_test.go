package rehearsal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camphub/camphub/provision"
)

// engine is a Docker engine started for the test, in the host's network or in a namespace.
type engine struct {
	host string // DOCKER_HOST
}

func (e engine) env() []string { return []string{"DOCKER_HOST=" + e.host} }

func startEngine(t *testing.T, name, netns string) engine {
	t.Helper()
	dir := shortDir(t, "chrh-"+name+"-")
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	args := []string{
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", sock,
		// Leave the host's firewall and bridges alone.
		"--iptables=false", "--bridge=none",
	}
	// Registered before the engine starts, so it runs after the engine has stopped: unmount the
	// namespaces and layers it leaves behind, so its directory can go.
	t.Cleanup(func() {
		if out, err := run(t, 10*time.Second, "", nil, "sh", "-c", "grep -o ' "+dir+"[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l"); err != nil {
			t.Logf("unmounting %s: %v %s", dir, err, out)
		}
	})
	if netns == "" {
		start(t, name+".log", nil, need(t, "dockerd"), args...)
	} else {
		// nsenter switches only the network namespace (ip netns exec would also remount /sys and
		// hide the cgroup mounts the engine needs).
		start(t, name+".log", nil, need(t, "nsenter"), append([]string{"--net=/var/run/netns/" + netns, need(t, "dockerd")}, args...)...)
	}
	e := engine{host: sock}
	waitFor(t, name+" engine", time.Minute, func() bool {
		_, err := run(t, 10*time.Second, "", e.env(), "docker", "version")
		return err == nil
	})
	return e
}

// namespace makes a test host: a network namespace joined to this one by a veth pair.
func namespace(t *testing.T, hostAddr, nsAddr string) string {
	t.Helper()
	ip := need(t, "ip")
	id := os.Getpid() % 100000
	ns := fmt.Sprintf("chrh-w0-%d", id)
	hostEnd, nsEnd := fmt.Sprintf("chrh%dh", id), fmt.Sprintf("chrh%dw", id)
	must(t, nil, ip, "netns", "add", ns)
	t.Cleanup(func() {
		_, _ = run(t, 10*time.Second, "", nil, ip, "netns", "del", ns)
		_, _ = run(t, 10*time.Second, "", nil, ip, "link", "del", hostEnd)
	})
	must(t, nil, ip, "link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd)
	must(t, nil, ip, "link", "set", nsEnd, "netns", ns)
	must(t, nil, ip, "addr", "add", hostAddr+"/30", "dev", hostEnd)
	must(t, nil, ip, "link", "set", hostEnd, "up")
	must(t, nil, ip, "netns", "exec", ns, "ip", "addr", "add", nsAddr+"/30", "dev", nsEnd)
	must(t, nil, ip, "netns", "exec", ns, "ip", "link", "set", nsEnd, "up")
	must(t, nil, ip, "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	return ns
}

// TestSwarmStepsAgainstRealEngines runs the rendered swarm steps (the same functions the hub
// bootstrap and worker setup scripts carry) against two real Docker engines: a manager on this
// host and a worker in its own network namespace.
func TestSwarmStepsAgainstRealEngines(t *testing.T) {
	needRoot(t)
	need(t, "docker")
	const managerAddr, workerAddr = "10.203.7.1", "10.203.7.2"
	ns := namespace(t, managerAddr, workerAddr)
	manager := startEngine(t, "manager", "")
	worker := startEngine(t, "worker", ns)

	script, err := provision.SwarmScript()
	if err != nil {
		t.Fatal(err)
	}
	swarm := writeFile(t, t.TempDir(), "camphub-swarm.sh", script, 0o755)
	step := func(e engine, stdin string, args ...string) string {
		t.Helper()
		out, err := run(t, 5*time.Minute, stdin, e.env(), "bash", append([]string{swarm}, args...)...)
		if err != nil {
			t.Fatalf("camphub-swarm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	info := func(e engine, format string) string {
		t.Helper()
		return must(t, e.env(), "docker", "info", "--format", format)
	}

	// Hub bootstrap: init and network, twice.
	if out := step(manager, "", "init", managerAddr); !strings.Contains(out, "swarm initialised") {
		t.Fatalf("first init did not initialise a swarm:\n%s", out)
	}
	cluster := info(manager, "{{.Swarm.Cluster.ID}}")
	if out := step(manager, "", "init", managerAddr); strings.TrimSpace(out) != "" {
		t.Errorf("second init was not a no-op:\n%s", out)
	}
	if again := info(manager, "{{.Swarm.Cluster.ID}}"); again != cluster {
		t.Errorf("second init changed the cluster: %s -> %s", cluster, again)
	}
	step(manager, "", "network")
	netID := must(t, manager.env(), "docker", "network", "inspect", "--format", "{{.ID}} {{.Driver}} {{.Attachable}} {{.Scope}}", provision.NetworkName)
	if !strings.HasSuffix(netID, " overlay true swarm") {
		t.Errorf("network %s is %q, want an attachable swarm overlay", provision.NetworkName, netID)
	}
	if out := step(manager, "", "network"); strings.TrimSpace(out) != "" {
		t.Errorf("second network step was not a no-op:\n%s", out)
	}
	if again := must(t, manager.env(), "docker", "network", "inspect", "--format", "{{.ID}} {{.Driver}} {{.Attachable}} {{.Scope}}", provision.NetworkName); again != netID {
		t.Errorf("second network step changed the network: %s -> %s", netID, again)
	}

	// Worker setup: join with the token on stdin, twice.
	token := must(t, manager.env(), "docker", "swarm", "join-token", "-q", "worker")
	if out := step(worker, token+"\n", "join", managerAddr); !strings.Contains(out, "joined the swarm") || strings.Contains(out, token) {
		t.Fatalf("join did not join, or echoed the token:\n%s", out)
	}
	node := info(worker, "{{.Swarm.NodeID}}")
	if out := step(worker, token+"\n", "join", managerAddr); strings.TrimSpace(out) != "" {
		t.Errorf("second join was not a no-op:\n%s", out)
	}
	if again := info(worker, "{{.Swarm.NodeID}}"); again != node {
		t.Errorf("second join changed the worker's node: %s -> %s", node, again)
	}

	// Hub side: wait for the worker by its address and label it for notebooks.
	step(manager, "", "label", workerAddr)
	labels := must(t, manager.env(), "docker", "node", "inspect", "--format", "{{.Spec.Role}} {{.Status.Addr}} {{index .Spec.Labels \""+provision.WorkerLabel+"\"}}", node)
	if labels != "worker "+workerAddr+" true" {
		t.Errorf("worker node %s is %q, want a worker at %s labelled %s=true", node, labels, workerAddr, provision.WorkerLabel)
	}
	managerNode := info(manager, "{{.Swarm.NodeID}}")
	if l := must(t, manager.env(), "docker", "node", "inspect", "--format", "{{index .Spec.Labels \""+provision.WorkerLabel+"\"}}", managerNode); l == "true" {
		t.Error("the manager (the hub) was labelled for notebooks")
	}
}
