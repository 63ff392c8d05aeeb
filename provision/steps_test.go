package provision

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

// A rendered step, run for real as root in a mount namespace of its own: tmpfs over every
// folder a hub step writes (/srv, /etc/systemd/system, /usr/local/sbin, /usr/local/lib) and a
// group "nobody" as Amazon Linux has it; docker, systemctl, curl and sleep are stand-ins on PATH.
// What the stand-ins hide: Docker and systemd themselves (the units and the containers they
// start are rehearsed in rehearsal/), curl's real request (the stand-in answers as the stub
// says: CAMPHUB_STUB_CURL=ok|fail, or an HTTP code for curl -w), and time (sleep returns at
// once, so a wait loop runs to its end in a moment).

type stepFile struct {
	Path    string
	Mode    os.FileMode
	UID     int
	Content string
}

type stepRun struct {
	Output string
	Err    error
	Files  []stepFile
}

var stubs = map[string]string{
	"docker":    "#!/bin/sh\nexit 0\n",
	"systemctl": "#!/bin/sh\nexit 0\n",
	"sleep":     "#!/bin/sh\nexit 0\n",
	"curl": `#!/bin/sh
case "${CAMPHUB_STUB_CURL:-ok}" in
  ok) for a in "$@"; do [ "$a" = "-w" ] && printf 200; done; exit 0 ;;
  fail) exit 7 ;;
  *) printf '%s' "$CAMPHUB_STUB_CURL"; exit 0 ;;
esac
`,
}

// runStep runs script with stdin in its own mount namespace and returns what it printed, how it
// ended and every file it left under the written folders. setup runs first (e.g. files a step
// expects); env is added to the stand-ins' environment.
func runStep(t *testing.T, script, stdin, setup string, env ...string) stepRun {
	t.Helper()
	testtool.NeedRoot(t)
	unshare := testtool.Need(t, "unshare")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	group, err := os.ReadFile("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(group, []byte("\nnobody:")) {
		group = append(group, []byte("nobody:x:65534:\n")...)
	}
	for name, content := range map[string]string{"group": string(group), "step.sh": script, "setup.sh": setup} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	written := []string{"srv", "etc/systemd/system", "usr/local/sbin", "usr/local/lib"}
	wrapper := fmt.Sprintf(`set -u
for d in %[1]s; do mkdir -p "/$d"; mount -t tmpfs camphub-step "/$d"; done
mount --bind %[2]s/group /etc/group
bash %[2]s/setup.sh
PATH=%[2]s/bin:$PATH bash %[2]s/step.sh >%[2]s/out 2>&1
echo $? >%[2]s/rc
tar -C / -cf %[2]s/tree.tar %[1]s 2>/dev/null
`, strings.Join(written, " "), dir)
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "bash", "-c", wrapper)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running the step: %v\n%s", err, out)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out"))
	rc, _ := os.ReadFile(filepath.Join(dir, "rc"))
	r := stepRun{Output: string(out)}
	if code := strings.TrimSpace(string(rc)); code != "0" {
		r.Err = fmt.Errorf("exit status %s", code)
	}
	f, err := os.Open(filepath.Join(dir, "tree.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, _ := io.ReadAll(tr)
		r.Files = append(r.Files, stepFile{Path: "/" + h.Name, Mode: os.FileMode(h.Mode).Perm(), UID: h.Uid, Content: string(b)})
	}
	return r
}

// hubConfigStdin is the hub-config step's standard input with sentinel secrets: the OAuth
// client secret and a TLS key (base64) that each hold a sentinel.
func hubConfigStdin() (stdin string, sentinels []string) {
	oauth := "oauth-" + SecretSentinel
	keyPEM := "-----BEGIN PRIVATE KEY-----\ntls-" + SecretSentinel + "\n-----END PRIVATE KEY-----\n"
	b64 := base64.StdEncoding.EncodeToString([]byte(keyPEM))
	return oauth + "\n" + b64 + "\n", []string{"oauth-" + SecretSentinel, "tls-" + SecretSentinel}
}

