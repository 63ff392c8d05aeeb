package deploy

import (
	"strings"
	"testing"
)

// The deploy policy as a stack's role holds it: STACK filled in (README "Pull requests and CI").
const stack = "camp"

func deployPolicy(t *testing.T) policyDoc {
	t.Helper()
	d := readPolicy(t, "iam-policy.json")
	for i := range d.Statement {
		for _, kv := range d.Statement[i].Condition {
			for k, v := range kv {
				if s, ok := v.(string); ok && s == "STACK" {
					kv[k] = stack
				}
			}
		}
	}
	return d
}

var (
	ours      = map[string]string{"Project": "camphub", "Stack": stack, "Role": "hub", "Name": "camphub-camp-hub"}
	otherOurs = map[string]string{"Project": "camphub", "Stack": "dev", "Role": "hub", "Name": "camphub-dev-hub"}
	foreign   = map[string]string{"Name": "payroll"}
)

// arn is a resource of type typ in the policy's region.
func arn(typ string) string {
	if typ == "image" || typ == "snapshot" {
		return "arn:aws:ec2:us-west-2::" + typ + "/" + typ + "-0123456789abcdef0"
	}
	if typ == "policy" {
		return "arn:aws:dlm:us-west-2:123456789012:policy/policy-0123456789abcdef0"
	}
	return "arn:aws:ec2:us-west-2:123456789012:" + typ + "/" + typ + "-0123456789abcdef0"
}

// mutations are the policy's EC2, EBS and DLM actions that change something, each with the
// resource it makes (made) and the existing resources it acts on (on), as the Service
// Authorization Reference lists them for the calls camphub makes. Every such action in the
// policy must be here (TestEveryMutationIsScoped fails otherwise).
var mutations = map[string]struct{ made, on []string }{
	"ec2:CreateVpc":             {made: []string{"vpc"}},
	"ec2:CreateInternetGateway": {made: []string{"internet-gateway"}},
	"ec2:ImportKeyPair":         {made: []string{"key-pair"}},
	"ec2:AllocateAddress":       {made: []string{"elastic-ip"}},
	"ec2:CreateVolume":          {made: []string{"volume"}, on: []string{"snapshot"}},
	"ec2:CreateSubnet":          {made: []string{"subnet"}, on: []string{"vpc"}},
	"ec2:CreateRouteTable":      {made: []string{"route-table"}, on: []string{"vpc"}},
	"ec2:CreateSecurityGroup":   {made: []string{"security-group"}, on: []string{"vpc"}},
	"ec2:RunInstances":          {made: []string{"instance", "volume"}, on: []string{"subnet", "security-group", "key-pair"}},
	"ec2:CreateSnapshot":        {made: []string{"snapshot"}, on: []string{"volume"}},
	"dlm:CreateLifecyclePolicy": {made: []string{"policy"}},

	"ec2:DeleteVpc": {on: []string{"vpc"}}, "ec2:ModifyVpcAttribute": {on: []string{"vpc"}},
	"ec2:DeleteSubnet": {on: []string{"subnet"}}, "ec2:ModifySubnetAttribute": {on: []string{"subnet"}},
	"ec2:DeleteInternetGateway": {on: []string{"internet-gateway"}},
	"ec2:AttachInternetGateway": {on: []string{"internet-gateway", "vpc"}},
	"ec2:DetachInternetGateway": {on: []string{"internet-gateway", "vpc"}},
	"ec2:DeleteRouteTable":      {on: []string{"route-table"}}, "ec2:CreateRoute": {on: []string{"route-table"}},
	"ec2:DeleteRoute": {on: []string{"route-table"}}, "ec2:AssociateRouteTable": {on: []string{"route-table", "subnet"}},
	"ec2:DisassociateRouteTable":        {on: []string{"route-table"}},
	"ec2:DeleteSecurityGroup":           {on: []string{"security-group"}},
	"ec2:AuthorizeSecurityGroupIngress": {on: []string{"security-group"}}, "ec2:RevokeSecurityGroupIngress": {on: []string{"security-group"}},
	"ec2:AuthorizeSecurityGroupEgress": {on: []string{"security-group"}}, "ec2:RevokeSecurityGroupEgress": {on: []string{"security-group"}},
	"ec2:ModifySecurityGroupRules":                   {on: []string{"security-group"}},
	"ec2:UpdateSecurityGroupRuleDescriptionsIngress": {on: []string{"security-group"}},
	"ec2:UpdateSecurityGroupRuleDescriptionsEgress":  {on: []string{"security-group"}},
	"ec2:DeleteKeyPair":                              {on: []string{"key-pair"}}, "ec2:TerminateInstances": {on: []string{"instance"}},
	"ec2:StartInstances": {on: []string{"instance"}}, "ec2:StopInstances": {on: []string{"instance"}},
	"ec2:ModifyInstanceAttribute": {on: []string{"instance"}}, "ec2:ModifyInstanceMetadataOptions": {on: []string{"instance"}},
	"ec2:ReleaseAddress": {on: []string{"elastic-ip"}}, "ec2:AssociateAddress": {on: []string{"elastic-ip", "instance"}},
	"ec2:DisassociateAddress": {on: []string{"elastic-ip"}},
	"ec2:DeleteVolume":        {on: []string{"volume"}}, "ec2:AttachVolume": {on: []string{"volume", "instance"}},
	"ec2:DetachVolume": {on: []string{"volume", "instance"}}, "ec2:ModifyVolume": {on: []string{"volume"}},
	"ec2:CreateSubnetCidrReservation": {on: []string{"subnet"}}, "ec2:DeleteSubnetCidrReservation": {on: []string{"subnet"}},
	"ec2:CreateTags": {on: []string{"instance"}}, "ec2:DeleteTags": {on: []string{"instance"}},
	"dlm:GetLifecyclePolicy": {on: []string{"policy"}}, "dlm:UpdateLifecyclePolicy": {on: []string{"policy"}},
	"dlm:DeleteLifecyclePolicy": {on: []string{"policy"}}, "dlm:ListTagsForResource": {on: []string{"policy"}},
	"dlm:TagResource": {on: []string{"policy"}}, "dlm:UntagResource": {on: []string{"policy"}},
}

