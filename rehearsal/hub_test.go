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
// here. What each replacement hides, and where that is covered instead:
//   - GoogleOAuthenticator -> DummyAuthenticator: Google login cannot run offline. Who may log
//     in (allow_existing_users: the hub's users) is oauthenticator 17.4's check_allowed
//     (oauth2.py 1468-1516) and add_user (896-911), cited in the rendered config; that the roster
//     service makes the hub's users the roster is tested here, against the real hub.
//   - SwarmSpawner -> SimpleLocalProcessSpawner running a stand-in server (standIn), and no
//     pre_spawn_hook (it reads DockerSpawner's escaped_name): the spawn path on a swarm, the
//     hook included, is rehearsed in spawn_test.go (real engines, the config's own traits and
//     hook, docker-py's requests as SwarmSpawner 14.0.0 makes them).
//   - Debian's JupyterHub 3.0 instead of the image's 5.5.1: the REST API calls the roster
//     service makes (GET/POST /users, PATCH and DELETE /users/NAME) and the scopes it holds
//     are the same in both (jupyterhub scopes.py, apihandlers/users.py at 3.0.0 and 5.5.1).
//   - A "rehearsal" service with an admin token: the test's own hands on the REST API.
const override = `c = get_config()  # noqa: F821
load_subconfig(%q)  # noqa: F821
c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.cmd = [%q, %q]
c.Spawner.environment = {"CAMPHUB_HOMES": %q, "CAMPHUB_STANDIN_DELAY": %q}
c.Spawner.http_timeout = %s
c.SimpleLocalProcessSpawner.home_dir_template = %q
c.Spawner.pre_spawn_hook = None  # it needs a DockerSpawner (escaped_name); spawn_test.go runs it
c.JupyterHub.services.append({"name": "rehearsal", "api_token": %q})
c.JupyterHub.load_roles.append({
    "name": "rehearsal",
    "scopes": ["admin:users", "admin:servers", "tokens", "read:users", "list:users"],
    "services": ["rehearsal"],
})
`

