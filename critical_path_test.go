package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/camphub/camphub/internal/mocktest"
)

// durations is docs/durations.yaml: seconds by resource type, and by step name for the SSH steps.
type durations struct {
	Resources map[string]struct {
		Seconds float64
		Source  string
	}
	Steps map[string]struct {
		Seconds float64
		Source  string
	}
}

func readDurations(t *testing.T) durations {
	t.Helper()
	b, err := os.ReadFile("docs/durations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d durations
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/durations.yaml: %v", err)
	}
	return d
}

var workerNumber = regexp.MustCompile(`-\d\d-`)

// of is how long r takes to create, or an error naming it when the table has no figure (or no
// source) for it. Component resources take no time of their own.
func (d durations) of(r *mocktest.Resource) (float64, error) {
	if !r.Custom {
		return 0, nil
	}
	if r.Type == "command:remote:Command" {
		name := workerNumber.ReplaceAllString(r.Name, "-NN-")
		if s, ok := d.Steps[name]; ok && s.Source != "" {
			return s.Seconds, nil
		}
		return 0, fmt.Errorf("step %s (%s in docs/durations.yaml) has no duration with a source", r.Name, name)
	}
	if s, ok := d.Resources[r.Type]; ok && s.Source != "" {
		return s.Seconds, nil
	}
	return 0, fmt.Errorf("%s %s has no duration with a source in docs/durations.yaml", r.Type, r.Name)
}

// criticalPath is the longest chain of waits through resources (each waits for its
// dependencies, then takes its own time): its total seconds and its resources, first to last.
func criticalPath(res []*mocktest.Resource, d durations) (float64, []*mocktest.Resource, error) {
	byURN := map[string]*mocktest.Resource{}
	for _, r := range res {
		byURN[findURN(r)] = r
	}
	var missing []string
	done := map[*mocktest.Resource]float64{}
	prev := map[*mocktest.Resource]*mocktest.Resource{}
	var finish func(r *mocktest.Resource, depth int) float64
	finish = func(r *mocktest.Resource, depth int) float64 {
		if v, ok := done[r]; ok {
			return v
		}
		if depth > len(res) {
			panic("a dependency cycle at " + r.Name)
		}
		start := 0.0
		for _, u := range r.Dependencies {
			if dep := byURN[u]; dep != nil {
				if f := finish(dep, depth+1); f > start || prev[r] == nil {
					start, prev[r] = f, dep
				}
			}
		}
		own, err := d.of(r)
		if err != nil {
			missing = append(missing, err.Error())
		}
		done[r] = start + own
		return done[r]
	}
	var last *mocktest.Resource
	for _, r := range res {
		if f := finish(r, 0); last == nil || f > done[last] {
			last = r
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return 0, nil, fmt.Errorf("%s", strings.Join(missing, "\n"))
	}
	var path []*mocktest.Resource
	for r := last; r != nil; r = prev[r] {
		path = append([]*mocktest.Resource{r}, path...)
	}
	return done[last], path, nil
}

// TestFirstUpCriticalPath: the camp stack's first `pulumi up`, from the program's own dependency
// graph and docs/durations.yaml, takes at most 4.5 minutes; the path and its figures are printed
// (README "How long the first `pulumi up` takes" quotes them). Every resource and step the
// program makes has a duration with a source. The graph is the program's own (the mocked run
// records each resource's dependencies as the engine receives them); the durations are a model
// (waiter polls, boot times, estimates), not AWS: the worker-image and smoke steps print their
// real times on every `pulumi up`, to be put back into docs/durations.yaml.
func TestFirstUpCriticalPath(t *testing.T) {
	d := readDurations(t)
	r := deployStack(t, "camp", nil)
	total, path, err := criticalPath(r.mocks.Resources(), d)
	if err != nil {
		t.Fatalf("the first up cannot be timed:\n%v", err)
	}
	var lines []string
	for _, p := range path {
		own, _ := d.of(p)
		if own > 0 {
			lines = append(lines, fmt.Sprintf("  %-6.0f %s %s", own, p.Type, p.Name))
		}
	}
	t.Logf("first `pulumi up` of the camp stack: %.0f s (%.1f min) along\n%s", total, total/60, strings.Join(lines, "\n"))
	if total > 4.5*60 {
		t.Errorf("the first up takes %.0f s (%.1f min), more than 4.5 minutes", total, total/60)
	}
	// A course folder adds steps of its own; they are timed too.
	dir, err := os.MkdirTemp("testdata", "course-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.WriteFile(dir+"/day1.ipynb", []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	course := deployStack(t, "camp", map[string]string{"camphub:courseDir": dir})
	if _, _, err := criticalPath(course.mocks.Resources(), d); err != nil {
		t.Errorf("with a course folder: %v", err)
	}
}

// TestAStepWithoutADurationFailsTheTiming: a resource or step the table does not know stops the
// timing, naming it.
func TestAStepWithoutADurationFailsTheTiming(t *testing.T) {
	d := readDurations(t)
	r := deployStack(t, "camp", nil)
	res := append(r.mocks.Resources(),
		&mocktest.Resource{Type: "command:remote:Command", Name: "hub-new-step", Custom: true},
		&mocktest.Resource{Type: "aws:ec2/natGateway:NatGateway", Name: "network-nat", Custom: true})
	_, _, err := criticalPath(res, d)
	if err == nil || !strings.Contains(err.Error(), "step hub-new-step") || !strings.Contains(err.Error(), "aws:ec2/natGateway:NatGateway network-nat") {
		t.Errorf("new parts without durations were timed anyway: %v", err)
	}
}