// TestHubConfigKeepsSecretsInPrivateFiles runs the rendered hub-config step with sentinel
// secrets: every file it leaves that holds a secret or a token it made is readable by its owner
// alone (0600 root, or 0400 nobody for the proxy's key), the configuration and every other file
// hold none, and nothing it prints holds one.
func TestHubConfigKeepsSecretsInPrivateFiles(t *testing.T) {
	f, err := RenderHub(examples()["dev"].hub)
	if err != nil {
		t.Fatal(err)
	}
	stdin, sentinels := hubConfigStdin()
	r := runStep(t, f.ConfigScript, stdin, "")
	if r.Err != nil {
		t.Fatalf("hub-config failed with working stand-ins: %v\n%s", r.Err, r.Output)
	}
	for _, s := range sentinels {
		if strings.Contains(r.Output, s) {
			t.Errorf("hub-config printed a secret:\n%s", r.Output)
		}
	}
	private := map[string]bool{}
	for _, file := range r.Files {
		holds := strings.Contains(file.Content, "CONFIGPROXY_AUTH_TOKEN=") || strings.Contains(file.Content, "CAMPHUB_SMOKE_TOKEN=")
		for _, s := range sentinels {
			holds = holds || strings.Contains(file.Content, s)
		}
		if strings.HasSuffix(file.Path, ".py") || strings.HasSuffix(file.Path, ".sh") || strings.HasSuffix(file.Path, ".service") ||
			strings.HasSuffix(file.Path, ".json") || strings.HasPrefix(file.Path, "/usr/local/sbin/") {
			if holds && !strings.HasPrefix(file.Path, "/usr/local/") {
				t.Errorf("%s holds a secret or a token", file.Path)
			}
			continue
		}
		if !holds {
			continue
		}
		private[filepath.Base(file.Path)] = true
		if file.Mode&0o077 != 0 || file.Mode&0o200 != 0 && file.UID != 0 {
			t.Errorf("%s holds a secret with mode %v owner %d; want 0600 root (or 0400 for the proxy)", file.Path, file.Mode, file.UID)
		}
	}
	for _, want := range []string{"secret.env", "hub.key", "proxy.env", "smoke.env"} {
		if !private[want] {
			t.Errorf("no private %s was written (files: %v)", want, private)
		}
	}
}

// TestHubConfigFailsWhenTheHubIsNotHealthy: the step's gate is /hub/health through the proxy;
// when it never answers, the step fails (and `pulumi up` with it), saying so.
func TestHubConfigFailsWhenTheHubIsNotHealthy(t *testing.T) {
	f, err := RenderHub(examples()["dev"].hub)
	if err != nil {
		t.Fatal(err)
	}
	stdin, _ := hubConfigStdin()
	r := runStep(t, f.ConfigScript, stdin, "", "CAMPHUB_STUB_CURL=fail")
	if r.Err == nil || !strings.Contains(r.Output, "did not become healthy") {
		t.Errorf("hub-config with a hub that never answers: %v\n%s", r.Err, r.Output)
	}
}

// rosterStep runs the rendered hub-roster step with the dev roster on standard input; setup
// stands for what the hub's roster service wrote.
func rosterStep(t *testing.T, setup func(digest string) string) stepRun {
	t.Helper()
	doc, err := examples()["dev"].roster.JSON()
	if err != nil {
		t.Fatal(err)
	}
	script, err := HubRosterScript("dev")
	if err != nil {
		t.Fatal(err)
	}
	return runStep(t, script, doc, "mkdir -p "+Layout.HubDir+"\n"+setup(fmt.Sprintf("%x", sha256.Sum256([]byte(doc)))))
}

