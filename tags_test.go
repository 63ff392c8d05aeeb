package main

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// untaggedTypes are the AWS resources the program makes that carry no tags, and why the deploy
// policy needs none on them (deploy/scope_test.go): each is reached through a tagged one.
var untaggedTypes = map[string]string{
	"aws:ec2/eipAssociation:EipAssociation":                     "no tags in EC2; its address and instance are tagged",
	"aws:ec2/routeTableAssociation:RouteTableAssociation":       "no tags in EC2; its route table and subnet are tagged",
	"aws:ec2/subnetCidrReservation:SubnetCidrReservation":       "no tags in EC2; its subnet is tagged",
	"aws:ec2/volumeAttachment:VolumeAttachment":                 "no tags in EC2; its volume and instance are tagged",
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "the policy scopes rules by their group, which is tagged",
	"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":   "the policy scopes rules by their group, which is tagged",
	"aws:iam/rolePolicy:RolePolicy":                             "no tags in IAM; its role is tagged and named",
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment":         "no tags in IAM; its role is tagged and named",
	"aws:scheduler/schedule:Schedule":                           "EventBridge Scheduler schedules take no tags; named worker-* (the policy's resource)",
}

// TestEveryResourceCarriesTheDeployPolicysTags walks every AWS resource of both stacks: each
// carries Project=camphub and its stack's Stack tag (also on an instance's root volume), and no
// tag key beyond those the deploy policy lets a request set (aws:TagKeys), or the policy would
// refuse to make it.
func TestEveryResourceCarriesTheDeployPolicysTags(t *testing.T) {
	allowedKeys := policyTagKeys(t)
	for _, stack := range []string{"dev", "camp"} {
		r := deployStack(t, stack, nil)
		for _, res := range r.mocks.Resources() {
			if len(res.Type) < 4 || res.Type[:4] != "aws:" || res.Type == "pulumi:providers:aws" {
				continue
			}
			tags, ok := res.Inputs["tags"]
			if !ok {
				if untaggedTypes[res.Type] == "" {
					t.Errorf("%s: %s %s carries no tags", stack, res.Type, res.Name)
				}
				continue
			}
			sets := []map[string]string{mockStrings(tags)}
			if root, ok := res.Inputs["rootBlockDevice"]; ok {
				if root.IsObject() {
					sets = append(sets, mockStrings(root.ObjectValue()["tags"]))
				}
			}
			for _, m := range sets {
				if m["Project"] != "camphub" || m["Stack"] != stack {
					t.Errorf("%s: %s %s is tagged %v; the deploy role acts only on Project=camphub, Stack=%s", stack, res.Type, res.Name, m, stack)
				}
				for k := range m {
					if !slices.Contains(allowedKeys, k) {
						t.Errorf("%s: %s %s has tag %q, which the deploy policy does not let a request set", stack, res.Type, res.Name, k)
					}
				}
			}
		}
	}
}

// mockStrings is a tags map as the program registered it (secrets and unknowns as they show).
func mockStrings(v resource.PropertyValue) map[string]string {
	out := map[string]string{}
	if !v.IsObject() {
		return out
	}
	for k, e := range v.ObjectValue() {
		if e.IsString() {
			out[string(k)] = e.StringValue()
		} else {
			out[string(k)] = e.String()
		}
	}
	return out
}

// policyTagKeys are the tag keys deploy/iam-policy.json lets a request set (aws:TagKeys).
func policyTagKeys(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("deploy/iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Statement []struct {
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, st := range d.Statement {
		list, _ := st.Condition["ForAllValues:StringEquals"]["aws:TagKeys"].([]any)
		for _, k := range list {
			keys = append(keys, k.(string))
		}
		if len(keys) > 0 {
			return keys
		}
	}
	t.Fatal("the deploy policy names no aws:TagKeys")
	return nil
}
