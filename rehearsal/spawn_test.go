package rehearsal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/camphub/camphub/internal/testtool"
	"github.com/camphub/camphub/provision"
)

// notebookImage is the rehearsal's notebook image: imported on the worker only, as on AWS the
// image is pulled on the workers only (the manager never holds it).
const notebookImage = "camphub-rehearsal/notebook:1"

// startNotebook stands in for docker-stacks' start-notebook.py, under the same name, so the
// configured command is what runs. Like jupyterhub-singleuser it talks to the hub API by the
// URL JupyterHub hands it and serves the user's prefix on port 8888; unlike it, it writes a
// proof file into $HOME (its home folder, the NFS export) and serves that file.
const startNotebook = `#!/bin/sh
set -eu
hub=unreachable
for _ in $(seq 1 30); do
  # (busybox 1.35 wget crashes with -T: the time limit comes from timeout)
  if timeout 5 wget -q -O /tmp/hub-api.json "$JUPYTERHUB_API_URL/" 2>/tmp/wget.err; then
    hub=$(cat /tmp/hub-api.json)
    break
  fi
  hub="unreachable: $(cat /tmp/wget.err)"
  sleep 1
done
printf 'uid=%s gid=%s hub=%s\n' "$(id -u)" "$(id -g)" "$hub" >"$HOME/rehearsal-proof.txt"
www=/tmp/www$JUPYTERHUB_SERVICE_PREFIX
mkdir -p "$www"
cp "$HOME/rehearsal-proof.txt" "$www/index.html"
exec httpd -f -p 8888 -h /tmp/www
`

// hubAPIStandIn is what the hub container answers at /hub/api/ in this test. The real hub's API
// behind the real proxy is rehearsed in hub_test.go; here the hub container proves its place on
// the overlay network under its real name.
const hubAPIStandIn = `{"version": "rehearsal-hub-container"}`

// spawnResult is what hubconfig.py's spawn reports.
type spawnResult struct {
	Service, Escaped, State, Error, Node string
	Mounts                               []struct {
		Source, Target string
		ReadOnly       bool `json:"read_only"`
	}
	Args []string
}

