package testtool

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

//go:embed hubconfig.py
var hubConfigPy []byte

// SystemPython is Debian's python3, which has what JupyterHub loads its config with (traitlets,
// jupyterhub, escapism, docker-py; .ci/run installs them). A python3 earlier on PATH (pyenv)
// has none of them.
const SystemPython = "/usr/bin/python3"

// HubConfig loads the hub's jupyterhub_config.py as JupyterHub does, with the files beside it
// that it reads (provision.HubFiles.HubDirFiles: camphub.json, camphub_hub.py, ...; hubconfig.py
// says how and what each request does), and decodes the answer to req into out.
func HubConfig(t testing.TB, files map[string]string, req, out any) {
	t.Helper()
	if err := exec.Command(SystemPython, "-c", "import traitlets, escapism, jupyterhub, docker").Run(); err != nil {
		Missing(t, SystemPython+" lacks traitlets, escapism, jupyterhub or docker-py; .ci/run installs them")
	}
	dir := t.TempDir()
	for name, content := range files {
		if strings.HasSuffix(name, ".py") || strings.HasSuffix(name, ".json") {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := filepath.Join(dir, "jupyterhub_config.py")
	helper := filepath.Join(dir, "hubconfig.py")
	if err := os.WriteFile(helper, hubConfigPy, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(SystemPython, helper, cfg)
	cmd.Env = append(os.Environ(), "OAUTH_CLIENT_ID=123-test.apps.googleusercontent.com", "OAUTH_CLIENT_SECRET=not-a-secret", "CAMPHUB_SMOKE_TOKEN=not-a-token")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("loading the rendered jupyterhub_config.py (%s): %v\n%s", in, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("hubconfig.py answered %q: %v", stdout.String(), err)
	}
}

// HubConfigHelper is hubconfig.py itself, for a rehearsal that imports it into a real hub.
func HubConfigHelper() []byte { return hubConfigPy }
