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
// What it hides: the real image (its size and pull, tini and start.sh, Jupyter Server itself);
// the image name, command and mounts are the rendered configuration's, and the real image's
// server is first met by the smoke step at the end of a real `pulumi up`.
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
//     on the manager, on the overlay network made by the rendered step and on their own bridge
//     network, where alone the proxy's API listens (as the units make them);
//   - the NFS export as a root-squashing file system under the worker's /mnt/camphub, the hub
//     side seeing it without squashing, as the exports say;
//   - the notebook service made from the rendered configuration the way SwarmSpawner 14.0.0
//     makes it (internal/testtool/hubconfig.py: the config's cmd, volumes and its own
//     pre_spawn_hook, resources, placement, network, name), with the image on the worker only.
//
// The service must start on the worker, reach the hub API by name over the overlay, write into
// the student's home (the file lands on the NFS side as 1000:100), and answer through the proxy
// over HTTPS; from a notebook container the proxy's API answers by no name. The same path with
// today's earlier layout fails: no cmd (the manager has no image
// to inspect) and a 0700 home (root squashed cannot reach the course mount point).
// spawnCluster is the rehearsal's cluster for the spawn path: a manager with the hub and proxy
// containers, a worker whose /mnt/camphub shows the "NFS" export root-squashed, the notebook
// image on the worker only, and the rendered hub configuration.
type spawnCluster struct {
	*cluster
	export  string // the NFS server's data root (the hub's view: not squashed)
	files   provision.HubFiles
	dns     string
	port    int
	token   string // the proxy's API token
	certPEM string
	module  string // camphub_spawner.py
}

// nfsStandIn is the NFS server's data root (home/ and course/ as nfs-setup leaves them) and the
// worker engine's mount setup: the worker's fstab names the two exports (bind mounts of a
// root-squashed view stand in for nfs4 entries), and the rendered camphub-wait-nfs mounts them
// before the engine starts, as docker.service's ExecStartPre does at every boot.
func nfsStandIn(t *testing.T) (export, workerMounts string) {
	t.Helper()
	export = exportDir(t)
	for dir, owner := range map[string]int{"home": 0, "course": provision.Layout.StudentUID} {
		p := filepath.Join(export, dir)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, owner, map[int]int{0: 0, provision.Layout.StudentUID: provision.Layout.StudentGID}[owner]); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(export, "course"), "welcome.txt", "day one\n", 0o644)
	squashed := exportDir(t)
	mountSquashed(t, export, squashed)
	wait, err := provision.NfsWaitScript()
	if err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	waitPath := writeFile(t, scratch, "camphub-wait-nfs", wait, 0o755)
	fstab := writeFile(t, scratch, "fstab", fmt.Sprintf("%s/home %s/home none bind 0 0\n%s/course %s/course none bind 0 0\n",
		squashed, provision.Layout.MountRoot, squashed, provision.Layout.MountRoot), 0o644)
	workerMounts = strings.Join([]string{
		"mount -t tmpfs camphub-rehearsal /mnt",
		"mkdir -p " + provision.Layout.MountRoot + "/home " + provision.Layout.MountRoot + "/course",
		"mount --bind " + fstab + " /etc/fstab",
		"bash " + waitPath,
	}, "\n")
	return export, workerMounts
}

