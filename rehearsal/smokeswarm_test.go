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

// notebookServer stands in for jupyterhub-singleuser in the swarm smoke rehearsal, under the
// name of docker-stacks' start script: it answers every GET (JupyterHub's readiness check) and
// writes the "content" of a PUT .../api/contents/FILE into $HOME/FILE, as the contents API does.
// busybox only: the image is busybox, as the spawn rehearsal's. What it hides: Jupyter Server's
// contents API (paths, checkpoints, JSON models) and its token check; the probe uses only the
// documented PUT of a text file, and the real server is first met by the smoke step of a real
// `pulumi up`.
const notebookServer = `#!/bin/sh
exec nc -ll -p 8888 -e /usr/local/bin/notebook-request
`

const notebookRequest = `#!/bin/sh
read -r method path _
length=0
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  case $line in
    [Cc]ontent-[Ll]ength:*) length=$(printf '%s' "${line#*:}" | tr -d ' ') ;;
  esac
done
if [ "$method" = PUT ]; then
  body=$(head -c "$length")
  content=$(printf '%s' "$body" | sed -n 's/.*"content": *"\([^"]*\)".*/\1/p')
  printf '%s' "$content" >"$HOME/${path##*/}"
  printf 'HTTP/1.0 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'
else
  printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n'
fi
`

// swarmHubOverride runs the rendered configuration in the real JupyterHub (Debian's, in a
// container on the overlay network under its real name), with two replacements, each a
// stand-in for what cannot be installed here:
//   - DummyAuthenticator for Google (login is not what the smoke probe exercises);
//   - RehearsalSwarmSpawner for dockerspawner's SwarmSpawner + camphub's CampSwarmSpawner: it
//     makes the notebook service as SwarmSpawner 14.0.0's create_object does (hubconfig.py,
//     with the config's own traits and pre_spawn_hook run by JupyterHub itself), waits as
//     camphub_spawner.py does (its own first_failure), and the hub then reaches the server by
//     the service's name over the overlay. What it hides: dockerspawner's own code (state,
//     object ids, poll details); the facts it relies on are cited in hubconfig.py.
const swarmHubOverride = `c = get_config()  # noqa: F821
load_subconfig(%[1]q)  # noqa: F821
import asyncio, sys
sys.path.insert(0, %[2]q)
import docker, hubconfig
from jupyterhub.spawner import Spawner
from traitlets import Unicode, default

first_failure = hubconfig.spawner_module(%[3]q).first_failure
escape = c.SwarmSpawner.escape


class RehearsalSwarmSpawner(Spawner):
    volumes = {}
    service = Unicode("")

    @default("env_keep")
    def _env_keep_default(self):
        # as DockerSpawner: no environment of the hub's own (dockerspawner.py 983-985)
        return []

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
            raise RuntimeError("Your server could not start on the cluster: %%s. Tell your teacher." %% res["error"])
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
c.Spawner.http_timeout = 20
`

