package main

import (
	"strings"
	"testing"
)

// TestRosterFile: the class from a CSV file reaches the hub (as the roster step's secret input)
// with teachers as admins, and each home's quota: the default, 89 GiB of the camp's 100 GiB
// volume shared by its 5 homes.
func TestRosterFile(t *testing.T) {
	r := deployStack(t, "camp", map[string]string{
		"camphub:roster": "testdata/roster-good.csv", "camphub:adminEmails": "[]", "camphub:studentEmails": "[]",
	})
	stdin := r.mocks.Named(tCommand, "hub-roster").Inputs["stdin"].SecretValue().Element.StringValue()
	want := `{"users":["ada@example.org","grace@example.net","alan.t@example.com"],"admins":["teacher@example.org","assistant@example.org"],"exclusive":true,"home_quota_gib":17}`
	if strings.TrimSpace(stdin) != want {
		t.Errorf("roster sent to the hub:\n%s\nwant\n%s", stdin, want)
	}
}

// TestBadRosterFile: every bad line is reported with its line number, before any resource.
func TestBadRosterFile(t *testing.T) {
	for name, tc := range map[string]struct {
		overrides map[string]string
		want      []string
	}{
		"bad lines": {map[string]string{"camphub:roster": "testdata/roster-bad.csv", "camphub:adminEmails": "[]", "camphub:studentEmails": "[]"}, []string{
			`testdata/roster-bad.csv line 4: "Grace@Example.net" must be lower case`,
			`testdata/roster-bad.csv line 5: role "pupil" must be student or teacher`,
			`testdata/roster-bad.csv line 6: "ada@example.org" is already on line 3`,
			`testdata/roster-bad.csv line 7: "not-an-address" is not a plain e-mail address`,
		}},
		"line numbers count comments": {map[string]string{"camphub:roster": "testdata/roster-comment.csv", "camphub:adminEmails": "[]", "camphub:studentEmails": "[]"}, []string{
			`testdata/roster-comment.csv line 4: "BAD@x.org" must be lower case`,
		}},
		"two sources": {map[string]string{"camphub:roster": "testdata/roster-good.csv"}, []string{
			"camphub:roster and camphub:adminEmails/studentEmails both list the class; keep one source",
		}},
		"outside the repository": {map[string]string{"camphub:roster": "../roster.csv", "camphub:adminEmails": "[]", "camphub:studentEmails": "[]"}, []string{
			`camphub:roster "../roster.csv" must be a path inside the repository`,
		}},
		"missing file": {map[string]string{"camphub:roster": "testdata/nope.csv", "camphub:adminEmails": "[]", "camphub:studentEmails": "[]"}, []string{
			"camphub:roster cannot read testdata/nope.csv",
		}},
		"no header": {map[string]string{"camphub:roster": "testdata/roster-noheader.csv", "camphub:adminEmails": "[]", "camphub:studentEmails": "[]"}, []string{
			`must start with the header line "email,role,name"`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			r := runProgram(t, "camp", stackConfig(t, "camp", tc.overrides))
			if r.err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, r.err)
				}
			}
			if strings.Contains(r.err.Error(), "must list at least one") || strings.Contains(r.err.Error(), "is empty and") {
				t.Errorf("a follow-on error was reported:\n%v", r.err)
			}
			if n := len(r.mocks.Resources()); n != 0 {
				t.Errorf("%d resources were registered", n)
			}
		})
	}
}

// TestDomainAndRosterTogether: a hosted domain with a roster admits only the roster, not the
// whole domain.
func TestDomainAndRosterTogether(t *testing.T) {
	r := deployStack(t, "camp", map[string]string{
		"camphub:hostedDomain": "example.org", "camphub:studentEmails": `["ada@example.org"]`,
	})
	create := r.mocks.Named(tCommand, "hub-config").Inputs["create"].StringValue()
	// jupyterhub_config.py sets GoogleOAuthenticator.allow_all from camphub.json's allow_all.
	if !strings.Contains(create, `"allow_all": false,`) || strings.Contains(create, `"allow_all": true`) {
		t.Error("with a roster, the hosted domain's every account may log in")
	}
	whole := deployStack(t, "camp", map[string]string{"camphub:hostedDomain": "example.org", "camphub:studentEmails": "[]"})
	if !strings.Contains(whole.mocks.Named(tCommand, "hub-config").Inputs["create"].StringValue(), `"allow_all": true,`) {
		t.Error("a hosted domain without a roster does not admit the domain")
	}
}
