package rehearsal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camphub/camphub/internal/testtool"
	"github.com/camphub/camphub/provision"
)

// swarmHubOverride runs the rendered configuration in the real JupyterHub (the rehearsal
// image's JupyterHub 5, in a container on the overlay network under its real name), with two
// replacements, each a stand-in for what cannot be installed here:
//   - DummyAuthenticator for Google (login is not what the smoke probe exercises);
//   - RehearsalSwarmSpawner for dockerspawner's SwarmSpawner + camphub's CampSwarmSpawner: it
//     makes the notebook service as SwarmSpawner 14.0.0's create_object does (hubconfig.py,
//     with the config's own traits and pre_spawn_hook run by JupyterHub itself), waits as
//     camphub_spawner.py does (its own Watch), and the hub then reaches the server by
//     the service's name over the overlay. What it hides: dockerspawner's own code (state,
//     object ids, poll details); the facts it relies on are cited in hubconfig.py.
const swarmHubOverride = `c = get_config()  # noqa: F821
load_subconfig(%[1]q)  # noqa: F821
import asyncio, sys
sys.path.insert(0, %[2]q)
import docker, hubconfig
from jupyterhub.spawner import Spawner
from traitlets import Unicode, default

escape = c.SwarmSpawner.escape


class RehearsalSwarmSpawner(Spawner):
    volumes = {}
    service = Unicode("")

    @default("env_keep")
    def _env_keep_default(self):
        # as DockerSpawner: no environment of the hub's own (docs/upstream.md D5)
        return []

    # as DockerSpawner: the server listens on all of the container's addresses, port 8888
    # (docs/upstream.md D6); the hub and the proxy reach it by the service's name.
    @default("ip")
    def _ip_default(self):
        return "0.0.0.0"

    @default("port")
    def _port_default(self):
        return 8888

    @property
    def escaped_name(self):
        return escape(self.user.name)

    def _start(self):
        req = {"user": self.user.name, "admin": bool(self.user.admin), "docker": "unix:///var/run/docker.sock",
               "spawner_module": %[3]q, "timeout": 90, "volumes": self.volumes, "env": self.get_env()}
        return hubconfig.spawn(c, None, req)

    async def start(self):
        res = await asyncio.get_running_loop().run_in_executor(None, self._start)
        self.service = res.get("service", "")
        if res["state"] != "running":
            # the message camphub_spawner's Watch gave, as CampSwarmSpawner raises it
            raise RuntimeError(res["error"] or "the service is %%s" %% res["state"])
        return (self.service, 8888)

    async def poll(self):
        if not self.service:
            return 0
        tasks = docker.APIClient(base_url="unix:///var/run/docker.sock").tasks(filters={"service": self.service})
        return None if any(t["Status"]["State"] == "running" for t in tasks) else 1

    async def stop(self, now=False):
        if self.service:
            try:
                docker.APIClient(base_url="unix:///var/run/docker.sock").remove_service(self.service)
            except docker.errors.NotFound:
                pass
            self.service = ""

    def get_state(self):
        state = super().get_state()
        state["service"] = self.service
        return state

    def load_state(self, state):
        super().load_state(state)
        self.service = state.get("service", "")


c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.JupyterHub.spawner_class = RehearsalSwarmSpawner
c.Spawner.http_timeout = 60
`

// swarmHub is the real hub (the rehearsal image's JupyterHub 5) in a container on the spawn
// cluster's overlay network, behind the proxy container, with the smoke probe's files.
type swarmHub struct {
	t                                           *testing.T
	sc                                          *spawnCluster
	hubDir, module, logPath, tokenFile, smokeTk string
	certPath, resolve, script, kernelProbe      string
	run                                         []string // docker create of the hub container
}

