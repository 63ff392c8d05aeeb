package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/camphub/camphub/config"
)

func TestBadConfigIsRefusedBeforeAnyResource(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]string
		plain     bool     // the OAuth secret was set without --secret
		want      []string // every fragment must appear in the error
	}{
		{"admin CIDR not a CIDR", map[string]string{"camphub:adminCidrs": `["203.0.113.300/32"]`}, false,
			[]string{"camphub:adminCidrs", `"203.0.113.300/32" is not a CIDR block`}},
		{"admin CIDR with host bits", map[string]string{"camphub:adminCidrs": `["203.0.113.7/24"]`}, false,
			[]string{"camphub:adminCidrs", "did you mean 203.0.113.0/24"}},
		{"SSH open to the world", map[string]string{"camphub:adminCidrs": `["0.0.0.0/0"]`}, false,
			[]string{"camphub:adminCidrs", "whole internet"}},
		{"SSH open to half the internet", map[string]string{"camphub:adminCidrs": `["0.0.0.0/1"]`}, false,
			[]string{"camphub:adminCidrs", `"0.0.0.0/1" admits 2147483648 addresses`, "/16 or narrower"}},
		{"admin CIDR one bit too wide (/15)", map[string]string{"camphub:adminCidrs": `["198.50.0.0/15"]`}, false,
			[]string{"camphub:adminCidrs", `"198.50.0.0/15" admits 131072 addresses`}},
		{"admin CIDR on a home LAN", map[string]string{"camphub:adminCidrs": `["192.168.1.23/32"]`}, false,
			[]string{"camphub:adminCidrs", `"192.168.1.23/32" is a private or local address`, "checkip"}},
		{"admin CIDR in IPv6", map[string]string{"camphub:adminCidrs": `["2001:db8::/48"]`}, false,
			[]string{"camphub:adminCidrs", "is IPv6", "IPv4 only"}},
		{"the same admin CIDR twice", map[string]string{"camphub:adminCidrs": `["203.0.113.7/32","203.0.113.7/32"]`}, false,
			[]string{"camphub:adminCidrs lists \"203.0.113.7/32\" twice"}},
		{"no admin CIDR", map[string]string{"camphub:adminCidrs": `[]`}, false,
			[]string{"camphub:adminCidrs must list at least one CIDR"}},
		{"admin CIDRs not a list", map[string]string{"camphub:adminCidrs": `203.0.113.0/24`}, false,
			[]string{"camphub:adminCidrs must be a YAML list"}},
		{"worker count 0", map[string]string{"camphub:workerCount": "0"}, false,
			[]string{"camphub:workerCount must be 1..50, got 0"}},
		{"worker count 1000", map[string]string{"camphub:workerCount": "1000"}, false,
			[]string{"camphub:workerCount must be 1..50, got 1000"}},
		{"worker count not a number", map[string]string{"camphub:workerCount": "five"}, false,
			[]string{"camphub:workerCount must be a whole number"}},
		{"instance type format", map[string]string{"camphub:workerInstanceType": "xlarge"}, false,
			[]string{"camphub:workerInstanceType", "is not an EC2 instance type"}},
		{"Arm instance type", map[string]string{"camphub:hubInstanceType": "t4g.medium"}, false,
			[]string{`camphub:hubInstanceType "t4g.medium" runs arm64`, "x86_64"}},
		{"malformed admin e-mail", map[string]string{"camphub:adminEmails": `["teacher(at)example.org"]`}, false,
			[]string{"camphub:adminEmails", "not a plain e-mail address"}},
		{"display name in e-mail", map[string]string{"camphub:studentEmails": `["Ada <ada@example.org>"]`}, false,
			[]string{"camphub:studentEmails", "not a plain e-mail address"}},
		{"upper-case e-mail", map[string]string{"camphub:studentEmails": `["Ada@Example.org"]`}, false,
			[]string{"camphub:studentEmails", "must be lower case"}},
		{"duplicate student", map[string]string{"camphub:studentEmails": `["ada@example.org","bob@example.org","ada@example.org"]`}, false,
			[]string{"camphub:studentEmails lists \"ada@example.org\" twice"}},
		{"no admins", map[string]string{"camphub:adminEmails": `[]`}, false,
			[]string{"camphub:adminEmails must list at least one"}},
		{"empty roster and no hosted domain", map[string]string{"camphub:studentEmails": `[]`}, false,
			[]string{"camphub:studentEmails is empty", "hostedDomain"}},
		{"student outside the hosted domain", map[string]string{"camphub:hostedDomain": "example.org"}, false,
			[]string{"camphub:studentEmails", `"grace@example.net" is outside camphub:hostedDomain example.org`}},
		{"OAuth secret in plain text", nil, true,
			[]string{"camphub:oauthClientSecret is stored in plain text", "pulumi config set --secret camphub:oauthClientSecret"}},
		{"OAuth secret empty", map[string]string{"camphub:oauthClientSecret": " "}, false,
			[]string{"camphub:oauthClientSecret is empty"}},
		{"OAuth secret missing", map[string]string{"camphub:oauthClientSecret": ""}, false,
			[]string{"camphub:oauthClientSecret is not set", "--secret"}},
		{"OAuth client id malformed", map[string]string{"camphub:oauthClientId": "my-client"}, false,
			[]string{"camphub:oauthClientId", "apps.googleusercontent.com"}},
		{"OAuth client id missing", map[string]string{"camphub:oauthClientId": ""}, false,
			[]string{"camphub:oauthClientId is not set", "pulumi config set camphub:oauthClientId"}},
		{"port out of range", map[string]string{"camphub:hubPort": "70000"}, false,
			[]string{"camphub:hubPort must be 1..65535, got 70000"}},
		{"port taken by the cluster", map[string]string{"camphub:hubPort": "2049"}, false,
			[]string{"camphub:hubPort 2049 is used by NFS"}},
		{"image without a tag", map[string]string{"camphub:notebookImage": "quay.io/jupyter/scipy-notebook"}, false,
			[]string{"camphub:notebookImage", "has no tag"}},
		{"image with a registry port but no tag", map[string]string{"camphub:notebookImage": "registry.example.org:5000/notebook"}, false,
			[]string{"camphub:notebookImage", "has no tag"}},
		{"image on latest", map[string]string{"camphub:notebookImage": "quay.io/jupyter/scipy-notebook:latest"}, false,
			[]string{"camphub:notebookImage", ":latest"}},
		{"memory size unit", map[string]string{"camphub:studentMemLimit": "2GB"}, false,
			[]string{"camphub:studentMemLimit must be a size such as 512M or 2G"}},
		{"guarantee above limit", map[string]string{"camphub:studentMemGuarantee": "8G"}, false,
			[]string{"camphub:studentMemGuarantee 8G is more than camphub:studentMemLimit 4G"}},
		{"CPU not a number", map[string]string{"camphub:studentCpuLimit": "two"}, false,
			[]string{"camphub:studentCpuLimit must be a number of CPUs"}},
		{"idle timeout too short", map[string]string{"camphub:idleTimeoutMinutes": "1"}, false,
			[]string{"camphub:idleTimeoutMinutes must be 10..1440, got 1"}},
		{"VPC not private", map[string]string{"camphub:vpcCidr": "8.8.0.0/16"}, false,
			[]string{"camphub:vpcCidr", "private range"}},
		{"VPC too small", map[string]string{"camphub:vpcCidr": "10.0.0.0/28"}, false,
			[]string{"camphub:vpcCidr", "between /16 and /24"}},
		{"AMI id malformed", map[string]string{"camphub:amiId": "al2023"}, false,
			[]string{"camphub:amiId", "is not an AMI id"}},
		{"volume too small", map[string]string{"camphub:nfsVolumeSizeGiB": "1"}, false,
			[]string{"camphub:nfsVolumeSizeGiB must be 10..16384, got 1"}},
		{"e-mail local part of 65", map[string]string{"camphub:studentEmails": `["` + strings.Repeat("a", 65) + `@example.org"]`}, false,
			[]string{"camphub:studentEmails", "longer than an e-mail address can be"}},
		{"e-mail of 255 characters", map[string]string{"camphub:studentEmails": `["` + longEmail(255) + `"]`}, false,
			[]string{"camphub:studentEmails", "longer than an e-mail address can be"}},
		{"an address a smoke probe could take", map[string]string{"camphub:hostedDomain": "example.org", "camphub:studentEmails": `["camphub-probe-1@example.org"]`, "camphub:adminEmails": `["teacher@example.org"]`}, false,
			[]string{"camphub:studentEmails", "keeps for its smoke probes"}},
		{"misspelt key", map[string]string{"camphub:workerCont": "3"}, false,
			[]string{"camphub:workerCont is not a camphub setting; did you mean camphub:workerCount?"}},
		{"consumer Gmail as hosted domain", map[string]string{"camphub:hostedDomain": "gmail.com", "camphub:studentEmails": "[]", "camphub:adminEmails": `["teacher@gmail.com"]`}, false,
			[]string{"camphub:hostedDomain", "consumer mail", "nobody could log in"}},
		{"client id pasted as the secret", map[string]string{"camphub:oauthClientSecret": "123456789012-abcdefghijklmnop.apps.googleusercontent.com"}, false,
			[]string{"camphub:oauthClientSecret holds an OAuth client id, not the client secret"}},
		{"secret too short to be one", map[string]string{"camphub:oauthClientSecret": "secret"}, false,
			[]string{"camphub:oauthClientSecret does not look like a Google OAuth client secret"}},
		{"Graviton 1 instance", map[string]string{"camphub:workerInstanceType": "a1.large"}, false,
			[]string{`camphub:workerInstanceType "a1.large" runs arm64`}},
		{"instance type with a trailing letter", map[string]string{"camphub:workerInstanceType": "t3.largee"}, false,
			[]string{"camphub:workerInstanceType", "is not an EC2 instance type"}},
		{"hub port on the hub's own API port", map[string]string{"camphub:hubPort": "8081"}, false,
			[]string{"camphub:hubPort 8081 is used by the hub's internal API"}},
		{"hub port on the proxy's API port", map[string]string{"camphub:hubPort": "8001"}, false,
			[]string{"camphub:hubPort 8001 is used by the proxy's API"}},
		{"retain flag not a bool", map[string]string{"camphub:nfsRetainVolumeOnDestroy": "keep"}, false,
			[]string{"camphub:nfsRetainVolumeOnDestroy must be true or false"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackConfig(t, "camp", tc.overrides)
			secret := []string{"camphub:oauthClientSecret"}
			if tc.plain {
				secret = []string{}
			}
			r := runProgram(t, "camp", cfg, secret...)
			if r.err == nil {
				t.Fatalf("config was accepted; want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
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
