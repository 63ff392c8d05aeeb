package rehearsal

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/camphub/camphub/provision"
)

// TestSwarmStepsAgainstRealEngines runs the rendered swarm steps (the same functions the hub
// bootstrap and worker setup scripts carry) twice against two real Docker engines, manager and
// worker, each in a network namespace of its own: a host that already runs a swarm on 2377 does
// not interfere.
func TestSwarmStepsAgainstRealEngines(t *testing.T) {
	needRoot(t)
	need(t, "docker")
	// The machine's own network has something on the swarm's port, as a host that runs a swarm
	// has (if something already holds it, all the better).
	if l, err := net.Listen("tcp", fmt.Sprintf(":%d", provision.SwarmPort)); err == nil {
		t.Cleanup(func() { l.Close() })
	}
	sw := newSwitch(t)
	manager := startEngine(t, "manager", sw.plug("hub", hubAddr), "")
	worker := startEngine(t, "worker", sw.plug("worker", workerAddr), "")
	step := func(e engine, stdin string, args ...string) string {
		t.Helper()
		return swarmStep(t, e, stdin, args...)
	}
	info := func(e engine, format string) string {
		t.Helper()
		return must(t, e.env(), "docker", "info", "--format", format)
	}
	managerAddr := hubAddr

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
	netID := must(t, manager.env(), "docker", "network", "inspect", "--format", "{{.ID}} {{.Driver}} {{.Attachable}} {{.Scope}} encrypted={{index .Options \"encrypted\"}}", provision.Layout.NetworkName)
	if !strings.HasSuffix(netID, " overlay true swarm encrypted=") {
		t.Errorf("network %s is %q, want an attachable, encrypted swarm overlay", provision.Layout.NetworkName, netID)
	}
	if out := step(manager, "", "network"); strings.TrimSpace(out) != "" {
		t.Errorf("second network step was not a no-op:\n%s", out)
	}
	if again := must(t, manager.env(), "docker", "network", "inspect", "--format", "{{.ID}} {{.Driver}} {{.Attachable}} {{.Scope}} encrypted={{index .Options \"encrypted\"}}", provision.Layout.NetworkName); again != netID {
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
	labels := must(t, manager.env(), "docker", "node", "inspect", "--format", "{{.Spec.Role}} {{.Status.Addr}} {{index .Spec.Labels \""+provision.Layout.WorkerLabel+"\"}}", node)
	if labels != "worker "+workerAddr+" true" {
		t.Errorf("worker node %s is %q, want a worker at %s labelled %s=true", node, labels, workerAddr, provision.Layout.WorkerLabel)
	}
	managerNode := info(manager, "{{.Swarm.NodeID}}")
	if l := must(t, manager.env(), "docker", "node", "inspect", "--format", "{{index .Spec.Labels \""+provision.Layout.WorkerLabel+"\"}}", managerNode); l == "true" {
		t.Error("the manager (the hub) was labelled for notebooks")
	}
}
