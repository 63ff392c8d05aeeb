package rehearsal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camphub/camphub/internal/testtool"
	"github.com/camphub/camphub/provision"
)

// CHPDir is where .ci/run installs configurable-http-proxy from the npm registry, pinned to the
// version the hub image bundles.
const CHPDir = "/opt/camphub/chp/node_modules/.bin"

const chpVersion = "5.3.0"

// chp returns the directory holding configurable-http-proxy chpVersion.
func chp(t *testing.T) string {
	t.Helper()
	candidates := []string{filepath.Join(CHPDir, "configurable-http-proxy")}
	if p, err := exec.LookPath("configurable-http-proxy"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if out, err := exec.Command(c, "--version").Output(); err == nil && strings.TrimSpace(string(out)) == chpVersion {
			return filepath.Dir(c)
		}
	}
	testtool.Missing(t, fmt.Sprintf("configurable-http-proxy %s is not installed in %s; .ci/run must install it", chpVersion, CHPDir))
	return ""
}

// selfSignedCert makes what the Hub component asks pulumi-tls for: an ECDSA P-256 key and a
// self-signed server certificate for the Elastic IP's DNS name and address.
func selfSignedCert(t *testing.T, dns, ip string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: dns, Organization: []string{"camphub rehearsal"}},
		DNSNames:              []string{dns},
		IPAddresses:           []net.IP{net.ParseIP(ip)},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(13 * 30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// override is the rehearsal's only change to the production configuration, and it lives only
// here. The hub, its services and the single-user servers are the rehearsal image's (Debian
// trixie: JupyterHub 5.2, Jupyter Server 2.15, JupyterLab 4.0, ipykernel 6.29; trixieRoot).
// What each replacement hides, and where that is covered instead:
//   - GoogleOAuthenticator -> DummyAuthenticator: Google login cannot run offline. Who may log
//     in (allow_existing_users: the hub's users) is oauthenticator 17.4's check_allowed and
//     add_user (docs/upstream.md, "Login"); that the roster service makes the hub's users the
//     roster is tested here, against the real hub.
//   - SwarmSpawner -> RehearsalLocalSpawner: JupyterHub's SimpleLocalProcessSpawner running the
//     image's start-notebook.py (so the real jupyterhub-singleuser with JupyterLab and a real
//     ipykernel) as 1000:100 in the student's folder, which the config's own pre_spawn_hook
//     makes (escaped_name is the config's escape, as DockerSpawner's is). What it hides: the
//     container and the swarm; the spawn path on a swarm is rehearsed in spawn_test.go and
//     smokeswarm_test.go (real engines, the config's own traits and hook, docker-py's requests
//     as SwarmSpawner 14.0.0 makes them, the same image as notebook image).
//   - JupyterHub 5.2.1 instead of production's 5.5.1: the checks the roster meets (only an
//     admin may grant or change admin rights, docs/upstream.md R1) and the role
//     loading (app.py init_role_creation, init_role_assignment) read the same at both tags
//     (git diff 5.2.1 5.5.1 changes neither); docs/upstream.md lists what differs.
//   - A "rehearsal" service with an admin token: the test's own hands on the REST API.
const override = `c = get_config()  # noqa: F821
load_subconfig(%[1]q)  # noqa: F821
import os
from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import default

escape = c.SwarmSpawner.escape


class RehearsalLocalSpawner(SimpleLocalProcessSpawner):
    @property
    def escaped_name(self):
        return escape(self.user.name)

    @default("home_dir")
    def _home_dir(self):
        return os.path.join(%[2]q, self.escaped_name)


c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.JupyterHub.spawner_class = RehearsalLocalSpawner
c.Spawner.cmd = ["setpriv", "--reuid=%[3]d", "--regid=%[4]d", "--clear-groups", "--", "sh", "-c", %[5]q, "sh"]
c.Spawner.http_timeout = %[6]s
c.JupyterHub.services.append({"name": "rehearsal", "api_token": %[7]q})
c.JupyterHub.load_roles.append({
    "name": "rehearsal",
    "scopes": ["admin:users", "admin:servers", "tokens", "read:users", "list:users"],
    "services": ["rehearsal"],
})
%[8]s
`

// hubHost is the rehearsal's hub machine: a host of its own (mount and network namespaces)
// where the hub directory is at /srv/jupyterhub and the NFS mount point at /mnt/camphub, the
// hub container's and the proxy container's names resolve (Docker's DNS does that on the
// overlay network; here both run on this host's loopback), and configurable-http-proxy and
// JupyterHub run as the two units start them.
type hubHost struct {
	*nsHost
	t          *testing.T
	dns        string
	port       int
	hubDir     string
	certPath   string
	token      string // the rehearsal service's admin token
	smokeToken string // the camphub-smoke service's token (smoke.env)
	secret     string // the OAuth client secret handed to the hub
	root       string // the rehearsal image's root: the hub runs from it
	proxyToken string // the proxy API's token
	env        []string
	args       []string
	hub        *daemon
	proxy      *daemon
	files      provision.HubFiles
}

// hubOptions vary the rehearsal hub.
type hubOptions struct {
	// Notebook replaces the image's start-notebook.py (e.g. /bin/false: a server that cannot
	// start); Delay (seconds) slows each server's start.
	Notebook, Delay string
	// HTTPTimeout replaces the config's 120 s wait for a server to answer (a server that
	// cannot start keeps the hub's spawn pending that long, and so its user undeletable).
	HTTPTimeout string
	// Extra is Python appended to the rehearsal's override (e.g. a role taken away).
	Extra string
	// Database, when set, is copied in as the hub's jupyterhub.sqlite before the hub starts.
	Database string
}

// hubPath is PATH inside the rehearsal image.
const hubPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func newHubHost(t *testing.T, opts ...hubOptions) *hubHost {
	t.Helper()
	needRoot(t)
	root := trixieRoot(t)
	need(t, "curl")
	need(t, "ip")
	chpDir := chp(t)
	h := &hubHost{t: t, dns: "ec2-203-0-113-10.us-west-2.compute.amazonaws.com", port: 8443, root: root}
	certPEM, keyPEM := selfSignedCert(t, h.dns, "203.0.113.10")
	files, err := provision.RenderHub(provision.Hub{
		Stack: "rehearsal", Port: h.port, PublicDNS: h.dns, ClientID: "123456789012-rehearsal.apps.googleusercontent.com",
		NotebookImage: "quay.io/jupyter/scipy-notebook:2025-12-31", MemLimit: "1G", MemGuarantee: "512M",
		CPULimit: 1, CPUGuarantee: 0.25, IdleTimeoutMinutes: 30, CertPEM: certPEM,
	})
	if err != nil {
		t.Fatal(err)
	}

	h.layHubDir(files, certPEM, keyPEM)
	h.token, h.secret = randomHex(t), randomHex(t)
	var o hubOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	for p, def := range map[*string]string{&o.Notebook: "/usr/local/bin/start-notebook.py", &o.Delay: "0", &o.HTTPTimeout: "120"} {
		if *p == "" {
			*p = def
		}
	}
	if o.Database != "" {
		b, err := os.ReadFile(o.Database)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, h.hubDir, "jupyterhub.sqlite", string(b), 0o600)
	}
	// The server's command: the image's start script (or its replacement), after Delay
	// seconds, as the student (1000:100), as the notebook container runs it.
	server := "sleep " + o.Delay + `; exec ` + o.Notebook + ` "$@"`
	scratch := t.TempDir()
	writeFile(t, scratch, "rehearsal_config.py",
		fmt.Sprintf(override, provision.Layout.HubDir+"/jupyterhub_config.py", provision.Layout.MountRoot+"/home", provision.Layout.StudentUID,
			provision.Layout.StudentGID, server, o.HTTPTimeout, h.token, o.Extra), 0o644)
	h.files = files

	hosts := filepath.Join(scratch, "hosts")
	h.nsHost = newNSHost(t, "hub", strings.Join([]string{
		"mount -t tmpfs camphub-rehearsal /srv",
		"mkdir -p " + provision.Layout.HubDir,
		"mount --bind " + h.hubDir + " " + provision.Layout.HubDir,
		"mount -t tmpfs camphub-rehearsal /mnt",
		"mkdir -p " + provision.Layout.MountRoot + "/home " + provision.Layout.MountRoot + "/course",
		"cat /etc/hosts >" + hosts,
		"echo '127.0.0.1 " + provision.Layout.HubContainer + " " + provision.Layout.ProxyContainer + " " + provision.Layout.ProxyAPIHost + "' >>" + hosts,
		"mount --bind " + hosts + " /etc/hosts",
		// The hub's own root: the rehearsal image, showing the same hub directory, NFS mount
		// and names (these mounts live in this host's mount namespace only).
		imageMounts(root, scratch, hosts),
	}, "\n"))
	// Servers run in sessions of their own (LocalProcessSpawner's start_new_session), so they
	// outlive the hub's process group: end everything left in the host's network namespace.
	t.Cleanup(func() { killNetNS(t, h.pid) })

	h.proxyToken = randomHex(t)
	proxyToken := "CONFIGPROXY_AUTH_TOKEN=" + h.proxyToken
	h.smokeToken = randomHex(t)
	writeFile(t, h.hubDir, "smoke.env", "CAMPHUB_SMOKE_TOKEN="+h.smokeToken+"\n", 0o600)
	h.env = []string{
		"CAMPHUB_SMOKE_TOKEN=" + h.smokeToken,
		"OAUTH_CLIENT_ID=123456789012-rehearsal.apps.googleusercontent.com",
		"OAUTH_CLIENT_SECRET=" + h.secret,
		proxyToken,
	}
	h.args = []string{"-f", "/opt/rehearsal_config.py"}
	// The proxy as camphub-proxy.service starts it: the same arguments, its own process.
	h.proxy = h.start("proxy.log", []string{proxyToken}, filepath.Join(chpDir, "configurable-http-proxy"), provision.ProxyArgs(h.port)...)
	h.startHub()
	return h
}