func newSwarmHub(t *testing.T, sc *spawnCluster) *swarmHub {
	t.Helper()
	// The hub stand-in of the spawn fixture makes way for the real hub.
	sc.manager.docker(t, "rm", "-f", provision.Layout.HubContainer)
	h := &swarmHub{t: t, sc: sc, hubDir: exportDir(t), smokeTk: randomHex(t)}
	writeFile(t, h.hubDir, "hubconfig.py", string(testtool.HubConfigHelper()), 0o644)
	for name, content := range sc.files.HubDirFiles() {
		writeFile(t, h.hubDir, name, content, 0o644)
	}
	h.module = provision.Layout.HubDir + "/camphub_spawner.py"
	h.tokenFile = writeFile(t, t.TempDir(), "smoke.env", "CAMPHUB_SMOKE_TOKEN="+h.smokeTk+"\n", 0o600)
	h.logPath = writeFile(t, h.hubDir, "hub.log", "", 0o644)
	// The hub container runs the rehearsal image (JupyterHub 5), as the hub image runs 5.5.1.
	const hubImage = "camphub-rehearsal/hub:1"
	importTrixie(t, sc.manager, hubImage)
	managerSock := strings.TrimPrefix(sc.manager.host, "unix://")
	h.run = []string{"create", "--name", provision.Layout.HubContainer, "--network", provision.Layout.NetworkName,
		"--env", "OAUTH_CLIENT_ID=123456789012-rehearsal.apps.googleusercontent.com", "--env", "OAUTH_CLIENT_SECRET=" + randomHex(t),
		"--env", "CONFIGPROXY_AUTH_TOKEN=" + sc.token, "--env", "CAMPHUB_SMOKE_TOKEN=" + h.smokeTk,
		"--volume", managerSock + ":/var/run/docker.sock",
		"--volume", h.hubDir + ":" + provision.Layout.HubDir, "--volume", filepath.Join(sc.export, "home") + ":" + provision.Layout.MountRoot + "/home",
		"--workdir", provision.Layout.HubDir, hubImage,
		"sh", "-c", "exec jupyterhub -f " + provision.Layout.HubDir + "/rehearsal_config.py >>" + provision.Layout.HubDir + "/hub.log 2>&1"}
	h.certPath = writeFile(t, t.TempDir(), "hub.crt", sc.certPEM, 0o644)
	h.resolve = fmt.Sprintf("%s:%d:%s", sc.dns, sc.port, hubAddr)
	h.script = writeFile(t, t.TempDir(), "camphub-smoke", sc.files.SmokeScript, 0o755)
	h.kernelProbe = writeFile(t, t.TempDir(), "camphub_kernel_probe.py", sc.files.KernelProbe, 0o644)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(h.logPath)
			t.Logf("--- hub log:\n%s", b)
		}
	})
	h.start("")
	return h
}

// start (re)starts the hub container with the rehearsal's override plus extra Python, and
// waits until the hub answers behind the proxy.
func (h *swarmHub) start(extra string) {
	h.t.Helper()
	writeFile(h.t, h.hubDir, "rehearsal_config.py",
		fmt.Sprintf(swarmHubOverride, provision.Layout.HubDir+"/jupyterhub_config.py", provision.Layout.HubDir, h.module)+extra, 0o644)
	h.sc.manager.docker(h.t, "rm", "-f", provision.Layout.HubContainer)
	// As camphub-hub.service starts it: made on the overlay network, joined to the hub and
	// proxy's own network (where alone the proxy's API listens), started.
	h.sc.manager.docker(h.t, h.run...)
	h.sc.manager.docker(h.t, "network", "connect", provision.Layout.ProxyAPINetwork, provision.Layout.HubContainer)
	h.sc.manager.docker(h.t, "start", provision.Layout.HubContainer)
	waitFor(h.t, "the real hub behind the proxy", 2*time.Minute, func() bool {
		_, err := h.sc.manager.inNS(h.t, 10*time.Second, "curl", "-fsS", "--max-time", "5", "--cacert", h.certPath, "--resolve", h.resolve,
			fmt.Sprintf("https://%s:%d/hub/api/", h.sc.dns, h.sc.port))
		return err == nil
	})
}

// importNotebook puts the notebook image on the worker: the rehearsal image as docker-stacks'
// images run, as jovyan in /home/jovyan.
func (h *swarmHub) importNotebook() {
	importTrixie(h.t, h.sc.worker, notebookImage, "USER 1000:100", "ENV HOME=/home/jovyan", "WORKDIR /home/jovyan")
}

// smoke runs camphub-smoke with n probes (1 unless given) and, optionally, the seats.
func (h *swarmHub) smoke(nSeats ...string) (string, error) {
	h.t.Helper()
	n := "1"
	env := []string{
		"CAMPHUB_RESOLVE=" + h.resolve, "CAMPHUB_CACERT=" + h.certPath, "CAMPHUB_TOKEN_FILE=" + h.tokenFile,
		"CAMPHUB_HOMES=" + filepath.Join(h.sc.export, "home"), "CAMPHUB_HUB_LOG=" + h.logPath, "CAMPHUB_START_TIMEOUT=120",
		"DOCKER_HOST=" + h.sc.manager.host, "CAMPHUB_KERNEL_PROBE=" + h.kernelProbe,
		"CAMPHUB_QUOTA_MIB=", // no ext4 quotas in this kernel (hubHost.smokeEnv)
	}
	if len(nSeats) == 2 {
		n = nSeats[0]
		env = append(env, "CAMPHUB_SEATS="+nSeats[1])
	}
	return run(h.t, 5*time.Minute, "", env, need(h.t, "nsenter"), "--net=/var/run/netns/"+h.sc.manager.ns, "bash", h.script, n)
}

