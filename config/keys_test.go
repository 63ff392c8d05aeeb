package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestPulumiYamlMatchesTheKeyTable: Pulumi.yaml documents exactly the keys of the key table
// (settings), each with the table's type, default and secrecy, a description (the key's doc
// line) and, for a bounded integer, its bounds written as lo..hi.
func TestPulumiYamlMatchesTheKeyTable(t *testing.T) {
	for _, problem := range keyTableProblems(t, "../Pulumi.yaml", settings) {
		t.Error(problem)
	}
}

// TestKeyTableCheckCatchesDrift: the check above fails for a key added to the table without
// a doc line in Pulumi.yaml, and for a key Pulumi.yaml documents that the table lacks.
func TestKeyTableCheckCatchesDrift(t *testing.T) {
	added := append(slices.Clone(settings), setting{Name: "gpuCount", Type: "integer", Default: 0, Min: 0, Max: 4})
	if p := keyTableProblems(t, "../Pulumi.yaml", added); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, "gpuCount") }) {
		t.Errorf("a key added to the table without a doc line passed: %v", p)
	}
	removed := slices.DeleteFunc(slices.Clone(settings), func(s setting) bool { return s.Name == "hubPort" })
	if p := keyTableProblems(t, "../Pulumi.yaml", removed); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, "hubPort") }) {
		t.Errorf("a key Pulumi.yaml documents and the table lacks passed: %v", p)
	}
}

func keyTableProblems(t *testing.T, path string, table []setting) []string {
	t.Helper()
	var project struct {
		Config map[string]struct {
			Type        string `yaml:"type"`
			Description string `yaml:"description"`
			Default     any    `yaml:"default"`
			Secret      bool   `yaml:"secret"`
		} `yaml:"config"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &project); err != nil {
		t.Fatal(err)
	}
	var problems []string
	inTable := map[string]bool{}
	for _, s := range table {
		inTable[s.Name] = true
		doc, ok := project.Config[s.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: in the key table but not documented in %s", s.Name, path))
			continue
		case strings.TrimSpace(doc.Description) == "":
			problems = append(problems, fmt.Sprintf("%s: no description (doc line) in %s", s.Name, path))
		case doc.Type != s.Type:
			problems = append(problems, fmt.Sprintf("%s: %s says type %s, the table %s", s.Name, path, doc.Type, s.Type))
		case fmt.Sprint(doc.Default) != fmt.Sprint(s.Default):
			problems = append(problems, fmt.Sprintf("%s: %s says default %v, the table %v", s.Name, path, doc.Default, s.Default))
		case doc.Secret != s.Secret:
			problems = append(problems, fmt.Sprintf("%s: %s says secret %v, the table %v", s.Name, path, doc.Secret, s.Secret))
		case s.Type == "integer" && s.Max > 0 && !strings.Contains(doc.Description, fmt.Sprintf("%d..%d", s.Min, s.Max)):
			problems = append(problems, fmt.Sprintf("%s: its description does not give the bounds %d..%d", s.Name, s.Min, s.Max))
		}
	}
	for name := range project.Config {
		if !inTable[name] {
			problems = append(problems, fmt.Sprintf("%s: documented in %s but not in the key table", name, path))
		}
	}
	return problems
}

// TestReadmeShowsThePathFormForEveryListKey: Pulumi refuses a plain string for a list key before
// the program runs, so the README's configuration section must show the --path form of each.
func TestReadmeShowsThePathFormForEveryListKey(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Configuration\n")
	section, _, _ = strings.Cut(section, "\n## ")
	n := 0
	for _, s := range settings {
		if s.Type != "array" {
			continue
		}
		n++
		if want := fmt.Sprintf("pulumi config set --path '%s:%s[0]' ", ns, s.Name); !strings.Contains(section, want) {
			t.Errorf("README's configuration section lacks %q", want)
		}
	}
	if n == 0 {
		t.Error("the key table has no list key: the check checks nothing")
	}
}
