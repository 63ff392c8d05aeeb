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
	"strconv"
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

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// override is the rehearsal's only change to the production configuration: Google login and
// Docker Swarm spawning cannot run offline, so their classes are swapped. It lives only here.
const override = `c = get_config()  # noqa: F821
load_subconfig(%q)  # noqa: F821
c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
`

// TestRenderedHubServesHTTPSBehindTheProxy starts Debian's JupyterHub with the rendered
// jupyterhub_config.py (hub directory and NFS mount point in a private mount namespace, as on
// the hub), the self-signed certificate and configurable-http-proxy, then talks to it with curl
// trusting only that certificate.
func TestRenderedHubServesHTTPSBehindTheProxy(t *testing.T) {
	needRoot(t)
	jupyterhub, curl, unshare := need(t, "jupyterhub"), need(t, "curl"), need(t, "unshare")
	need(t, "ss")
	chpDir := chp(t)

	const dns, eip = "ec2-203-0-113-10.us-west-2.compute.amazonaws.com", "203.0.113.10"
	port := freePort(t)
	certPEM, keyPEM := selfSignedCert(t, dns, eip)
	files, err := provision.RenderHub(provision.Hub{
		Stack: "rehearsal", Port: port, PublicDNS: dns, ClientID: "123456789012-rehearsal.apps.googleusercontent.com",
		AdminEmails: []string{"teacher@example.org"}, StudentEmails: []string{"ada@example.org"},
		NotebookImage: "quay.io/jupyter/scipy-notebook:2025-12-31", MemLimit: "1G", MemGuarantee: "512M",
		CPULimit: 1, CPUGuarantee: 0.25, IdleTimeoutMinutes: 30, CertPEM: certPEM,
	})
	if err != nil {
		t.Fatal(err)
	}

	// What hub-config writes into /srv/jupyterhub, laid out in a scratch directory that the
	// mount namespace shows at that path.
	hubDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(hubDir, "ssl"), 0o700); err != nil {
		t.Fatal(err)
	}
	certPath := writeFile(t, hubDir, "ssl/hub.crt", certPEM, 0o644)
	writeFile(t, hubDir, "ssl/hub.key", keyPEM, 0o600)
	writeFile(t, hubDir, "jupyterhub_config.py", files.JupyterHubConfig, 0o644)
	overridePath := writeFile(t, t.TempDir(), "rehearsal_config.py",
		fmt.Sprintf(override, provision.HubDir+"/jupyterhub_config.py"), 0o644)
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	clientSecret := hex.EncodeToString(secret)

	inNamespace := strings.Join([]string{
		"set -eu",
		"mount -t tmpfs camphub-rehearsal /srv",
		"mkdir -p " + provision.HubDir,
		"mount --bind " + hubDir + " " + provision.HubDir,
		"mount -t tmpfs camphub-rehearsal /mnt",
		"mkdir -p " + provision.MountRoot + "/home " + provision.MountRoot + "/course",
		// On the hub, Docker's DNS on the overlay network resolves the hub container's name;
		// here the same name points at this host.
		"hosts=" + filepath.Join(t.TempDir(), "hosts"),
		"cat /etc/hosts >\"$hosts\"",
		"echo '127.0.0.1 " + provision.HubContainer + "' >>\"$hosts\"",
		"mount --bind \"$hosts\" /etc/hosts",
		"cd " + provision.HubDir,
		`exec "$0" -f "$1"`,
	}, "\n")
	hub := start(t, "jupyterhub.log", []string{
		"PATH=" + chpDir + ":" + os.Getenv("PATH"),
		"OAUTH_CLIENT_ID=123456789012-rehearsal.apps.googleusercontent.com",
		"OAUTH_CLIENT_SECRET=" + clientSecret,
	}, unshare, "--mount", "--propagation", "private", "sh", "-c", inNamespace, jupyterhub, overridePath)

	base := fmt.Sprintf("https://%s:%d", dns, port)
	resolve := fmt.Sprintf("%s:%d:127.0.0.1", dns, port)
	get := func(path string) (string, error) {
		return run(t, 15*time.Second, "", nil, curl, "-fsS", "--max-time", "10", "--cacert", certPath, "--resolve", resolve, base+path)
	}
	waitFor(t, "the hub's API over HTTPS", 2*time.Minute, func() bool {
		_, err := get("/hub/api/")
		return err == nil
	})

	// The API answers over HTTPS, verified against the generated certificate alone.
	body, err := get("/hub/api/")
	if err != nil {
		t.Fatalf("GET /hub/api/: %v\n%s", err, body)
	}
	var api struct{ Version string }
	if err := json.Unmarshal([]byte(body), &api); err != nil || api.Version == "" {
		t.Fatalf("/hub/api/ answered %q, want JupyterHub's version", body)
	}
	version, _ := exec.Command(jupyterhub, "--version").Output()
	if api.Version != strings.TrimSpace(string(version)) {
		t.Errorf("API reports version %q, jupyterhub --version %q", api.Version, version)
	}
	if out, err := get("/hub/health"); err != nil {
		t.Errorf("GET /hub/health (what hub-config waits for): %v\n%s", err, out)
	}
	// Plain HTTP on the hub port gets no hub page.
	if out, err := run(t, 15*time.Second, "", nil, curl, "-fsS", "--max-time", "5", fmt.Sprintf("http://127.0.0.1:%d/hub/api/", port)); err == nil {
		t.Errorf("the hub port answered plain HTTP: %s", out)
	}

	// The public port belongs to configurable-http-proxy, not to the hub itself.
	listeners := must(t, nil, "ss", "-Hltnp", "sport = :"+strconv.Itoa(port))
	if !strings.Contains(listeners, `"node"`) {
		t.Errorf("port %d is not served by configurable-http-proxy (node):\n%s", port, listeners)
	}

	// Hub state stays in the hub directory (local disk on the hub), the cookie secret private.
	if _, err := os.Stat(filepath.Join(hubDir, "jupyterhub.sqlite")); err != nil {
		t.Errorf("the hub database is not in %s: %v", provision.HubDir, err)
	}
	if st, err := os.Stat(filepath.Join(hubDir, "jupyterhub_cookie_secret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cookie secret: %v, mode %v; want a 0600 file in %s", err, st, provision.HubDir)
	}

	// The idle culler's role was loaded with exactly its scopes and granted to its service.
	query := `import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
role = db.execute("select id, scopes from roles where name = 'idle-culler'").fetchone()
svc = db.execute("select id from services where name = 'idle-culler'").fetchone()
granted = db.execute("select count(*) from service_role_map where service_id = ? and role_id = ?", (svc[0], role[0])).fetchone()[0]
print(json.dumps({"scopes": sorted(json.loads(role[1])), "granted": granted}))`
	out := must(t, nil, "/usr/bin/python3", "-c", query, filepath.Join(hubDir, "jupyterhub.sqlite"))
	want := `{"scopes": ["delete:servers", "list:users", "read:servers", "read:users:activity"], "granted": 1}`
	if out != want {
		t.Errorf("idle-culler role in the hub database: %s\nwant %s", out, want)
	}
	log := hub.logText()
	if !strings.Contains(log, "Starting managed service idle-culler") {
		t.Errorf("the hub did not start the idle culler as a managed service:\n%s", log)
	}
	if strings.Contains(log, clientSecret) {
		t.Error("the OAuth client secret appears in the hub's log")
	}
}