func newSpawnCluster(t *testing.T) *spawnCluster {
	t.Helper()
	needRoot(t)
	chpDir := chp(t)

	export, workerMounts := nfsStandIn(t)
	c := newCluster(t, workerMounts)

	// Images: the notebook on the worker only; a base for the hub and proxy containers on the
	// manager (the proxy borrows the machine's node and configurable-http-proxy read-only).
	nbRoot := busyboxRoot(t, map[string]string{"usr/local/bin/start-notebook.py": startNotebook})
	importImage(t, c.worker, nbRoot, notebookImage,
		"USER 1000:100", "ENV HOME=/home/jovyan", "ENV PATH=/usr/local/bin:/bin", "WORKDIR /home/jovyan")
	baseRoot := busyboxRoot(t, map[string]string{"srv/www/hub/api/index.html": hubAPIStandIn})
	importImage(t, c.manager, baseRoot, "camphub-rehearsal/base:1", "ENV PATH=/bin")

	// The hub and proxy's own network, then the hub container under its real name, as
	// camphub-proxy.service and camphub-hub.service make them: created on the overlay network,
	// joined to their own network, started. Stand-in: these commands mirror the units' by hand
	// (no systemd here); the units' own lines are held by the golden files and
	// TestHubConfigSpawnPath (the API address), and run on AWS by every `pulumi up`, whose smoke
	// step goes through the proxy.
	c.manager.docker(t, "network", "create", "--driver", "bridge", provision.Layout.ProxyAPINetwork)
	c.manager.docker(t, "create", "--name", provision.Layout.HubContainer, "--network", provision.Layout.NetworkName,
		"camphub-rehearsal/base:1", "httpd", "-f", "-p", fmt.Sprint(provision.HubAPIPort), "-h", "/srv/www")
	c.manager.docker(t, "network", "connect", provision.Layout.ProxyAPINetwork, provision.Layout.HubContainer)
	c.manager.docker(t, "start", provision.Layout.HubContainer)

	// The proxy container, as camphub-proxy.service runs it: published hub port, the key owned by
	// nobody, its API token from the environment, and the same arguments.
	sc := &spawnCluster{cluster: c, export: export, dns: "ec2-203-0-113-10.us-west-2.compute.amazonaws.com", port: 8443, token: randomHex(t)}
	certPEM, keyPEM := selfSignedCert(t, sc.dns, hubAddr)
	sc.certPEM = certPEM
	proxyDir := exportDir(t)
	writeFile(t, proxyDir, "hub.crt", certPEM, 0o444)
	writeFile(t, proxyDir, "hub.key", keyPEM, 0o400)
	for _, f := range []string{"hub.crt", "hub.key"} {
		if err := os.Chown(filepath.Join(proxyDir, f), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	chpBin, err := filepath.EvalSymlinks(filepath.Join(chpDir, "configurable-http-proxy"))
	if err != nil {
		t.Fatal(err)
	}
	chpRoot := filepath.Dir(chpDir) // node_modules, with the proxy's dependencies
	proxyArgs := []string{"create", "--name", provision.Layout.ProxyContainer, "--network", provision.Layout.NetworkName,
		"--publish", fmt.Sprintf("%d:%d", sc.port, sc.port), "--user", "65534:65534",
		"--env", "CONFIGPROXY_AUTH_TOKEN=" + sc.token,
		"--volume", proxyDir + ":" + provision.Layout.ProxyDir + ":ro",
		"--volume", "/usr:/usr:ro", "--volume", chpRoot + ":" + chpRoot + ":ro",
		"--entrypoint", "/usr/bin/node", "camphub-rehearsal/base:1", chpBin}
	c.manager.docker(t, append(proxyArgs, provision.ProxyArgs(sc.port)...)...)
	c.manager.docker(t, "network", "connect", "--alias", provision.Layout.ProxyAPIHost, provision.Layout.ProxyAPINetwork, provision.Layout.ProxyContainer)
	c.manager.docker(t, "start", provision.Layout.ProxyContainer)

	sc.files, err = provision.RenderHub(provision.Hub{
		Stack: "rehearsal", Port: sc.port, PublicDNS: sc.dns, ClientID: "123456789012-rehearsal.apps.googleusercontent.com",
		NotebookImage: notebookImage, MemLimit: "768M", MemGuarantee: "64M", CPULimit: 0.5, CPUGuarantee: 0.1,
		IdleTimeoutMinutes: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	sc.module = writeFile(t, t.TempDir(), "camphub_spawner.py", sc.files.SpawnerModule, 0o644)
	return sc
}

// spawn prepares the user's home on the hub's (not squashed) view of the export, as the
// config's pre_spawn_hook does, then starts the user's notebook service as SwarmSpawner does.
func (sc *spawnCluster) spawn(t *testing.T, config map[string]string, user string, admin bool) spawnResult {
	t.Helper()
	var home struct{ Home string }
	testtool.HubConfig(t, config, map[string]any{"op": "make_home", "homes": filepath.Join(sc.export, "home"), "user": user}, &home)
	var res spawnResult
	testtool.HubConfig(t, config, map[string]any{"op": "spec", "user": user, "admin": admin, "docker": sc.manager.host, "spawner_module": sc.module, "timeout": 90}, &res)
	return res
}

// proof waits for the file a notebook writes into its home and returns it, as the NFS side has it.
func (sc *spawnCluster) proof(t *testing.T, escaped string) (string, *syscall.Stat_t) {
	t.Helper()
	path := filepath.Join(sc.export, "home", escaped, "rehearsal-proof.txt")
	waitFor(t, "the notebook's file on the NFS side", time.Minute, func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	b, _ := os.ReadFile(path)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), st.Sys().(*syscall.Stat_t)
}

func TestSpawnPathAcrossTwoEngines(t *testing.T) {
	curl := need(t, "curl")
	sc := newSpawnCluster(t)
	c, files, dns, port, token, certPEM := sc.cluster, sc.files, sc.dns, sc.port, sc.token, sc.certPEM
	spawn := func(config map[string]string, user string, admin bool) spawnResult {
		return sc.spawn(t, config, user, admin)
	}
	var err error

	const user = "maria.fernandez-garcia@students.lincoln-high.org"
	res := spawn(files.HubDirFiles(), user, false)
	if res.State != "running" {
		t.Fatalf("the notebook service %s did not start: state %q, error %q", res.Service, res.State, res.Error)
	}
	if res.Node != workerAddr {
		t.Errorf("the notebook runs on %q, want the worker %s", res.Node, workerAddr)
	}
	if len(res.Service) > 63 {
		t.Errorf("service name %q is longer than a DNS label", res.Service)
	}
	b, st := sc.proof(t, res.Escaped)
	want := "uid=1000 gid=100 hub=" + hubAPIStandIn + "\n"
	if b != want {
		t.Errorf("the notebook wrote %q, want %q (the hub API reached by name over the overlay)", b, want)
	}
	if int(st.Uid) != provision.Layout.StudentUID || int(st.Gid) != provision.Layout.StudentGID {
		t.Errorf("the notebook's file is %d:%d on the NFS side, want %d:%d", st.Uid, st.Gid, provision.Layout.StudentUID, provision.Layout.StudentGID)
	}
	// The course folder is in the container, read-only for a student, writable for a teacher
	// (the config's own pre_spawn_hook decides, from the hub's admin flag).
	courseMount := func(r spawnResult) (found, readOnly bool) {
		for _, m := range r.Mounts {
			if m.Target == "/home/jovyan/course" {
				return true, m.ReadOnly
			}
		}
		return false, false
	}
	if found, ro := courseMount(res); !found || !ro {
		t.Errorf("a student's course folder: mounted %v, read-only %v; want read-only", found, ro)
	}
	if teacher := spawn(files.HubDirFiles(), "teacher@example.org", true); teacher.State != "running" {
		t.Errorf("a teacher's server did not start: %+v", teacher)
	} else if found, ro := courseMount(teacher); !found || ro {
		t.Errorf("a teacher's course folder: mounted %v, read-only %v; want writable", found, ro)
	}

	// The hub adds the route (as JupyterHub's proxy.add_user does, from the hub container to the
	// proxy's API by name), then a browser's request goes proxy -> overlay -> notebook.
	route := fmt.Sprintf(`{"target": "http://%s:8888", "user": %q}`, res.Service, user)
	c.manager.docker(t, "exec", provision.Layout.HubContainer, "wget", "-q", "-O", "/dev/null",
		"--header", "Authorization: token "+token, "--header", "Content-Type: application/json",
		"--post-data", route, fmt.Sprintf("http://%s:%d/api/routes/user/%s/", provision.Layout.ProxyAPIHost, provision.ProxyAPIPort, user))
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
	sc.proxyAPIUnreachable(t)

	// Today's earlier layout, on the same cluster: the same path fails, naming the cause.
	noCmd := changed(t, files.HubDirFiles(), "jupyterhub_config.py", "c.SwarmSpawner.cmd = ", "_unused_cmd = ")
	if r := spawn(noCmd, "grace@example.net", false); !strings.Contains(r.Error, "get_command") || !strings.Contains(strings.ToLower(r.Error), "no such image") {
		t.Errorf("without cmd the spawn got %+v; want get_command to fail on the manager's missing image", r)
	}
	tight := changed(t, files.HubDirFiles(), "camphub_hub.py", "os.chmod(home, 0o711)", "os.chmod(home, 0o700)")
	began := time.Now()
	if r := spawn(tight, "alan@example.com", false); r.State == "running" || !strings.Contains(r.Error, "permission denied") {
		t.Errorf("with a 0700 home the spawn got state %q error %q; want the course mount refused (permission denied)", r.State, r.Error)
	}
	// camphub's spawner gives up at the first rejected task, not at start_timeout.
	if d := time.Since(began); d > time.Minute {
		t.Errorf("the refused start took %v to fail; want under a minute", d)
	}
}

// TestWorkerBackAfterClassHours stops the worker's engine and starts it again, as the class
// schedule stops and starts the instance: at start the rendered camphub-wait-nfs mounts the
// exports from fstab before the engine runs (as docker.service's ExecStartPre does), the worker
// rejoins the swarm by itself, keeps its label, and a new student's notebook lands on it and
// writes into its home.
//
// Stand-in: stopping and starting the engine, not the instance. What it hides: a real reboot,
// where systemd orders docker.service after camphub-wait-nfs (the drop-in the worker step writes,
// asserted in TestWorkersStartDockerOnlyWithTheirMounts) and after camphub-firewall.
func TestWorkerBackAfterClassHours(t *testing.T) {
	sc := newSpawnCluster(t)
	first := sc.spawn(t, sc.files.HubDirFiles(), "ada@example.org", false)
	if first.State != "running" {
		t.Fatalf("before the stop: %+v", first)
	}
	// The schedule's stop: the instance (and so Docker and its mounts) goes away.
	sc.worker.stop(t)
	waitFor(t, "the manager to see the worker down", 2*time.Minute, func() bool {
		out, err := run(t, 10*time.Second, "", sc.manager.env(), "docker", "node", "ls", "--filter", "role=worker", "--format", "{{.Status}}")
		return err == nil && strings.TrimSpace(out) == "Down"
	})
	// The schedule's start, the next morning.
	sc.worker.start(t)
	waitFor(t, "the worker back in the swarm", 2*time.Minute, func() bool {
		out, err := run(t, 10*time.Second, "", sc.manager.env(), "docker", "node", "ls", "--filter", "role=worker", "--format", "{{.Status}} {{.Availability}}")
		return err == nil && strings.TrimSpace(out) == "Ready Active"
	})
	id := strings.TrimSpace(sc.manager.docker(t, "node", "ls", "--filter", "role=worker", "-q"))
	if l := sc.manager.docker(t, "node", "inspect", "--format", "{{index .Spec.Labels \""+provision.Layout.WorkerLabel+"\"}}", id); l != "true" {
		t.Errorf("the worker lost its notebooks label: %q", l)
	}
	res := sc.spawn(t, sc.files.HubDirFiles(), "grace@example.net", false)
	if res.State != "running" || res.Node != workerAddr {
		t.Fatalf("after the start, a new notebook: %+v", res)
	}
	if b, st := sc.proof(t, res.Escaped); !strings.HasPrefix(b, "uid=1000 gid=100 hub=") || int(st.Uid) != provision.Layout.StudentUID {
		t.Errorf("after the start the notebook wrote %q as %d into its home", b, st.Uid)
	}
}

// TestClassFullFailsFast fills the worker as a class does: each server reserves 60 % of the
// machine's memory, so the worker seats one. The next start ends within 20 s with the class-full
// message (what a seat needs, the swarm's reason), not after start_timeout; a start that waits
// for room while a seat frees (the first server stops after 3 s) still starts.
// What the stand-in hides: dockerspawner's loop around camphub_spawner.Watch (hubconfig.py
// waits with the same Watch); the poll interval and grace are the module's own.
func TestClassFullFailsFast(t *testing.T) {
	sc := newSpawnCluster(t)
	seat := fmt.Sprintf("%dM", memTotalKiB(t)*6/10/1024)
	files, err := provision.RenderHub(provision.Hub{
		Stack: "rehearsal", Port: sc.port, PublicDNS: sc.dns, ClientID: "123456789012-rehearsal.apps.googleusercontent.com",
		NotebookImage: notebookImage, MemLimit: seat, MemGuarantee: seat, CPULimit: 0.5, CPUGuarantee: 0.1,
		IdleTimeoutMinutes: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	first := sc.spawn(t, files.HubDirFiles(), "ada@example.org", false)
	if first.State != "running" {
		t.Fatalf("the first server of the class did not start: %+v", first)
	}

	started := time.Now()
	full := sc.spawn(t, files.HubDirFiles(), "grace@example.net", false)
	took := time.Since(started)
	t.Logf("the start with no seat left, after %v: %s", took.Round(time.Second), full.Error)
	if full.State == "running" {
		t.Fatalf("a second server started on a worker that seats one: %+v", full)
	}
	if took > 20*time.Second {
		t.Errorf("the start with no seat left took %v to fail; want under 20 s", took.Round(time.Second))
	}
	for _, want := range []string{provision.Layout.ClassFull, "of memory", "Tell your teacher", "insufficient resources"} {
		if !strings.Contains(full.Error, want) {
			t.Errorf("the failure lacks %q: %s", want, full.Error)
		}
	}
	sc.manager.docker(t, "service", "rm", full.Service)

	// A seat frees while the next start waits for it (the first server stops: its service is
	// removed and its container ends at once, as a notebook does on SIGTERM under tini; the
	// stand-in's httpd, PID 1 here, would ignore it for the stop grace): that start goes on.
	done := make(chan spawnResult, 1)
	go func() { done <- sc.spawn(t, files.HubDirFiles(), "lin@example.com", false) }()
	time.Sleep(2 * time.Second)
	sc.manager.docker(t, "service", "rm", first.Service)
	for _, id := range strings.Fields(sc.worker.docker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+first.Service)) {
		sc.worker.docker(t, "kill", id)
	}
	if late := <-done; late.State != "running" {
		t.Errorf("a start that waited for a seat did not start once one freed: %+v", late)
	}
}

// memTotalKiB is this machine's memory, which each Docker engine here reports as its node's.
func memTotalKiB(t *testing.T) int64 {
	t.Helper()
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	var kib int64
	if _, err := fmt.Sscanf(strings.SplitN(string(meminfo), "\n", 2)[0], "MemTotal: %d kB", &kib); err != nil {
		t.Fatalf("MemTotal: %v", err)
	}
	return kib
}

// changed is the hub's files with one replacement in one of them (an earlier layout, a defect);
// the test fails when the text to replace is gone.
func changed(t *testing.T, files map[string]string, name, old, new string) map[string]string {
	t.Helper()
	if !strings.Contains(files[name], old) {
		t.Fatalf("%s no longer holds %q; update this test", name, old)
	}
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	out[name] = strings.Replace(files[name], old, new, 1)
	return out
}

// proxyAPIUnreachable: from a notebook container on the worker, with the proxy's token even, the
// proxy's API answers neither by the proxy's name on the overlay network nor by its API name,
// while the hub's API still does (the hub reached the API above, and the route it added works).
func (sc *spawnCluster) proxyAPIUnreachable(t *testing.T) {
	t.Helper()
	probe := func(name, url string) string {
		return fmt.Sprintf(`if timeout 5 wget -q -O /dev/null --header "Authorization: token %s" %s 2>/dev/null; then echo "%s answers"; else echo "%s silent"; fi
`, sc.token, url, name, name)
	}
	script := probe("proxy-api-by-proxy-name", fmt.Sprintf("http://%s:%d/api/routes", provision.Layout.ProxyContainer, provision.ProxyAPIPort)) +
		probe("proxy-api-by-api-name", fmt.Sprintf("http://%s:%d/api/routes", provision.Layout.ProxyAPIHost, provision.ProxyAPIPort)) +
		probe("hub-api", fmt.Sprintf("http://%s:%d/hub/api/", provision.Layout.HubContainer, provision.HubAPIPort))
	out := sc.worker.docker(t, "run", "--rm", "--network", provision.Layout.NetworkName, "--entrypoint", "sh", notebookImage, "-c", script)
	for _, want := range []string{"proxy-api-by-proxy-name silent", "proxy-api-by-api-name silent", "hub-api answers"} {
		if !strings.Contains(out, want) {
			t.Errorf("from a notebook container: want %q, got:\n%s", want, out)
		}
	}
}

// TestNoWorkerReadyFailsFast stops the worker's engine, as the class schedule stops the worker
// before class, and starts a student's server: the start ends within 10 s, naming the class
// hours and when notebooks can start, instead of waiting start_timeout for a generic timeout.
//
// Stand-in: the engine stopped, not the instance; the swarm sees the node down the same way
// (no heartbeat). The spawner's loop is the stand-in's (internal/testtool/hubconfig.py), with
// camphub_spawner's own Watch and ready(), as CampSwarmSpawner.start_object calls them.
func TestNoWorkerReadyFailsFast(t *testing.T) {
	sc := newSpawnCluster(t)
	files, err := provision.RenderHub(provision.Hub{
		Stack: "rehearsal", Port: sc.port, PublicDNS: sc.dns, ClientID: "123456789012-rehearsal.apps.googleusercontent.com",
		NotebookImage: notebookImage, MemLimit: "768M", MemGuarantee: "64M", CPULimit: 0.5, CPUGuarantee: 0.1,
		IdleTimeoutMinutes: 30, ClassHours: "MON-FRI 08:30-16:30 (America/Denver)", WorkersFrom: "08:10",
	})
	if err != nil {
		t.Fatal(err)
	}
	sc.worker.stop(t)
	waitFor(t, "the manager to see the worker down", 2*time.Minute, func() bool {
		out, err := run(t, 10*time.Second, "", sc.manager.env(), "docker", "node", "ls", "--filter", "role=worker", "--format", "{{.Status}}")
		return err == nil && strings.TrimSpace(out) == "Down"
	})
	started := time.Now()
	res := sc.spawn(t, files.HubDirFiles(), "early.bird@example.org", false)
	took := time.Since(started)
	t.Logf("a start before class, after %v: %s", took.Round(time.Second), res.Error)
	if res.State == "running" {
		t.Fatalf("a server started with the worker stopped: %+v", res)
	}
	if took > 10*time.Second {
		t.Errorf("the start with no worker took %v to fail; want under 10 s", took.Round(time.Second))
	}
	for _, want := range []string{"No notebook machine is running now", "MON-FRI 08:30-16:30 (America/Denver)", "from 08:10"} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("the failure lacks %q: %s", want, res.Error)
		}
	}
}
