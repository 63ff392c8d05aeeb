package main

import (
	"strings"
	"testing"

	"github.com/camphub/camphub/config"
)

// The organisers' mistakes (each kind with variants of its own): every one is refused with its
// key and its fix before any resource is made, or, for a spreadsheet's roster, read as meant.

// refused runs the camp stack with overrides and wants it refused, every fragment in the
// message, nothing registered.
func refused(t *testing.T, overrides map[string]string, want ...string) string {
	t.Helper()
	r := runProgram(t, "camp", stackConfig(t, "camp", overrides))
	if r.err == nil {
		t.Fatalf("%v was accepted; want %q", overrides, want)
	}
	for _, w := range want {
		if !strings.Contains(r.err.Error(), w) {
			t.Errorf("%v: the refusal does not say %q:\n%v", overrides, w, r.err)
		}
	}
	if n := len(r.mocks.Resources()); n != 0 {
		t.Errorf("%v: %d resources were registered before the refusal", overrides, n)
	}
	if refusal, ok := config.IsRefusal(r.err); ok {
		for _, p := range refusal.Problems {
			if !saysTheFix(p.Error()) {
				t.Errorf("says what is wrong but not what to do: %v", p)
			}
		}
	} else {
		t.Errorf("%v: not a refusal: %v", overrides, r.err)
	}
	return r.err.Error()
}

// TestSpreadsheetRostersAreRead: the roster as spreadsheet programs save it (Excel's "CSV
// UTF-8" with a byte-order mark, CRLF and every field quoted; Excel's "sep=;" line and
// semicolons; semicolons alone; tabs) gives the hub the same class as the plain file.
func TestSpreadsheetRostersAreRead(t *testing.T) {
	want := `{"users":["ada@example.org","grace@example.net","alan.t@example.com"],"admins":["teacher@example.org","assistant@example.org"],"exclusive":true,"home_quota_gib":17}`
	for _, file := range []string{"roster-excel-utf8.csv", "roster-excel-semicolon.csv", "roster-semicolon.csv", "roster-tabs.csv"} {
		t.Run(file, func(t *testing.T) {
			r := deployStack(t, "camp", map[string]string{
				"camphub:roster": "testdata/" + file, "camphub:adminEmails": "[]", "camphub:studentEmails": "[]",
			})
			stdin := r.mocks.Named(tCommand, "hub-roster").Inputs["stdin"].SecretValue().Element.StringValue()
			if strings.TrimSpace(stdin) != want {
				t.Errorf("roster sent to the hub:\n%s\nwant\n%s", stdin, want)
			}
		})
	}
}

// TestRosterInAnotherEncodingIsRefused: UTF-16 ("Unicode Text") and a local 8-bit encoding are
// refused with how to save the file instead, not as a wrong header.
func TestRosterInAnotherEncodingIsRefused(t *testing.T) {
	for file, what := range map[string]string{"roster-utf16.csv": "is saved as UTF-16", "roster-latin1.csv": "is not UTF-8 text"} {
		msg := refused(t, map[string]string{"camphub:roster": "testdata/" + file, "camphub:adminEmails": "[]", "camphub:studentEmails": "[]"},
			"camphub:roster testdata/"+file+" "+what, `save it again as "CSV UTF-8 (comma delimited)"`)
		if strings.Contains(msg, "header") {
			t.Errorf("%s: the refusal talks about the header line:\n%s", file, msg)
		}
	}
}

// TestLimitsAWorkerCannotGive: a CPU or memory limit above what one worker of the chosen type
// has is refused at preflight (t4g.xlarge: 4 vCPUs, 16 GiB), naming the limit, the type and both
// fixes; a limit the type can give passes.
func TestLimitsAWorkerCannotGive(t *testing.T) {
	refused(t, map[string]string{"camphub:studentCpuLimit": "6"},
		"camphub:studentCpuLimit 6 is more than the 4 vCPUs of one t4g.xlarge", "set it to 4 or less, or choose a larger camphub:workerInstanceType")
	refused(t, map[string]string{"camphub:studentCpuLimit": "2.5", "camphub:workerInstanceType": "t3.large"},
		"camphub:studentCpuLimit 2.5 is more than the 2 vCPUs of one t3.large")
	refused(t, map[string]string{"camphub:studentMemLimit": "16G"},
		"camphub:studentMemLimit 16 GiB is more than one t4g.xlarge can give a server", "set it to 15728M or less, or choose a larger camphub:workerInstanceType")
	if r := runProgram(t, "camp", stackConfig(t, "camp", map[string]string{"camphub:studentCpuLimit": "4", "camphub:studentMemLimit": "15G"})); r.err != nil {
		t.Errorf("limits a t4g.xlarge can give were refused: %v", r.err)
	}
}

