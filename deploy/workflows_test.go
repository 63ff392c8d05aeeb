package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The workflow files as the tests read them: each job's runner, condition, environment and steps.
type workflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		RunsOn      any    `yaml:"runs-on"`
		If          string `yaml:"if"`
		Environment any    `yaml:"environment"`
		Uses        string `yaml:"uses"`
		Steps       []struct {
			Uses string `yaml:"uses"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflows(t *testing.T) map[string]workflow {
	t.Helper()
	paths, err := filepath.Glob("../.github/workflows/*.yml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no workflows: %v", err)
	}
	out := map[string]workflow{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[filepath.Base(p)] = w
	}
	return out
}

// TestOnlyTheDeployWorkflowNamesTheDeployRunner: the deploy runner (vars.DEPLOY_RUNNER, or any
// self-hosted label) later holds the passphrase and the deploy role; a job of another workflow
// that names it would put branch code there. The check is shown to catch a test job moved there.
func TestOnlyTheDeployWorkflowNamesTheDeployRunner(t *testing.T) {
	ws := readWorkflows(t)
	for _, p := range runnerProblems(ws) {
		t.Error(p)
	}
	var edited workflow
	if err := yaml.Unmarshal([]byte("on:\n  push: {}\njobs:\n  test:\n    runs-on: ${{ vars.DEPLOY_RUNNER }}\n    steps: []\n"), &edited); err != nil {
		t.Fatal(err)
	}
	ws["test.yml"] = edited
	if len(runnerProblems(ws)) == 0 {
		t.Error("a test job on the deploy runner passed the check")
	}
}

func runnerProblems(ws map[string]workflow) []string {
	var out []string
	for file, w := range ws {
		for name, job := range w.Jobs {
			runner := strings.ToLower(strings.Join(asList(anyList(job.RunsOn)), " "))
			deployRunner := strings.Contains(runner, "deploy_runner") || strings.Contains(runner, "self-hosted")
			if deployRunner && (file != "deploy.yml" || name != "up") {
				out = append(out, file+" job "+name+" runs on "+runner+": only deploy.yml's up job may use the deploy runner")
			}
		}
	}
	return out
}

// TestDeployRunsOnlyFromMain: deploy.yml starts only on a push to main or by hand, and its jobs
// that hold the deploy role run only when the ref is main (a manual run from a branch gets
// nothing).
func TestDeployRunsOnlyFromMain(t *testing.T) {
	w := readWorkflows(t)["deploy.yml"]
	for event, spec := range w.On {
		switch event {
		case "workflow_dispatch":
		case "push":
			branches := asList(anyList(spec.(map[string]any)["branches"]))
			if !slices.Equal(branches, []string{"main"}) {
				t.Errorf("deploy.yml runs on a push to %v, want [main] only", branches)
			}
		default:
			t.Errorf("deploy.yml runs on %q; want only a push to main and workflow_dispatch", event)
		}
	}
	for name, job := range w.Jobs {
		if job.Environment == nil {
			continue
		}
		if !strings.Contains(job.If, "github.ref == 'refs/heads/main'") {
			t.Errorf("deploy.yml job %s holds an environment but runs on any ref (if: %q)", name, job.If)
		}
	}
}

// TestActionsArePinnedByCommit: every action is referenced by a full commit SHA, with its
// version in a comment; a tag can be moved to other code.
func TestActionsArePinnedByCommit(t *testing.T) {
	pinned := regexp.MustCompile(`^\s*(-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$`)
	uses := regexp.MustCompile(`^\s*(-\s+)?uses:\s+(\S+)`)
	paths, _ := filepath.Glob("../.github/workflows/*.yml")
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			m := uses.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(m[2], "./") {
				continue // a workflow of this repository, at the same commit
			}
			n++
			if !pinned.MatchString(line) {
				t.Errorf("%s:%d: %q is not pinned by commit SHA with its version in a comment (uses: owner/repo@<40 hex> # vX.Y.Z)", filepath.Base(p), i+1, strings.TrimSpace(line))
			}
		}
	}
	if n == 0 {
		t.Error("no action found: the check checks nothing")
	}
}

// anyList turns a YAML scalar or sequence into []any for asList.
func anyList(v any) any {
	if s, ok := v.(string); ok {
		return []any{s}
	}
	return v
}
