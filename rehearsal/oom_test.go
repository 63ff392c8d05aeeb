package rehearsal

import (
	"strings"
	"testing"
	"time"

	"github.com/camphub/camphub/provision"
)

// TestAStudentOverTheLimitLosesOnlyTheirOwnKernel: on a worker engine with real cgroup memory
// limits, a notebook container that allocates past its memory limit (as a kernel loading too
// large a data set does) is killed by the kernel's OOM killer inside its own cgroup, alone;
// another student's container and the engine keep running. This is camphub's memory policy
// (README "Sizing"): every server has a hard limit (studentMemLimit), the swarm reserves the
// guarantee, and a server over its limit is the one that dies.
//
// What this hides: memory pressure of the whole node (limits add up to more than the machine
// when every student bursts at once); there the kernel's OOM killer picks the largest process,
// a student's kernel, and the engine is spared (camphub's docker.service drop-in sets
// OOMScoreAdjust=-500; asserted in workers_test.go, not run here: the engine here is no unit).
func TestAStudentOverTheLimitLosesOnlyTheirOwnKernel(t *testing.T) {
	c := newCluster(t, "")
	nbRoot := busyboxRoot(t, nil)
	importImage(t, c.worker, nbRoot, notebookImage, "USER 1000:100", "ENV PATH=/bin")
	c.worker.docker(t, "run", "-d", "--name", "neighbour", "--memory", "64m", "--memory-swap", "64m", notebookImage, "sleep", "3600")
	// tail holds a line in memory until its end: /dev/zero has none.
	out, err := run(t, 2*time.Minute, "", c.worker.env(), "docker", "run", "--name", "greedy", "--memory", "64m", "--memory-swap", "64m",
		"--network", provision.Layout.NetworkName, notebookImage, "sh", "-c", "head -c 512m /dev/zero | tail")
	if err == nil {
		t.Fatalf("a container allocating 512 MiB under a 64 MiB limit finished:\n%s", out)
	}
	killed := strings.TrimSpace(c.worker.docker(t, "inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}}", "greedy"))
	if killed != "true 137" {
		t.Errorf("the container over its limit ended as %q, want OOM-killed (true 137)", killed)
	}
	if state := strings.TrimSpace(c.worker.docker(t, "inspect", "--format", "{{.State.Status}} {{.State.OOMKilled}}", "neighbour")); state != "running false" {
		t.Errorf("the neighbour's container is %q, want running and never OOM-killed", state)
	}
	if out := c.worker.docker(t, "version", "--format", "{{.Server.Version}}"); strings.TrimSpace(out) == "" {
		t.Error("the engine does not answer after the OOM kill")
	}
}