// TestSmokeStepOnTheSwarm runs the rendered camphub-smoke against the real hub (in a container
// on the overlay network, the proxy container in front of it) spawning on the two-engine swarm:
// it passes on a working spawn path, and fails, naming the cause from the hub's own log, when the
// notebook image is missing on the worker and when the worker cannot mount the home folders.
func TestSmokeStepOnTheSwarm(t *testing.T) {
	sc := newSpawnCluster(t)
	// The hub stand-in of the spawn fixture makes way for the real hub.
	sc.manager.docker(t, "rm", "-f", provision.HubContainer)

	hubDir := exportDir(t)
	writeFile(t, hubDir, "hubconfig.py", string(testtool.HubConfigHelper()), 0o644)
	writeFile(t, hubDir, "jupyterhub_config.py", sc.files.JupyterHubConfig, 0o644)
	writeFile(t, hubDir, "camphub_roster.py", sc.files.RosterService, 0o644)
	module := writeFile(t, hubDir, "camphub_spawner.py", sc.files.SpawnerModule, 0o644)
	smokeToken := randomHex(t)
	tokenFile := writeFile(t, t.TempDir(), "smoke.env", "CAMPHUB_SMOKE_TOKEN="+smokeToken+"\n", 0o600)
	containerModule := provision.HubDir + "/" + filepath.Base(module)
	writeFile(t, hubDir, "rehearsal_config.py",
		fmt.Sprintf(swarmHubOverride, provision.HubDir+"/jupyterhub_config.py", provision.HubDir, containerModule), 0o644)
	logPath := filepath.Join(hubDir, "hub.log")
	writeFile(t, hubDir, "hub.log", "", 0o644)

	managerSock := strings.TrimPrefix(sc.manager.host, "unix://")
	sc.manager.docker(t, "run", "-d", "--name", provision.HubContainer, "--network", provision.NetworkName,
		"--env", "OAUTH_CLIENT_ID=123456789012-rehearsal.apps.googleusercontent.com", "--env", "OAUTH_CLIENT_SECRET="+randomHex(t),
		"--env", "CONFIGPROXY_AUTH_TOKEN="+sc.token, "--env", "CAMPHUB_SMOKE_TOKEN="+smokeToken,
		"--volume", "/usr:/usr:ro", "--volume", managerSock+":/var/run/docker.sock",
		"--volume", hubDir+":"+provision.HubDir, "--volume", filepath.Join(sc.export, "home")+":"+provision.MountRoot+"/home",
		"--workdir", provision.HubDir, "camphub-rehearsal/base:1",
		"sh", "-c", "exec /usr/bin/python3 /usr/bin/jupyterhub -f "+provision.HubDir+"/rehearsal_config.py >>"+provision.HubDir+"/hub.log 2>&1")

	// The notebook image on the worker, now with a server that takes the probe's write.
	nbRoot := busyboxRoot(t, map[string]string{"usr/local/bin/start-notebook.py": notebookServer, "usr/local/bin/notebook-request": notebookRequest})
	importNotebook := func() {
		importImage(t, sc.worker, nbRoot, notebookImage,
			"USER 1000:100", "ENV HOME=/home/jovyan", "ENV PATH=/usr/local/bin:/bin", "WORKDIR /home/jovyan")
	}
	importNotebook()

	certPath := writeFile(t, t.TempDir(), "hub.crt", sc.certPEM, 0o644)
	resolve := fmt.Sprintf("%s:%d:%s", sc.dns, sc.port, hubAddr)
	waitFor(t, "the real hub behind the proxy", 2*time.Minute, func() bool {
		_, err := sc.manager.inNS(t, 10*time.Second, "curl", "-fsS", "--max-time", "5", "--cacert", certPath, "--resolve", resolve,
			fmt.Sprintf("https://%s:%d/hub/api/", sc.dns, sc.port))
		return err == nil
	})
	script := writeFile(t, t.TempDir(), "camphub-smoke", sc.files.SmokeScript, 0o755)
	smoke := func() (string, error) {
		t.Helper()
		return run(t, 5*time.Minute, "", []string{
			"CAMPHUB_RESOLVE=" + resolve, "CAMPHUB_CACERT=" + certPath, "CAMPHUB_TOKEN_FILE=" + tokenFile,
			"CAMPHUB_HOMES=" + filepath.Join(sc.export, "home"), "CAMPHUB_HUB_LOG=" + logPath, "CAMPHUB_START_TIMEOUT=120",
			"DOCKER_HOST=" + sc.manager.host,
		}, need(t, "nsenter"), "--net=/var/run/netns/"+sc.manager.ns, "bash", script, "1")
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- hub log:\n%s", b)
		}
	})

	out, err := smoke()
	t.Logf("working spawn path:\n%s", out)
	if err != nil || !strings.Contains(out, "1 of 1 probes started, wrote through the proxy and reached NFS") {
		t.Fatalf("the smoke probe failed on a working spawn path: %v\n%s", err, out)
	}
	if !strings.Contains(out, " ok\n") || !strings.Contains(out, "ready: p50 ") {
		t.Errorf("no report:\n%s", out)
	}

	// The worker loses the notebook image.
	sc.worker.docker(t, "rmi", "-f", notebookImage)
	out, err = smoke()
	t.Logf("image missing on the worker:\n%s", out)
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(strings.ToLower(out), "no such image") {
		t.Errorf("with the image missing on the worker the smoke probe said:\n%v\n%s", err, out)
	}

	// The worker's home folders cannot be mounted (its NFS mount is gone).
	importNotebook()
	dockerd := fmt.Sprint(sc.worker.proc.cmd.Process.Pid)
	if out, err := run(t, 10*time.Second, "", nil, need(t, "nsenter"), "-t", dockerd, "-m", "umount", "-l", provision.MountRoot+"/home"); err != nil {
		t.Fatalf("unmounting the worker's homes: %v\n%s", err, out)
	}
	out, err = smoke()
	t.Logf("homes not mounted on the worker:\n%s", out)
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, "bind source path does not exist") {
		t.Errorf("with the worker's homes not mounted the smoke probe said:\n%v\n%s", err, out)
	}
	if users, _ := sc.manager.inNS(t, 10*time.Second, "ls", filepath.Join(sc.export, "home")); strings.Contains(users, "camphub-2dprobe") {
		t.Errorf("probe folders left behind: %s", users)
	}
}