// TestSmokeStepOnTheSwarm runs the rendered camphub-smoke against the real hub (the rehearsal
// image's JupyterHub 5 in a container on the overlay network, the proxy container in front of
// it) spawning on the two-engine swarm, the notebook image being the rehearsal image with the
// real jupyterhub-singleuser, JupyterLab and ipykernel, run as 1000:100 by its start-notebook.py
// under tini: it passes on a working spawn path (file written through the contents API, read
// back on the NFS side and by code in a kernel through the proxy's websocket, the kernel then
// reaching none of the hub's SSH and swarm ports through the worker's firewall); it fails naming
// the kernel stage when the image has no kernel, and naming the cause from the hub's own log
// when the notebook image is missing on the worker and when the worker cannot mount the homes.
// A class larger than the seats is reported as "class full".
func TestSmokeStepOnTheSwarm(t *testing.T) {
	sc := newSpawnCluster(t)
	h := newSwarmHub(t, sc)
	h.importNotebook()

	// The worker's firewall as the worker step applies it: the kernel probe's firewall stage must
	// then find none of the hub's SSH and swarm ports (that it names them when they answer is
	// shown against real sockets in pytest test_kernel_probe.py).
	rules, err := provision.FirewallRules(mustFirewall(t))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := sc.worker.inNS(t, time.Minute, "bash", writeFile(t, t.TempDir(), "camphub-firewall", rules, 0o755)); err != nil {
		t.Fatalf("camphub-firewall: %v\n%s", err, out)
	}
	out, err := h.smoke()
	t.Logf("working spawn path:\n%s", out)
	if err != nil || !strings.Contains(out, "1 of 1 probes started, wrote through the proxy, reached NFS and ran code in a kernel") {
		t.Fatalf("the smoke probe failed on a working spawn path: %v\n%s", err, out)
	}
	if !strings.Contains(out, " ok\n") || !strings.Contains(out, "ready: p50 ") {
		t.Errorf("no report:\n%s", out)
	}

	// The notebook image without a kernel: the server starts and takes the file, the kernel
	// stage fails and says so.
	sc.worker.docker(t, "run", "--name", "strip-kernel", "--user", "0", "--entrypoint", "sh", notebookImage, "-c",
		"rm -rf /usr/lib/python3/dist-packages/ipykernel /usr/lib/python3/dist-packages/ipykernel_launcher.py /usr/share/jupyter/kernels /usr/local/share/jupyter/kernels")
	sc.worker.docker(t, "commit", "-c", "USER 1000:100", "-c", `ENTRYPOINT ["tini", "-g", "--"]`, "-c", "CMD []", "strip-kernel", notebookImage)
	sc.worker.docker(t, "rm", "strip-kernel")
	out, err = h.smoke()
	t.Logf("image without a kernel:\n%s", out)
	if err == nil || !strings.Contains(out, "FAILED running code in a kernel at kernel start") {
		t.Errorf("with no kernel in the image the smoke probe said:\n%v\n%s", err, out)
	}

	// The worker loses the notebook image.
	sc.worker.docker(t, "rmi", "-f", notebookImage)
	out, err = h.smoke()
	t.Logf("image missing on the worker:\n%s", out)
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(strings.ToLower(out), "no such image") {
		t.Errorf("with the image missing on the worker the smoke probe said:\n%v\n%s", err, out)
	}

	// A class one larger than the worker seats (each server reserves 60 % of the machine's
	// memory, so the worker seats one): the dress rehearsal of two reports one ok and one
	// "class full", within seconds, apart from other failures.
	h.importNotebook()
	seat := fmt.Sprintf("%dM", memTotalKiB(t)*6/10/1024)
	h.start(fmt.Sprintf("c.SwarmSpawner.mem_limit = c.SwarmSpawner.mem_guarantee = %q\n", seat))
	out, err = h.smoke("2", "1")
	t.Logf("a class of two on one seat:\n%s", out)
	if err == nil || strings.Count(out, " ok\n") != 1 || !strings.Contains(out, provision.Layout.ClassFull) ||
		!strings.Contains(out, "class full: 1 of 2 probes got no seat") {
		t.Errorf("with one seat for two probes the dress rehearsal said:\n%v\n%s", err, out)
	}

	// The worker's home folders cannot be mounted (its NFS mount is gone).
	dockerd := fmt.Sprint(sc.worker.proc.cmd.Process.Pid)
	if out, err := run(t, 10*time.Second, "", nil, need(t, "nsenter"), "-t", dockerd, "-m", "umount", "-l", provision.Layout.MountRoot+"/home"); err != nil {
		t.Fatalf("unmounting the worker's homes: %v\n%s", err, out)
	}
	out, err = h.smoke()
	t.Logf("homes not mounted on the worker:\n%s", out)
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, "bind source path does not exist") {
		t.Errorf("with the worker's homes not mounted the smoke probe said:\n%v\n%s", err, out)
	}
	if users, _ := sc.manager.inNS(t, 10*time.Second, "ls", filepath.Join(sc.export, "home")); strings.Contains(users, "camphub-2dprobe") {
		t.Errorf("probe folders left behind: %s", users)
	}
}