// TestKeysInAnotherNamespace: a key outside camphub:, aws: and pulumi: is refused, with the
// camphub key meant when there is one.
func TestKeysInAnotherNamespace(t *testing.T) {
	refused(t, map[string]string{"camphb:workerCount": "3"},
		`camphb:workerCount is in namespace "camphb", which nothing reads`, "did you mean camphub:workerCount?", "pulumi config rm camphb:workerCount")
	refused(t, map[string]string{"jupyterhub:idleTimeoutMinutes": "30"},
		"did you mean camphub:idleTimeoutMinutes?")
	refused(t, map[string]string{"hub:colour": "blue"},
		`hub:colour is in namespace "hub"`, "camphub's settings are written camphub:NAME")
}

// TestRegionShape: aws:region is one of the provider's regions; a near miss names the region
// meant, a zone names its region.
func TestRegionShape(t *testing.T) {
	refused(t, map[string]string{"aws:region": "US-West-2"}, `aws:region "US-West-2" is not an AWS region; did you mean us-west-2?`, "pulumi config set aws:region us-west-2")
	refused(t, map[string]string{"aws:region": "eu-west-1b"}, `aws:region "eu-west-1b" is an availability zone`, "pulumi config set aws:region eu-west-1")
	refused(t, map[string]string{"aws:region": "eu_central_1"}, "did you mean eu-central-1?")
	refused(t, map[string]string{"aws:region": "oregon"}, `aws:region "oregon" is not an AWS region`, "aws ec2 describe-regions")
}

// TestOnePersonInTwoLists: a teacher also listed among the students is refused (seats and the
// cost per student would count them twice), one line a person.
func TestOnePersonInTwoLists(t *testing.T) {
	refused(t, map[string]string{"camphub:studentEmails": `["rivera@example.org","kim@example.org"]`, "camphub:adminEmails": `["rivera@example.org"]`},
		`camphub:studentEmails lists "rivera@example.org", who is also in camphub:adminEmails`, "remove it from studentEmails")
	msg := refused(t, map[string]string{"camphub:studentEmails": `["a@example.org","b@example.org","c@example.org"]`, "camphub:adminEmails": `["a@example.org","b@example.org"]`})
	if n := strings.Count(msg, "who is also in camphub:adminEmails"); n != 2 {
		t.Errorf("two people in both lists gave %d lines, want 2:\n%s", n, msg)
	}
}

// TestMessagesSayTheFix: the mistakes whose message said only "not valid" now say what to write.
func TestMessagesSayTheFix(t *testing.T) {
	refused(t, map[string]string{"camphub:notebookImage": "https://quay.io/jupyter/scipy-notebook:2025-12-31"},
		"has a URL scheme", "write it without: quay.io/jupyter/scipy-notebook:2025-12-31")
	refused(t, map[string]string{"camphub:notebookImage": "docker.io/Jupyter/SciPy-Notebook:2025-12-31"},
		"write it as docker.io/jupyter/scipy-notebook:2025-12-31")
	refused(t, map[string]string{"camphub:schedule": "Mon-Fri 08:30-16:30 America/Denver"}, `days "Mon-Fri"`, "write MON-FRI")
	refused(t, map[string]string{"camphub:schedule": "monday,wednesday 08:30-16:30 America/Denver"}, "write MON,WED")
	refused(t, map[string]string{"camphub:workerCount": "three"}, "write it in digits: `pulumi config set camphub:workerCount 2`")
	refused(t, map[string]string{"camphub:idleTimeoutMinutes": "5"}, "`pulumi config set camphub:idleTimeoutMinutes 10`")
}

// TestRefusalReadsAsARefusal: what main logs for a refusal (and nothing else: it exits with the
// engine's "already reported" status instead of returning the error to Pulumi's wrapper) is one
// heading that counts the problems and says nothing was created, then one line a problem; the
// preflight's problems are counted the same way.
func TestRefusalReadsAsARefusal(t *testing.T) {
	logged := func(overrides map[string]string) string {
		t.Helper()
		r := runProgram(t, "camp", stackConfig(t, "camp", overrides))
		refusal, ok := config.IsRefusal(r.err)
		if !ok {
			t.Fatalf("%v: not a refusal: %v", overrides, r.err)
		}
		return refusal.Error()
	}
	msg := logged(map[string]string{"camphub:workerCount": "0", "camphub:hubPort": "22", "camphub:notebookImage": "scipy-notebook"})
	if first, _, _ := strings.Cut(msg, "\n"); first != "camphub: 3 problems in stack camp's configuration; nothing was created" {
		t.Errorf("heading %q", first)
	}
	if n := strings.Count(msg, "\n  - camphub:"); n != 3 {
		t.Errorf("%d problem lines, want 3:\n%s", n, msg)
	}
	one := logged(map[string]string{"camphub:studentCpuLimit": "8"})
	if first, _, _ := strings.Cut(one, "\n"); first != "camphub: 1 problem in stack camp's configuration; nothing was created" {
		t.Errorf("preflight's heading %q", first)
	}
	if strings.Contains(msg+one, "error occurred") || strings.Contains(msg+one, "unhandled") {
		t.Errorf("the refusal reads as a crash:\n%s\n%s", msg, one)
	}
}
