// Package deploy holds the IAM policies and trust documents of the CI roles (JSON); its tests read
// them as an attacker would.
package deploy

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/camphub/camphub/components"
)

type policyDoc struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Principal any
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
}

func readPolicy(t *testing.T, path string) policyDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d policyDoc
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

func asList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// grants reports whether a policy action pattern (with * wildcards) covers action.
func grants(pattern, action string) bool {
	pattern, action = strings.ToLower(pattern), strings.ToLower(action)
	if !strings.Contains(pattern, "*") {
		return pattern == action
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(action, parts[0]) {
		return false
	}
	rest := action[len(parts[0]):]
	for _, p := range parts[1:] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return strings.HasSuffix(pattern, "*") || rest == ""
}

// TestDeployPolicyHasNoPathToAdmin: the deploy role can create, attach and pass roles only as
// the snapshot and schedule roles need: a created role is bounded by the snapshot policy or the
// start/stop boundary, only the snapshot policy may be attached, and a role may be passed only
// to the snapshot service or the scheduler. Without these
// conditions the role could make itself an administrator (create a role trusting itself,
// attach AdministratorAccess).
func TestDeployPolicyHasNoPathToAdmin(t *testing.T) {
	// Each role-making action is allowed only with one of these conditions: the snapshot role
	// bounded by and attached to AWS's snapshot policy and passed to DLM, the schedule role
	// bounded by the start/stop boundary and passed to the scheduler.
	scheduleBoundary := "arn:aws:iam::*:policy/" + components.ScheduleBoundaryPolicy
	narrowing := map[string][]struct{ key, value string }{
		"iam:CreateRole":                 {{"iam:PermissionsBoundary", components.SnapshotPolicyARN}, {"iam:PermissionsBoundary", scheduleBoundary}},
		"iam:PutRolePolicy":              {{"iam:PermissionsBoundary", scheduleBoundary}},
		"iam:AttachRolePolicy":           {{"iam:PolicyARN", components.SnapshotPolicyARN}},
		"iam:PutRolePermissionsBoundary": {{"iam:PermissionsBoundary", components.SnapshotPolicyARN}},
		"iam:PassRole":                   {{"iam:PassedToService", "dlm.amazonaws.com"}, {"iam:PassedToService", "scheduler.amazonaws.com"}},
	}
	forbidden := []string{"iam:DeleteRolePermissionsBoundary", "iam:CreatePolicy", "iam:CreatePolicyVersion",
		"iam:UpdateAssumeRolePolicy", "iam:CreateUser", "iam:AttachUserPolicy", "iam:CreateAccessKey", "sts:AssumeRole"}
	d := readPolicy(t, "iam-policy.json")
	found := map[string]bool{}
	for _, st := range d.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, pattern := range asList(st.Action) {
			for _, f := range forbidden {
				if grants(pattern, f) {
					t.Errorf("statement %s grants %s (%s)", st.Sid, f, pattern)
				}
			}
			for action, conds := range narrowing {
				if !grants(pattern, action) {
					continue
				}
				found[action] = true
				ok := false
				for _, cond := range conds {
					for _, kv := range st.Condition {
						if slices.Equal(asList(kv[cond.key]), []string{cond.value}) {
							ok = true
						}
					}
				}
				if !ok {
					t.Errorf("statement %s grants %s without one of the conditions %v", st.Sid, action, conds)
				}
			}
		}
	}
	for _, a := range []string{"iam:CreateRole", "iam:AttachRolePolicy", "iam:PassRole"} {
		if !found[a] {
			t.Errorf("the deploy policy does not grant %s; the snapshot role cannot be made", a)
		}
	}
	// The program makes the role as the policy demands: TestSnapshotRoleHasItsBoundary.
}

// TestScheduleBoundaryOnlyStartsAndStops: whatever the schedule role's own policy says, its
// boundary lets it start and stop camphub's instances and nothing else.
func TestScheduleBoundaryOnlyStartsAndStops(t *testing.T) {
	d := readPolicy(t, "iam-schedule-boundary.json")
	for _, st := range d.Statement {
		if st.Effect != "Allow" {
			continue
		}
		if a := asList(st.Action); !slices.Equal(a, []string{"ec2:StartInstances", "ec2:StopInstances"}) {
			t.Errorf("the boundary allows %v", a)
		}
		if st.Condition["StringEquals"]["aws:ResourceTag/Project"] != "camphub" {
			t.Errorf("the boundary reaches instances not tagged Project=camphub: %v", st.Condition)
		}
	}
}

// TestPreviewPolicyOnlyReads: the pull-request preview role reads; it can change nothing.
func TestPreviewPolicyOnlyReads(t *testing.T) {
	d := readPolicy(t, "iam-preview-policy.json")
	for _, st := range d.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range asList(st.Action) {
			verb := a[strings.IndexByte(a, ':')+1:]
			if !(strings.HasPrefix(verb, "Describe") || strings.HasPrefix(verb, "Get") || strings.HasPrefix(verb, "List")) {
				t.Errorf("statement %s grants %s, which is not a read", st.Sid, a)
			}
		}
	}
}

// TestRolesTrustOnlyTheirJobs: a stack's deploy role (one per stack, STACK filled in) is
// assumable only by deploy.yml at main, in that stack's environment (approval-gated, main only),
// exactly (StringEquals); the preview
// role only by preview.yml on a pull request, in the preview environment: the one wildcard is the
// pull request's number. The subjects carry job_workflow_ref once the repository's OIDC subject
// is customized (README "Pull requests and CI"): a branch that names `environment: camp` in
// another workflow, or in deploy.yml on another branch, gets no credentials.
func TestRolesTrustOnlyTheirJobs(t *testing.T) {
	const deployRef = ":job_workflow_ref:OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main"
	const previewRef = ":job_workflow_ref:OWNER/REPO/.github/workflows/preview.yml@refs/pull/*/merge"
	for file, want := range map[string]struct {
		equals, like []string
	}{
		"trust-deploy.json":  {equals: []string{"repo:OWNER/REPO:environment:STACK" + deployRef}},
		"trust-preview.json": {like: []string{"repo:OWNER/REPO:environment:preview" + previewRef}},
	} {
		d := readPolicy(t, file)
		for _, st := range d.Statement {
			equals := asList(st.Condition["StringEquals"]["token.actions.githubusercontent.com:sub"])
			like := asList(st.Condition["StringLike"]["token.actions.githubusercontent.com:sub"])
			if !slices.Equal(equals, want.equals) || !slices.Equal(like, want.like) {
				t.Errorf("%s trusts %v (exactly) and %v (patterns), want %v and %v", file, equals, like, want.equals, want.like)
			}
			for _, p := range like {
				if strings.Count(p, "*") != 1 || strings.Count(p, "?") != 0 {
					t.Errorf("%s: the pattern %q may match more than one pull request's number", file, p)
				}
			}
			if aud := asList(st.Condition["StringEquals"]["token.actions.githubusercontent.com:aud"]); !slices.Equal(aud, []string{"sts.amazonaws.com"}) {
				t.Errorf("%s: audience %v, want sts.amazonaws.com", file, aud)
			}
		}
	}
}