// unscoped are the policy's EC2, EBS and DLM grants that no camphub tag can narrow, and why.
var unscoped = map[string]string{
	"ec2:Describe*":                     "reads: EC2's Describe calls support no resource-level permissions",
	"ec2:GetEbsEncryptionByDefault":     "reads an account setting",
	"ec2:GetEbsDefaultKmsKeyId":         "reads an account setting",
	"ec2:GetSubnetCidrReservations":     "reads",
	"dlm:GetLifecyclePolicies":          "lists: no resource to tag",
	"RunInstances on image/snapshot":    "Amazon's AMI and its snapshot carry no camphub tag; narrowed to ec2:Owner amazon (a camphub:amiId of your own needs your account added)",
	"RunInstances on network-interface": "the instance's new interface is not tagged by the provider; the subnet and security groups it joins are checked",
	"security-group-rule actions":       "a rule carries no tags; the rule's group must be this stack's",
}

// TestEveryMutationIsScoped: for every mutating EC2, EBS and DLM action the deploy policy grants,
// the same call is denied on an untagged resource and on another stack's, and allowed on this
// stack's; a resource it makes is allowed only when the request tags it as this stack's, with no
// tag keys beyond camphub's. (Before round two, every such call was allowed on any resource.)
func TestEveryMutationIsScoped(t *testing.T) {
	d := deployPolicy(t)
	for _, st := range d.Statement {
		for _, a := range asList(st.Action) {
			if (strings.HasPrefix(a, "ec2:") || strings.HasPrefix(a, "dlm:")) && !strings.Contains(a, "*") {
				if _, known := mutations[a]; !known && unscoped[a] == "" {
					t.Errorf("%s (statement %s) is neither in the scoped mutations nor named unscoped with a reason", a, st.Sid)
				}
			}
		}
	}
	for action, m := range mutations {
		for _, typ := range m.made {
			check(t, d, action, typ, nil, ours, true, "made tagged as this stack's")
			check(t, d, action, typ, nil, nil, false, "made untagged")
			check(t, d, action, typ, nil, otherOurs, false, "made tagged as another stack's")
			check(t, d, action, typ, nil, mergeTags(ours, map[string]string{"Owner": "x"}), false, "made with a tag key camphub does not use")
		}
		for _, typ := range m.on {
			req := map[string]string(nil)
			if len(m.made) > 0 {
				req = ours
			}
			if action == "ec2:CreateTags" || action == "ec2:DeleteTags" || action == "dlm:TagResource" || action == "dlm:UntagResource" {
				req = map[string]string{"Name": "renamed"}
			}
			check(t, d, action, typ, ours, req, true, "on this stack's")
			check(t, d, action, typ, nil, req, false, "on an untagged one")
			check(t, d, action, typ, foreign, req, false, "on another workload's")
			check(t, d, action, typ, otherOurs, req, false, "on another stack's")
		}
	}
}

func check(t *testing.T, d policyDoc, action, typ string, resourceTags, requestTags map[string]string, want bool, what string) {
	t.Helper()
	if got := allowed(d, newRequest(action, arn(typ), resourceTags, requestTags)); got != want {
		t.Errorf("%s on a %s %s: allowed %v, want %v", action, typ, what, got, want)
	}
}

