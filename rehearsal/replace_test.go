package rehearsal

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHubReplacementKeepsTheSwarm replaces the hub as `pulumi up --replace` does with camphub's
// state volume: the old manager's engine goes away for good, a new one (a fresh data root, as on
// a new instance's root disk) starts at the same address with the swarm's state from the old
// one (/var/lib/docker/swarm, which lives on the state volume), and the rendered swarm step
// runs. The worker stays in the swarm with its label, and a notebook service started before
// keeps running on it.
//
// Stand-in: the state volume is a copy of the old swarm directory (the volume's file system
// and its attachment are rehearsed by the disk tests and planned in the mock tests).
func TestHubReplacementKeepsTheSwarm(t *testing.T) {
	c := newCluster(t, "")
	nbRoot := busyboxRoot(t, nil)
	importImage(t, c.worker, nbRoot, notebookImage, "ENV PATH=/bin")
	c.manager.docker(t, "service", "create", "--detach", "--name", "jupyter-ada", "--no-resolve-image",
		"--constraint", "node.role == worker", "--network", "jupyterhub-net", notebookImage, "sleep", "3600")
	running := func(e engine) bool {
		out, err := run(t, 10*time.Second, "", e.env(), "docker", "service", "ps", "--filter", "desired-state=running", "--format", "{{.CurrentState}}", "jupyter-ada")
		return err == nil && strings.HasPrefix(strings.TrimSpace(out), "Running")
	}
	waitFor(t, "the notebook service before the replacement", time.Minute, func() bool { return running(c.manager) })
	taskBefore := c.worker.docker(t, "ps", "--filter", "name=jupyter-ada", "--format", "{{.ID}}")

	oldData := filepath.Join(c.manager.dir, "data")
	c.manager.stop(t)
	newManager := startEngine(t, "manager-new", c.manager.ns, "", func(dataRoot string) {
		must(t, nil, "mkdir", "-p", dataRoot)
		must(t, nil, "cp", "-a", filepath.Join(oldData, "swarm"), filepath.Join(dataRoot, "swarm"))
	})
	swarmStep(t, newManager, "", "init", hubAddr)
	waitFor(t, "the worker ready under the new manager", 2*time.Minute, func() bool {
		out, err := run(t, 10*time.Second, "", newManager.env(), "docker", "node", "ls", "--filter", "role=worker", "--format", "{{.Status}} {{.Availability}}")
		return err == nil && strings.TrimSpace(out) == "Ready Active"
	})
	label := newManager.docker(t, "node", "inspect", "--format", "{{index .Spec.Labels \"camphub.notebooks\"}}", newManager.docker(t, "node", "ls", "--filter", "role=worker", "-q"))
	if label != "true" {
		t.Errorf("the worker lost its notebooks label across the hub replacement: %q", label)
	}
	waitFor(t, "the notebook service under the new manager", time.Minute, func() bool { return running(newManager) })
	if after := c.worker.docker(t, "ps", "--filter", "name=jupyter-ada", "--format", "{{.ID}}"); after != taskBefore {
		t.Errorf("the student's container was replaced across the hub replacement: %s -> %s", taskBefore, after)
	}
}
