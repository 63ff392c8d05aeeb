// Package scripts holds the project's test and lint commands; its test runs the lint gate on
// small trees.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

// TestLintGateCatchesBreakage runs scripts/lint.sh on small trees: a clean one passes, and an
// unformatted Go file or a broken workflow each makes it fail, saying why.
func TestLintGateCatchesBreakage(t *testing.T) {
	for _, name := range []string{"staticcheck", "actionlint"} {
		if _, err := exec.LookPath(name); err != nil {
			if _, err := os.Stat(filepath.Join(gopathBin(t), name)); err != nil {
				testtool.Missing(t, name+" is not installed; .ci/run must install it")
			}
		}
	}
	lint, err := filepath.Abs("lint.sh")
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]string{
		"go.mod":  "module example.org/gate\n\ngo 1.26\n",
		"main.go": "// Command gate is a fixture.\npackage main\n\nfunc main() {}\n",
		".github/workflows/ok.yml": "name: ok\non: push\npermissions:\n  contents: read\njobs:\n" +
			"  ok:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ok\n",
	}
	for _, tc := range []struct {
		name    string
		change  map[string]string
		failure string // "" means the gate passes
	}{
		{"clean tree", nil, ""},
		{"untidy go.mod", map[string]string{"go.mod": "module example.org/gate\n\ngo 1.26\n\nrequire github.com/google/uuid v1.6.0\n"}, "not tidy"},
		{"unformatted Go", map[string]string{"main.go": "// Command gate is a fixture.\npackage main\nfunc main() {  }\n"}, "gofmt would change"},
		{"broken workflow", map[string]string{".github/workflows/ok.yml": "name: ok\non: push\njobs:\n  ok:\n    steps:\n      - run: echo ${{ github.nope }}\n"}, "runs-on"},
		{"vet failure", map[string]string{"main.go": "// Command gate is a fixture.\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Printf(\"%d\\n\", \"x\") }\n"}, "Printf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for path, content := range good {
				if c, ok := tc.change[path]; ok {
					content = c
				}
				p := filepath.Join(dir, path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := exec.Command("bash", lint, dir).CombinedOutput()
			switch {
			case tc.failure == "" && err != nil:
				t.Fatalf("the gate fails a clean tree: %v\n%s", err, out)
			case tc.failure != "" && err == nil:
				t.Fatalf("the gate passed a tree with %s:\n%s", tc.name, out)
			case tc.failure != "" && !strings.Contains(string(out), tc.failure):
				t.Fatalf("the gate failed without saying %q:\n%s", tc.failure, out)
			}
		})
	}
}

// TestLintGateWithoutLinters: on a fresh clone without staticcheck and actionlint the gate still
// runs every other check and says what it skipped; with CI=true the same absence fails it.
func TestLintGateWithoutLinters(t *testing.T) {
	lint, err := filepath.Abs("lint.sh")
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for path, content := range map[string]string{
		"go.mod":                   "module example.org/gate\n\ngo 1.26\n",
		"main.go":                  "// Command gate is a fixture.\npackage main\n\nfunc main() {}\n",
		".github/workflows/ok.yml": "name: ok\non: push\njobs:\n  ok:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ok\n",
	} {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A PATH and GOPATH where neither linter is (GOCACHE stays, so nothing is rebuilt).
	env := func(ci string) []string {
		out := []string{"PATH=" + filepath.Dir(goBin) + ":/usr/bin:/bin", "GOPATH=" + t.TempDir(), "GOFLAGS=-modcacherw"}
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "GOCACHE=") || strings.HasPrefix(kv, "GOPROXY=") {
				out = append(out, kv)
			}
		}
		if ci != "" {
			out = append(out, "CI="+ci)
		}
		return out
	}
	cmd := exec.Command("bash", lint, dir)
	cmd.Env = env("")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "skipped: staticcheck actionlint") || !strings.Contains(string(out), "go install honnef.co/go/tools/cmd/staticcheck@") {
		t.Errorf("outside CI, missing linters should be skipped with a note: %v\n%s", err, out)
	}
	cmd = exec.Command("bash", lint, dir)
	cmd.Env = env("true")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "staticcheck is not installed (CI=true)") {
		t.Errorf("under CI=true a missing linter must fail the gate: %v\n%s", err, out)
	}
}

func gopathBin(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "bin")
}