// TestRosterStepWaitsForThisRoster: hub-roster succeeds only when the hub's roster service has
// applied this very roster (its SHA-256 in the applied file); an older roster's digest, or none,
// fails the step once its wait is over; a refusal of this roster fails it quoting the hub.
func TestRosterStepWaitsForThisRoster(t *testing.T) {
	ok := rosterStep(t, func(d string) string { return "echo " + d + " >" + Layout.RosterApplied })
	if ok.Err != nil || !strings.Contains(ok.Output, "match the roster") {
		t.Errorf("hub-roster with this roster applied: %v\n%s", ok.Err, ok.Output)
	}
	for what, setup := range map[string]func(string) string{
		"nothing applied":         func(string) string { return "" },
		"an older roster":         func(string) string { return "echo " + strings.Repeat("0", 64) + " >" + Layout.RosterApplied },
		"an older roster's error": func(string) string { return "echo " + strings.Repeat("0", 64) + " HTTP 403: no >" + Layout.RosterError },
	} {
		if r := rosterStep(t, setup); r.Err == nil || !strings.Contains(r.Output, "did not apply the roster") {
			t.Errorf("hub-roster with %s: %v\n%s", what, r.Err, r.Output)
		}
	}
	refused := rosterStep(t, func(d string) string {
		return "echo '" + d + " POST /users: HTTP 403: Only admins can grant admin permissions' >" + Layout.RosterError
	})
	if refused.Err == nil || !strings.Contains(refused.Output, "the hub refused the roster: POST /users: HTTP 403: Only admins can grant admin permissions") {
		t.Errorf("hub-roster with this roster refused: %v\n%s", refused.Err, refused.Output)
	}
	for _, r := range []stepRun{ok, refused} {
		if strings.Contains(r.Output, "@example") {
			t.Errorf("hub-roster printed an address:\n%s", r.Output)
		}
	}
}

// TestSmokeStepFailsWhenTheProbeFails: the last step of `pulumi up` fails exactly when
// camphub-smoke does.
func TestSmokeStepFailsWhenTheProbeFails(t *testing.T) {
	script, err := SmokeStepScript("dev")
	if err != nil {
		t.Fatal(err)
	}
	for code, wantFail := range map[int]bool{0: false, 1: true} {
		stub := fmt.Sprintf("printf '#!/bin/sh\\necho probe said $*\\nexit %d\\n' >/usr/local/sbin/camphub-smoke; chmod 755 /usr/local/sbin/camphub-smoke", code)
		r := runStep(t, script, "", stub)
		if (r.Err != nil) != wantFail || !strings.Contains(r.Output, "probe said 1") {
			t.Errorf("smoke step with camphub-smoke exiting %d: %v\n%s", code, r.Err, r.Output)
		}
	}
}

// TestSmokeProbeFailsWhenAServerCannotStart: camphub-smoke itself exits non-zero, naming the
// part, when the hub refuses to start the probe's server, and prints no token.
func TestSmokeProbeFailsWhenAServerCannotStart(t *testing.T) {
	f, err := RenderHub(examples()["dev"].hub)
	if err != nil {
		t.Fatal(err)
	}
	setup := "mkdir -p " + Layout.HubDir + "/ssl && echo CAMPHUB_SMOKE_TOKEN=tok-" + SecretSentinel + " >" + Layout.HubDir + "/smoke.env"
	for code, part := range map[string]string{"500": "FAILED creating the probe user: HTTP 500"} {
		r := runStep(t, f.SmokeScript, "", setup, "CAMPHUB_STUB_CURL="+code)
		if r.Err == nil || !strings.Contains(r.Output, part) || !strings.Contains(r.Output, "1 of 1 probes failed") {
			t.Errorf("camphub-smoke with the hub answering %s: %v\n%s", code, r.Err, r.Output)
		}
		if strings.Contains(r.Output, SecretSentinel) {
			t.Errorf("camphub-smoke printed its token:\n%s", r.Output)
		}
	}
}
