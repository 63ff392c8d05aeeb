package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/camphub/camphub/config"
	"gopkg.in/yaml.v3"
)

func TestBadConfigIsRefusedBeforeAnyResource(t *testing.T) {
	var cases []badConfig
	b, err := os.ReadFile("testdata/bad-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	// Addresses at the length limits, made here.
	cases = append(cases,
		badConfig{Name: "e-mail local part of 65", Set: map[string]string{"camphub:studentEmails": `["` + strings.Repeat("a", 65) + `@example.org"]`},
			Want: []string{"camphub:studentEmails", "is longer than an e-mail address can be"}},
		badConfig{Name: "e-mail of 255 characters", Set: map[string]string{"camphub:studentEmails": `["` + longEmail(255) + `"]`},
			Want: []string{"camphub:studentEmails", "is longer than an e-mail address can be"}})
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			cfg := stackConfig(t, "camp", tc.Set)
			secret := []string{"camphub:oauthClientSecret"}
			if tc.Plain {
				secret = []string{}
			}
			r := runProgram(t, "camp", cfg, secret...)
			if r.err == nil {
				t.Fatalf("config was accepted; want an error containing %q", tc.Want)
			}
			for _, w := range tc.Want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, r.err)
				}
			}
			if n := len(r.mocks.Resources()); n != 0 {
				t.Errorf("%d resources were registered before the config was refused", n)
			}
			if refusal, ok := config.IsRefusal(r.err); ok {
				for _, p := range refusal.Problems {
					if !saysTheFix(p.Error()) {
						t.Errorf("says what is wrong but not what to do: %v", p)
					}
				}
			}
		})
	}
}

// badConfig is one case of testdata/bad-config.yaml.
type badConfig struct {
	Name  string            `yaml:"name"`
	Set   map[string]string `yaml:"set"`
	Plain bool              `yaml:"plainSecret"`
	Want  []string          `yaml:"want"`
}

// fixWords are how a message tells the organiser what to do.
var fixWords = regexp.MustCompile(`(?i)\b(set|write|remove|pick|choose|lower|raise|list|leave|create|copy|did you mean|use|add|save|give|move|clear|keep|find|make|ask|request|pin|snapshot|export)\b`)

// saysTheFix tells whether a problem's line says what to do about it, not only what is wrong.
func saysTheFix(msg string) bool {
	return fixWords.MatchString(msg)
}

// TestOnlyRealProblemsAreReported: a rejected list entry is one problem, not also "the list is
// empty".
// TestNumericBounds: every whole-number setting at its last good value is accepted and at its
// first bad one refused, naming the key and the range.
func TestNumericBounds(t *testing.T) {
	for _, b := range []struct {
		key            string
		lo, hi         int
		goodLo, goodHi bool
	}{
		{"workerCount", 1, 50, true, true},
		{"nfsVolumeSizeGiB", 10, 16384, true, true},
		{"nfsSnapshotRetainDays", 1, 35, true, true},
		{"idleTimeoutMinutes", 10, 1440, true, true},
		{"hubPort", 1, 65535, false, true}, // port 1 is a good number but a poor port; bounds only
	} {
		for _, v := range []struct {
			n  int
			ok bool
		}{{b.lo - 1, false}, {b.hi + 1, false}, {b.hi, b.goodHi}, {b.lo, b.goodLo}} {
			if b.key == "hubPort" && v.n == b.lo {
				continue
			}
			r := runProgram(t, "camp", stackConfig(t, "camp", map[string]string{"camphub:" + b.key: strconv.Itoa(v.n)}))
			want := fmt.Sprintf("camphub:%s must be %d..%d, got %d", b.key, b.lo, b.hi, v.n)
			switch {
			case v.ok && r.err != nil:
				t.Errorf("%s = %d (in range) refused: %v", b.key, v.n, r.err)
			case !v.ok && (r.err == nil || !strings.Contains(r.err.Error(), want)):
				t.Errorf("%s = %d: got %v, want %q", b.key, v.n, r.err, want)
			}
		}
	}
}

func TestOnlyRealProblemsAreReported(t *testing.T) {
	for key, bad := range map[string]string{
		"camphub:adminCidrs":    `["0.0.0.0/0"]`,
		"camphub:studentEmails": `["not-an-address"]`,
		"camphub:adminEmails":   `["Teacher@Example.org"]`,
	} {
		r := runProgram(t, "camp", stackConfig(t, "camp", map[string]string{key: bad}))
		if r.err == nil {
			t.Fatalf("%s %s was accepted", key, bad)
		}
		if n := strings.Count(r.err.Error(), key); n != 1 {
			t.Errorf("%s %s: %d problems reported, want 1:\n%v", key, bad, n, r.err)
		}
	}
}