// layHubDir lays out what hub-config writes into /srv/jupyterhub (the proxy's copy of the key
// included) in a scratch directory that the host shows at that path.
func (h *hubHost) layHubDir(files provision.HubFiles, certPEM, keyPEM string) {
	t := h.t
	t.Helper()
	h.hubDir = t.TempDir()
	for _, d := range []string{"ssl", "proxy"} {
		if err := os.Mkdir(filepath.Join(h.hubDir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	h.certPath = writeFile(t, h.hubDir, "ssl/hub.crt", certPEM, 0o644)
	writeFile(t, h.hubDir, "ssl/hub.key", keyPEM, 0o600)
	writeFile(t, h.hubDir, "proxy/hub.crt", certPEM, 0o444)
	writeFile(t, h.hubDir, "proxy/hub.key", keyPEM, 0o400)
	for name, content := range files.HubDirFiles() {
		writeFile(t, h.hubDir, name, content, 0o644)
	}
}

// inImage is the command line that runs name inside the rehearsal image's root in this host,
// in the hub directory, with nothing of the test's environment.
func (h *hubHost) inImage(name string, args ...string) (string, []string) {
	return h.cmd("chroot", append([]string{h.root, "/usr/bin/env", "-i", hubPath, "LANG=C.UTF-8", "sh", "-c", `cd "$0" && exec "$@"`, provision.Layout.HubDir, name}, args...)...)
}

// startHub starts JupyterHub as camphub-hub.service does (in the hub directory, the image's
// jupyterhub, only the env files' variables) and waits until it answers through the proxy.
func (h *hubHost) startHub() {
	h.t.Helper()
	bin, args := h.inImage("env", append(h.env, append([]string{"jupyterhub"}, h.args...)...)...)
	h.hub = start(h.t, "jupyterhub.log", nil, bin, args...)
	waitFor(h.t, "the hub's API through the proxy", 2*time.Minute, func() bool {
		_, err := h.get("/hub/api/", "")
		return err == nil
	})
}

// curl runs curl in the host against the hub's public address, trusting only its certificate.
func (h *hubHost) curl(args ...string) (string, error) {
	h.t.Helper()
	base := []string{"-fsS", "--max-time", "10", "--cacert", h.certPath, "--resolve", fmt.Sprintf("%s:%d:127.0.0.1", h.dns, h.port)}
	return h.run(15*time.Second, "", nil, "curl", append(base, args...)...)
}

func (h *hubHost) url(path string) string { return fmt.Sprintf("https://%s:%d%s", h.dns, h.port, path) }

// get fetches path through the proxy, with a token when one is given.
func (h *hubHost) get(path, token string) (string, error) {
	h.t.Helper()
	args := []string{h.url(path)}
	if token != "" {
		args = append(args, "-H", "Authorization: token "+token)
	}
	return h.curl(args...)
}

// api calls the hub's REST API with the rehearsal service's admin token.
func (h *hubHost) api(method, path, body string) (string, error) {
	h.t.Helper()
	args := []string{"-X", method, "-H", "Authorization: token " + h.token, h.url("/hub/api" + path)}
	if body != "" {
		args = append(args, "-H", "Content-Type: application/json", "-d", body)
	}
	return h.curl(args...)
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestRenderedHubServesHTTPSBehindTheProxy starts the rendered hub and, as its own process, the
// proxy with camphub-proxy.service's arguments, then talks to them with curl trusting only the
// generated certificate.
func TestRenderedHubServesHTTPSBehindTheProxy(t *testing.T) {
	h := newHubHost(t)

	body, err := h.get("/hub/api/", "")
	if err != nil {
		t.Fatalf("GET /hub/api/: %v\n%s", err, body)
	}
	var api struct{ Version string }
	if err := json.Unmarshal([]byte(body), &api); err != nil || api.Version == "" {
		t.Fatalf("/hub/api/ answered %q, want JupyterHub's version", body)
	}
	bin, args := h.inImage("jupyterhub", "--version")
	version := must(t, nil, bin, args...)
	if api.Version != version || !strings.HasPrefix(version, "5.") {
		t.Errorf("API reports version %q, the image's jupyterhub --version %q; want JupyterHub 5", api.Version, version)
	}
	if out, err := h.get("/hub/health", ""); err != nil {
		t.Errorf("GET /hub/health (what hub-config waits for): %v\n%s", err, out)
	}
	// Plain HTTP on the hub port gets no hub page.
	if out, err := h.run(15*time.Second, "", nil, "curl", "-fsS", "--max-time", "5", fmt.Sprintf("http://127.0.0.1:%d/hub/api/", h.port)); err == nil {
		t.Errorf("the hub port answered plain HTTP: %s", out)
	}

	// The public port belongs to the proxy's process; the hub listens only on its API port.
	listeners, err := h.run(15*time.Second, "", nil, "ss", "-Hltnp")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(listeners, "\n") {
		if strings.Contains(line, fmt.Sprintf(":%d ", h.port)) && !strings.Contains(line, fmt.Sprintf("pid=%d,", h.proxy.cmd.Process.Pid)) {
			t.Errorf("port %d is served by something other than the proxy's process:\n%s", h.port, line)
		}
		if strings.Contains(line, fmt.Sprintf("pid=%d,", h.hub.cmd.Process.Pid)) && !strings.Contains(line, fmt.Sprintf(":%d ", provision.HubAPIPort)) {
			t.Errorf("the hub listens on more than its API port %d:\n%s", provision.HubAPIPort, line)
		}
	}

	// Hub state stays in the hub directory (local disk on the hub), the cookie secret private.
	if _, err := os.Stat(filepath.Join(h.hubDir, "jupyterhub.sqlite")); err != nil {
		t.Errorf("the hub database is not in %s: %v", provision.Layout.HubDir, err)
	}
	if st, err := os.Stat(filepath.Join(h.hubDir, "jupyterhub_cookie_secret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cookie secret: %v, mode %v; want a 0600 file in %s", err, st, provision.Layout.HubDir)
	}

	// Each hub-managed service holds exactly its roles, and the roles exactly their scopes: the
	// culler its four, the smoke probe its three, the roster service the admin role (JupyterHub
	// 5 lets only an admin grant admin rights) and with it the admin flag; no other service is
	// an admin.
	query := `import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
out = {}
for name, admin in db.execute("select name, admin from services where name != 'rehearsal' order by name"):
    roles = db.execute("select r.name, r.scopes from roles r join service_role_map m on m.role_id = r.id join services s on s.id = m.service_id where s.name = ?", (name,)).fetchall()
    out[name] = {"admin": bool(admin), "roles": {r: sorted(json.loads(sc)) if r != "admin" else "admin" for r, sc in roles}}
print(json.dumps(out, sort_keys=True))`
	out := must(t, nil, "/usr/bin/python3", "-c", query, filepath.Join(h.hubDir, "jupyterhub.sqlite"))
	want := `{"camphub-roster": {"admin": true, "roles": {"admin": "admin"}}, "camphub-smoke": {"admin": false, "roles": {"camphub-smoke": ["access:servers", "admin:users", "servers"]}}, "idle-culler": {"admin": false, "roles": {"idle-culler": ["delete:servers", "list:users", "read:servers", "read:users:activity"]}}}`
	if out != want {
		t.Errorf("services, their roles and admin flags in the hub database:\n%s\nwant\n%s", out, want)
	}
	log := h.hub.logText()
	for _, svc := range []string{"idle-culler", "camphub-roster"} {
		if !strings.Contains(log, "Starting managed service "+svc) {
			t.Errorf("the hub did not start %s as a managed service", svc)
		}
	}
	if strings.Contains(log, h.secret) || strings.Contains(h.proxy.logText(), h.secret) {
		t.Error("the OAuth client secret appears in the hub's or the proxy's log")
	}
}