func mergeTags(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestOwnershipTagsCannotBeMoved: Project and Stack are set only when a resource is made
// (ec2:CreateAction); they cannot be put on another workload's resource, nor changed or removed
// on this stack's, so nothing outside the stack can be brought under the role.
func TestOwnershipTagsCannotBeMoved(t *testing.T) {
	d := deployPolicy(t)
	withAction := func(r request, create string) request {
		if create != "" {
			r.context["ec2:CreateAction"] = []string{create}
		}
		return r
	}
	for _, c := range []struct {
		what   string
		r      request
		create string
		want   bool
	}{
		{"tags a new instance as it is made", newRequest("ec2:CreateTags", arn("instance"), nil, ours), "RunInstances", true},
		{"tags a foreign instance as camphub's", newRequest("ec2:CreateTags", arn("instance"), foreign, ours), "", false},
		{"moves this stack's instance to another stack", newRequest("ec2:CreateTags", arn("instance"), ours, map[string]string{"Stack": "dev"}), "", false},
		{"renames this stack's instance", newRequest("ec2:CreateTags", arn("instance"), ours, map[string]string{"Name": "hub-2"}), "", true},
		{"removes Project from this stack's volume", newRequest("ec2:DeleteTags", arn("volume"), ours, map[string]string{"Project": ""}), "", false},
		{"removes every tag of this stack's volume", newRequest("ec2:DeleteTags", arn("volume"), ours, nil), "", false},
		{"retags the snapshot policy's Stack", newRequest("dlm:TagResource", arn("policy"), ours, map[string]string{"Stack": "dev"}), "", false},
	} {
		if got := allowed(d, withAction(c.r, c.create)); got != c.want {
			t.Errorf("%s: allowed %v, want %v", c.what, got, c.want)
		}
	}
}

// TestNoIAMActionLiftsABoundaryOrATrust: by the evaluator, on any role of the account, no call
// the deploy role can make removes or replaces a permissions boundary, rewrites a trust policy,
// makes a policy or a user, or assumes another role.
func TestNoIAMActionLiftsABoundaryOrATrust(t *testing.T) {
	d := deployPolicy(t)
	for _, action := range []string{"iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary", "iam:UpdateAssumeRolePolicy",
		"iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:CreateUser", "iam:AttachUserPolicy",
		"iam:CreateAccessKey", "iam:AddUserToGroup", "iam:PutUserPolicy", "sts:AssumeRole"} {
		for _, role := range []string{"arn:aws:iam::123456789012:role/nfs-snapshots-abc", "arn:aws:iam::123456789012:role/worker-schedule-abc",
			"arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:policy/camphub-schedule-boundary"} {
			if allowed(d, newRequest(action, role, nil, nil)) {
				t.Errorf("the deploy role may %s on %s", action, role)
			}
		}
	}
	admin := newRequest("iam:AttachRolePolicy", "arn:aws:iam::123456789012:role/nfs-snapshots-abc", nil, nil)
	admin.context["iam:PolicyARN"] = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
	if allowed(d, admin) {
		t.Error("the deploy role may attach AdministratorAccess to the snapshot role")
	}
	unbounded := newRequest("iam:CreateRole", "arn:aws:iam::123456789012:role/worker-schedule-abc", nil, nil)
	if allowed(d, unbounded) {
		t.Error("the deploy role may make the schedule role without its boundary")
	}
}

// TestTheEvaluatorFollowsIAM: the evaluator itself, on the rules the tests above rely on.
func TestTheEvaluatorFollowsIAM(t *testing.T) {
	doc := func(op string, cond map[string]any) policyDoc {
		var d policyDoc
		d.Statement = append(d.Statement, struct {
			Sid       string
			Effect    string
			Principal any
			Action    any
			Resource  any
			Condition map[string]map[string]any
		}{Effect: "Allow", Action: "ec2:*", Resource: "arn:aws:ec2:*:*:instance/*", Condition: map[string]map[string]any{op: cond}})
		return d
	}
	r := func(tags map[string]string) request {
		return newRequest("ec2:StopInstances", arn("instance"), tags, nil)
	}
	for _, c := range []struct {
		what string
		d    policyDoc
		r    request
		want bool
	}{
		{"StringEquals on an absent key is false", doc("StringEquals", map[string]any{"aws:ResourceTag/Project": "camphub"}), r(nil), false},
		{"StringNotEquals on an absent key is true", doc("StringNotEquals", map[string]any{"aws:ResourceTag/Project": "camphub"}), r(nil), true},
		{"values of a key are ORed", doc("StringEquals", map[string]any{"aws:ResourceTag/Stack": []any{"dev", "camp"}}), r(ours), true},
		{"keys of a block are ANDed", doc("StringEquals", map[string]any{"aws:ResourceTag/Stack": "camp", "aws:ResourceTag/Role": "nfs"}), r(ours), false},
		{"ForAllValues holds for no values", doc("ForAllValues:StringEquals", map[string]any{"aws:TagKeys": "Name"}), r(nil), true},
		{"Null false wants the key", doc("Null", map[string]any{"aws:TagKeys": "false"}), r(nil), false},
		{"a resource pattern's * spans /", doc("StringEquals", map[string]any{"aws:RequestedRegion": "us-west-2"}), r(nil), true},
	} {
		if got := allowed(c.d, c.r); got != c.want {
			t.Errorf("%s: allowed %v, want %v", c.what, got, c.want)
		}
	}
	if allowed(doc("StringEquals", nil), newRequest("s3:GetObject", arn("instance"), nil, nil)) {
		t.Error("an action outside the statement's was allowed")
	}
}