func TestAllProblemsAreReportedTogether(t *testing.T) {
	cfg := stackConfig(t, "camp", map[string]string{
		"camphub:workerCount":   "0",
		"camphub:hubPort":       "0",
		"camphub:notebookImage": "scipy-notebook",
	})
	r := runProgram(t, "camp", cfg)
	if r.err == nil {
		t.Fatal("config was accepted")
	}
	for _, key := range []string{"camphub:workerCount", "camphub:hubPort", "camphub:notebookImage"} {
		if !strings.Contains(r.err.Error(), key) {
			t.Errorf("error does not mention %s:\n%v", key, r.err)
		}
	}
}

func TestGoodConfigVariants(t *testing.T) {
	for name, overrides := range map[string]map[string]string{
		"hosted domain admits everyone": {
			"camphub:hostedDomain": "example.org", "camphub:studentEmails": "[]",
		},
		"image pinned by digest": {
			"camphub:notebookImage": "quay.io/jupyter/scipy-notebook@sha256:" + strings.Repeat("ab", 32),
		},
		"private registry with port and tag": {
			"camphub:notebookImage": "registry.example.org:5000/camp/notebook:2026-06",
		},
		"widest admin CIDR (/16)": {
			"camphub:adminCidrs": `["198.51.0.0/16"]`,
		},
		"fifty workers": {
			"camphub:workerCount": "50",
		},
		"longest e-mail addresses": {
			"camphub:studentEmails": `["` + strings.Repeat("a", 64) + `@example.org","` + longEmail(254) + `"]`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			if r := runProgram(t, "camp", stackConfig(t, "camp", overrides)); r.err != nil {
				t.Fatalf("refused a good config: %v", r.err)
			}
		})
	}
}

func BenchmarkCampProgram(b *testing.B) {
	for _, workers := range []string{"2", "10", "50"} {
		b.Run("workers="+workers, func(b *testing.B) {
			cfg := stackConfig(b, "camp", map[string]string{"camphub:workerCount": workers})
			b.ReportAllocs()
			for b.Loop() {
				if r := runProgram(b, "camp", cfg); r.err != nil {
					b.Fatal(r.err)
				}
			}
		})
	}
}

// TestProgramCostIsLinearInWorkers pins the benchmark's promise without timing anything: the
// allocations one more worker costs stay the same from 2 to 10 to 50 workers.
func TestProgramCostIsLinearInWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 3 program runs")
	}
	allocs := map[int]float64{}
	for _, n := range []int{2, 10, 50} {
		cfg := stackConfig(t, "camp", map[string]string{"camphub:workerCount": strconv.Itoa(n)})
		allocs[n] = testing.AllocsPerRun(3, func() {
			if r := runProgram(t, "camp", cfg); r.err != nil {
				t.Fatal(r.err)
			}
		})
	}
	low := (allocs[10] - allocs[2]) / 8
	high := (allocs[50] - allocs[10]) / 40
	if high > 1.3*low || high < 0.7*low {
		t.Errorf("allocations per worker: %.0f from 2 to 10 workers, %.0f from 10 to 50: not linear", low, high)
	}
}

// longEmail is a valid address of n characters: a 64-character local part and a domain of
// 63-character labels.
func longEmail(n int) string {
	local := strings.Repeat("m", 64)
	domain := "example.org"
	for len(local)+1+len(domain) < n {
		label := min(63, n-len(local)-1-len(domain)-1)
		if label < 1 {
			label = 1
			domain = domain[1:]
		}
		domain = strings.Repeat("d", label) + "." + domain
	}
	return local + "@" + domain
}

func TestLongEmailIsAsLongAsAsked(t *testing.T) {
	for _, n := range []int{100, 254, 255} {
		e := longEmail(n)
		labelsOK := true
		for _, l := range strings.Split(e[strings.IndexByte(e, '@')+1:], ".") {
			labelsOK = labelsOK && len(l) >= 1 && len(l) <= 63
		}
		if len(e) != n || !labelsOK {
			t.Errorf("longEmail(%d) = %q (%d characters)", n, e, len(e))
		}
	}
}