// TestSpawnPathAcrossTwoEngines rehearses a student's server start on a real two-node swarm,
// each engine in its own network namespace with Docker's iptables on:
//   - the hub container ("jupyterhub") and the proxy container ("jupyterhub-proxy", the real
//     configurable-http-proxy with camphub-proxy.service's arguments and the TLS certificate)
//     on the manager, on the overlay network made by the rendered step;
//   - the NFS export as a root-squashing file system under the worker's /mnt/camphub, the hub
//     side seeing it without squashing, as the exports say;
//   - the notebook service made from the rendered configuration the way SwarmSpawner 14.0.0
//     makes it (internal/testtool/hubconfig.py: the config's cmd, volumes and its own
//     pre_spawn_hook, resources, placement, network, name), with the image on the worker only.
//
// The service must start on the worker, reach the hub API by name over the overlay, write into
// the student's home (the file lands on the NFS side as 1000:100), and answer through the proxy
// over HTTPS. The same path with today's earlier layout fails: no cmd (the manager has no image
// to inspect) and a 0700 home (root squashed cannot reach the course mount point).
func TestSpawnPathAcrossTwoEngines(t *testing.T) {
	needRoot(t)
	curl := need(t, "curl")
	chpDir := chp(t)

	// The NFS server's data root: home/ and course/ as nfs-setup leaves them.
	export := exportDir(t)
	for dir, owner := range map[string]int{"home": 0, "course": provision.StudentUID} {
		p := filepath.Join(export, dir)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, owner, map[int]int{0: 0, provision.StudentUID: provision.StudentGID}[owner]); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(export, "course"), "welcome.txt", "day one\n", 0o644)
	squashed := exportDir(t)
	mountSquashed(t, export, squashed)
	workerMounts := strings.Join([]string{
		"mount -t tmpfs camphub-rehearsal /mnt",
		"mkdir -p " + provision.MountRoot + "/home " + provision.MountRoot + "/course",
		"mount --bind " + squashed + "/home " + provision.MountRoot + "/home",
		"mount --bind " + squashed + "/course " + provision.MountRoot + "/course",
	}, "\n")
	c := newCluster(t, workerMounts)

	// Images: the notebook on the worker only; a base for the hub and proxy containers on the
	// manager (the proxy borrows the machine's node and configurable-http-proxy read-only).
	nbRoot := busyboxRoot(t, map[string]string{"usr/local/bin/start-notebook.py": startNotebook})
	importImage(t, c.worker, nbRoot, notebookImage,
		"USER 1000:100", "ENV HOME=/home/jovyan", "ENV PATH=/usr/local/bin:/bin", "WORKDIR /home/jovyan")
	baseRoot := busyboxRoot(t, map[string]string{"srv/www/hub/api/index.html": hubAPIStandIn})
	importImage(t, c.manager, baseRoot, "camphub-rehearsal/base:1", "ENV PATH=/bin")

	// The hub container, under its real name on the overlay network.
	c.manager.docker(t, "run", "-d", "--name", provision.HubContainer, "--network", provision.NetworkName,
		"camphub-rehearsal/base:1", "httpd", "-f", "-p", fmt.Sprint(provision.HubAPIPort), "-h", "/srv/www")

	// The proxy container, as camphub-proxy.service runs it: published hub port, the key owned by
	// nobody, its API token from the environment, and the same arguments.
	const dns, port = "ec2-203-0-113-10.us-west-2.compute.amazonaws.com", 8443
	certPEM, keyPEM := selfSignedCert(t, dns, hubAddr)
	proxyDir := exportDir(t)
	writeFile(t, proxyDir, "hub.crt", certPEM, 0o444)
	writeFile(t, proxyDir, "hub.key", keyPEM, 0o400)
	for _, f := range []string{"hub.crt", "hub.key"} {
		if err := os.Chown(filepath.Join(proxyDir, f), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	token := randomHex(t)
	chpBin, err := filepath.EvalSymlinks(filepath.Join(chpDir, "configurable-http-proxy"))
	if err != nil {
		t.Fatal(err)
	}
	chpRoot := filepath.Dir(chpDir) // node_modules, with the proxy's dependencies
	proxyArgs := []string{"run", "-d", "--name", provision.ProxyContainer, "--network", provision.NetworkName,
		"--publish", fmt.Sprintf("%d:%d", port, port), "--user", "65534:65534",
		"--env", "CONFIGPROXY_AUTH_TOKEN=" + token,
		"--volume", proxyDir + ":" + provision.ProxyDir + ":ro",
		"--volume", "/usr:/usr:ro", "--volume", chpRoot + ":" + chpRoot + ":ro",
		"--entrypoint", "/usr/bin/node", "camphub-rehearsal/base:1", chpBin}
	c.manager.docker(t, append(proxyArgs, provision.ProxyArgs(port)...)...)

	// The hub prepares the student's home on its own (not squashed) view of the export.
	files, err := provision.RenderHub(provision.Hub{
		Stack: "rehearsal", Port: port, PublicDNS: dns, ClientID: "123456789012-rehearsal.apps.googleusercontent.com",
		NotebookImage: notebookImage, MemLimit: "256M", MemGuarantee: "64M", CPULimit: 0.5, CPUGuarantee: 0.1,
		IdleTimeoutMinutes: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	managerAPI := c.manager.host
	spawnerModule := writeFile(t, t.TempDir(), "camphub_spawner.py", files.SpawnerModule, 0o644)
	spawn := func(config, user string, admin bool) spawnResult {
		t.Helper()
		var home struct{ Home string }
		testtool.HubConfig(t, config, map[string]any{"op": "make_home", "homes": filepath.Join(export, "home"), "user": user}, &home)
		var res spawnResult
		testtool.HubConfig(t, config, map[string]any{"op": "spec", "user": user, "admin": admin, "docker": managerAPI, "spawner_module": spawnerModule, "timeout": 90}, &res)
		return res
	}

	const user = "maria.fernandez-garcia@students.lincoln-high.org"
	res := spawn(files.JupyterHubConfig, user, false)
	if res.State != "running" {
		t.Fatalf("the notebook service %s did not start: state %q, error %q", res.Service, res.State, res.Error)
	}
	if res.Node != workerAddr {
		t.Errorf("the notebook runs on %q, want the worker %s", res.Node, workerAddr)
	}
	if len(res.Service) > 63 {
		t.Errorf("service name %q is longer than a DNS label", res.Service)
	}
	proof := filepath.Join(export, "home", res.Escaped, "rehearsal-proof.txt")
	waitFor(t, "the notebook's file on the NFS side", time.Minute, func() bool {
		_, err := os.Stat(proof)
		return err == nil
	})
	b, _ := os.ReadFile(proof)
	want := "uid=1000 gid=100 hub=" + hubAPIStandIn + "\n"
	if string(b) != want {
		t.Errorf("the notebook wrote %q, want %q (the hub API reached by name over the overlay)", b, want)
	}
	if st, err := os.Stat(proof); err == nil {
		if s := st.Sys().(*syscall.Stat_t); s.Uid != provision.StudentUID || s.Gid != provision.StudentGID {
			t.Errorf("the notebook's file is %d:%d on the NFS side, want %d:%d", s.Uid, s.Gid, provision.StudentUID, provision.StudentGID)
		}
	}
	// The course folder is in the container, read-only for a student.
	for _, m := range res.Mounts {
		if m.Target == "/home/jovyan/course" && !m.ReadOnly {
			t.Error("a student's course folder is mounted read-write")
		}
	}

	// The hub adds the route (as JupyterHub's proxy.add_user does, from the hub container to the
	// proxy's API by name), then a browser's request goes proxy -> overlay -> notebook.
	route := fmt.Sprintf(`{"target": "http://%s:8888", "user": %q}`, res.Service, user)
	c.manager.docker(t, "exec", provision.HubContainer, "wget", "-q", "-O", "/dev/null",
		"--header", "Authorization: token "+token, "--header", "Content-Type: application/json",
		"--post-data", route, fmt.Sprintf("http://%s:%d/api/routes/user/%s/", provision.ProxyContainer, provision.ProxyAPIPort, user))
	certPath := writeFile(t, t.TempDir(), "hub.crt", certPEM, 0o644)
	var page string
	waitFor(t, "the notebook through the proxy over HTTPS", time.Minute, func() bool {
		page, err = c.manager.inNS(t, 15*time.Second, curl, "-fsS", "--max-time", "5", "--cacert", certPath,
			"--resolve", fmt.Sprintf("%s:%d:%s", dns, port, hubAddr), fmt.Sprintf("https://%s:%d/user/%s/", dns, port, user))
		return err == nil
	})
	if page != want {
		t.Errorf("through the proxy the notebook answered %q, want %q", page, want)
	}

	// Today's earlier layout, on the same cluster: the same path fails, naming the cause.
	noCmd := strings.Replace(files.JupyterHubConfig, "c.SwarmSpawner.cmd = ", "_unused_cmd = ", 1)
	if r := spawn(noCmd, "grace@example.net", false); !strings.Contains(r.Error, "get_command") || !strings.Contains(strings.ToLower(r.Error), "no such image") {
		t.Errorf("without cmd the spawn got %+v; want get_command to fail on the manager's missing image", r)
	}
	tight := strings.Replace(files.JupyterHubConfig, "os.chmod(home, 0o711)", "os.chmod(home, 0o700)", 1)
	if tight == files.JupyterHubConfig {
		t.Fatal("the rendered config no longer sets homes 0711; update this test's earlier-layout check")
	}
	began := time.Now()
	if r := spawn(tight, "alan@example.com", false); r.State == "running" || !strings.Contains(r.Error, "permission denied") {
		t.Errorf("with a 0700 home the spawn got state %q error %q; want the course mount refused (permission denied)", r.State, r.Error)
	}
	// camphub's spawner gives up at the first rejected task, not at start_timeout.
	if d := time.Since(began); d > time.Minute {
		t.Errorf("the refused start took %v to fail; want under a minute", d)
	}
}