// standIn stands in for jupyterhub-singleuser: it answers every request on the port JupyterHub
// gave it (JUPYTERHUB_SERVICE_URL) with the user's name, so a route through the proxy can be checked.
//
// It also stands in for the contents API the smoke probe writes through (PUT
// .../api/contents/NAME with a JSON body): the file goes into the user's folder under
// CAMPHUB_HOMES, named by dockerspawner's escape, as the bind-mounted NFS home would hold it.
// CAMPHUB_STANDIN_DELAY makes it take that many seconds to come up (a slow spawn).
//
// What it hides: the real single-user server (Jupyter Server's contents API, its OAuth check of
// the token, its start-up time) and the container it runs in. The container, its home mount and
// its reach of the hub are rehearsed on the swarm in spawn_test.go and smokeswarm_test.go; the
// real image's server is first met by the smoke step at the end of a real `pulumi up`.
const standIn = `import http.server, json, os, string, time, urllib.parse
from escapism import escape
time.sleep(float(os.environ.get("CAMPHUB_STANDIN_DELAY", "0")))
port = urllib.parse.urlparse(os.environ["JUPYTERHUB_SERVICE_URL"]).port
name = os.environ["JUPYTERHUB_USER"]
user = name.encode()
home = os.path.join(os.environ.get("CAMPHUB_HOMES", "/tmp"), escape(name, set(string.ascii_lowercase + string.digits), escape_char="-").lower())
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"stand-in notebook of " + user + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_PUT(self):
        model = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, self.path.rsplit("/", 1)[1]), "w") as f:
            f.write(model["content"])
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
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
	jupyterhub string
	env        []string
	args       []string
	hub        *daemon
	proxy      *daemon
	files      provision.HubFiles
}

// hubOptions vary the rehearsal hub: Notebook replaces the stand-in server's interpreter (e.g.
// /bin/false for a server that cannot start), Delay slows its start.
type hubOptions struct {
	Notebook string
	Delay    string
	// HTTPTimeout replaces the config's 120 s wait for a server to answer (a server that
	// cannot start keeps the hub's spawn pending that long, and so its user undeletable).
	HTTPTimeout string
}

func newHubHost(t *testing.T, opts ...hubOptions) *hubHost {
	t.Helper()
	needRoot(t)
	jupyterhub := need(t, "jupyterhub")
	need(t, "curl")
	need(t, "ip")
	chpDir := chp(t)
	h := &hubHost{t: t, dns: "ec2-203-0-113-10.us-west-2.compute.amazonaws.com", port: 8443, jupyterhub: jupyterhub}
	certPEM, keyPEM := selfSignedCert(t, h.dns, "203.0.113.10")
	files, err := provision.RenderHub(provision.Hub{
		Stack: "rehearsal", Port: h.port, PublicDNS: h.dns, ClientID: "123456789012-rehearsal.apps.googleusercontent.com",
		NotebookImage: "quay.io/jupyter/scipy-notebook:2025-12-31", MemLimit: "1G", MemGuarantee: "512M",
		CPULimit: 1, CPUGuarantee: 0.25, IdleTimeoutMinutes: 30, CertPEM: certPEM,
	})
	if err != nil {
		t.Fatal(err)
	}

	// What hub-config writes into /srv/jupyterhub (the proxy's copy of the key included), laid
	// out in a scratch directory that the host shows at that path.
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
	writeFile(t, h.hubDir, "jupyterhub_config.py", files.JupyterHubConfig, 0o644)
	writeFile(t, h.hubDir, "camphub_roster.py", files.RosterService, 0o644)
	scratch := t.TempDir()
	standInPath := writeFile(t, scratch, "standin.py", standIn, 0o644)
	h.token, h.secret = randomHex(t), randomHex(t)
	o := hubOptions{Notebook: "/usr/bin/python3", Delay: "0", HTTPTimeout: "120"}
	if len(opts) > 0 {
		o = opts[0]
	}
	overridePath := writeFile(t, scratch, "rehearsal_config.py",
		fmt.Sprintf(override, provision.HubDir+"/jupyterhub_config.py", o.Notebook, standInPath, provision.MountRoot+"/home", o.Delay, o.HTTPTimeout, scratch+"/home-{username}", h.token), 0o644)
	h.files = files
	// Stand-in servers run in sessions of their own (LocalProcessSpawner's start_new_session),
	// so they outlive the hub's process group: end them by their script's path.
	t.Cleanup(func() { _, _ = run(t, 10*time.Second, "", nil, "pkill", "-f", standInPath) })

	hosts := filepath.Join(scratch, "hosts")
	h.nsHost = newNSHost(t, "hub", strings.Join([]string{
		"mount -t tmpfs camphub-rehearsal /srv",
		"mkdir -p " + provision.HubDir,
		"mount --bind " + h.hubDir + " " + provision.HubDir,
		"mount -t tmpfs camphub-rehearsal /mnt",
		"mkdir -p " + provision.MountRoot + "/home " + provision.MountRoot + "/course",
		"cat /etc/hosts >" + hosts,
		"echo '127.0.0.1 " + provision.HubContainer + " " + provision.ProxyContainer + "' >>" + hosts,
		"mount --bind " + hosts + " /etc/hosts",
	}, "\n"))

	proxyToken := "CONFIGPROXY_AUTH_TOKEN=" + randomHex(t)
	h.smokeToken = randomHex(t)
	writeFile(t, h.hubDir, "smoke.env", "CAMPHUB_SMOKE_TOKEN="+h.smokeToken+"\n", 0o600)
	h.env = []string{
		"CAMPHUB_SMOKE_TOKEN=" + h.smokeToken,
		"PATH=" + chpDir + ":" + os.Getenv("PATH"),
		"OAUTH_CLIENT_ID=123456789012-rehearsal.apps.googleusercontent.com",
		"OAUTH_CLIENT_SECRET=" + h.secret,
		proxyToken,
	}
	h.args = []string{"-f", overridePath}
	// The proxy as camphub-proxy.service starts it: the same arguments, its own process.
	h.proxy = h.start("proxy.log", []string{proxyToken}, filepath.Join(chpDir, "configurable-http-proxy"), provision.ProxyArgs(h.port)...)
	h.startHub()
	return h
}

// startHub starts JupyterHub as camphub-hub.service does (in the hub directory) and waits
// until it answers through the proxy.
func (h *hubHost) startHub() {
	h.t.Helper()
	bin, args := h.cmd("sh", append([]string{"-c", `cd "$0" && exec "$@"`, provision.HubDir, h.jupyterhub}, h.args...)...)
	h.hub = start(h.t, "jupyterhub.log", h.env, bin, args...)
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
	version, _ := exec.Command(h.jupyterhub, "--version").Output()
	if api.Version != strings.TrimSpace(string(version)) {
		t.Errorf("API reports version %q, jupyterhub --version %q", api.Version, version)
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
		t.Errorf("the hub database is not in %s: %v", provision.HubDir, err)
	}
	if st, err := os.Stat(filepath.Join(h.hubDir, "jupyterhub_cookie_secret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cookie secret: %v, mode %v; want a 0600 file in %s", err, st, provision.HubDir)
	}

	// The idle culler's and the roster service's roles hold exactly their scopes.
	query := `import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
out = {}
for name in ("idle-culler", "camphub-roster"):
    role = db.execute("select id, scopes from roles where name = ?", (name,)).fetchone()
    svc = db.execute("select id from services where name = ?", (name,)).fetchone()
    granted = db.execute("select count(*) from service_role_map where service_id = ? and role_id = ?", (svc[0], role[0])).fetchone()[0]
    out[name] = {"scopes": sorted(json.loads(role[1])), "granted": granted}
print(json.dumps(out, sort_keys=True))`
	out := must(t, nil, "/usr/bin/python3", "-c", query, filepath.Join(h.hubDir, "jupyterhub.sqlite"))
	want := `{"camphub-roster": {"granted": 1, "scopes": ["admin:servers", "admin:users"]}, "idle-culler": {"granted": 1, "scopes": ["delete:servers", "list:users", "read:servers", "read:users:activity"]}}`
	if out != want {
		t.Errorf("service roles in the hub database: %s\nwant %s", out, want)
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
