package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/camphub/camphub/internal/mocktest"
)

const tCommand = "command:remote:Command"

// findURN rebuilds a resource's URN from its parent's, as the mock monitor does.
func findURN(r *mocktest.Resource) string {
	parentType := tokens.Type("")
	if r.Parent != "" {
		if u := resource.URN(r.Parent); u.QualifiedType() != resource.RootStackType {
			parentType = u.QualifiedType()
		}
	}
	return string(resource.NewURN("camp", "camphub", parentType, tokens.Type(r.Type), r.Name))
}

func dependsOn(t *testing.T, m *mocktest.Mocks, from *mocktest.Resource, token, name string) bool {
	t.Helper()
	target := m.Named(token, name)
	if target == nil {
		t.Fatalf("no %s %s", token, name)
	}
	return slices.Contains(from.Dependencies, findURN(target))
}

func TestStepsRunInOrder(t *testing.T) {
	r := deployStack(t, "camp", nil)
	m := r.mocks
	cmd := func(name string) *mocktest.Resource {
		c := m.Named(tCommand, name)
		if c == nil {
			t.Fatalf("no step %s", name)
		}
		return c
	}
	order := []struct{ step, after, afterType string }{
		{"nfs-setup", "nfs-data", tAttachment},
		{"nfs-setup", "hub-eip", "aws:ec2/eipAssociation:EipAssociation"},
		{"hub-bootstrap", "nfs-setup", tCommand},
		{"hub-config", "hub-bootstrap", tCommand},
		{"worker-labels", "worker-04-join", tCommand},
	}
	for i := range 5 {
		w := fmt.Sprintf("worker-%02d-join", i)
		order = append(order,
			struct{ step, after, afterType string }{w, "hub-bootstrap", tCommand},
			struct{ step, after, afterType string }{w, "nfs-setup", tCommand},
			struct{ step, after, afterType string }{"worker-labels", w, tCommand})
	}
	for _, o := range order {
		if !dependsOn(t, m, cmd(o.step), o.afterType, o.after) {
			t.Errorf("step %s does not wait for %s", o.step, o.after)
		}
	}
	if dependsOn(t, m, cmd("hub-bootstrap"), tCommand, "hub-config") {
		t.Error("the hub bootstrap waits for the hub config: the order is reversed")
	}

	// Every step is deleted with the machine it runs on, and re-runs when it is replaced.
	for name, machine := range map[string]string{
		"nfs-setup": "nfs", "hub-bootstrap": "hub", "hub-config": "hub", "worker-03-join": "worker-03", "worker-labels": "hub",
	} {
		c := cmd(name)
		if c.DeletedWith != findURN(m.Named(tInstance, machine)) {
			t.Errorf("step %s is deleted with %q, want instance %s", name, c.DeletedWith, machine)
		}
		triggers := c.Inputs["triggers"].ArrayValue()
		if len(triggers) == 0 || triggers[0].StringValue() != m.Named(tInstance, machine).ID {
			t.Errorf("step %s triggers %v do not include instance %s", name, triggers, machine)
		}
	}

	// Workers and NFS are reached through the hub; the hub directly.
	for _, c := range m.OfType(tCommand) {
		conn := c.Inputs["connection"]
		if conn.IsSecret() {
			conn = conn.SecretValue().Element
		}
		_, proxied := conn.ObjectValue()["proxy"]
		onHub := strings.HasPrefix(c.Name, "hub-") || c.Name == "worker-labels"
		if proxied == onHub {
			t.Errorf("step %s: proxied through the hub = %v", c.Name, proxied)
		}
		if user := conn.ObjectValue()["user"]; user.StringValue() != "ec2-user" {
			t.Errorf("step %s connects as %v", c.Name, user)
		}
	}
}

func TestStepsKeepSecretsSecret(t *testing.T) {
	r := deployStack(t, "camp", nil)
	for _, c := range r.mocks.OfType(tCommand) {
		create := c.Inputs["create"]
		if create.IsSecret() || !strings.HasPrefix(create.StringValue(), "sudo bash -c ") {
			t.Errorf("step %s: the script must be plain text a reviewer can read in a preview", c.Name)
		}
		for _, needle := range []string{OAuthSecretSentinel, mocktest.JoinTokenSentinel, mocktest.PrivateKeySentinel} {
			if where := c.PlainContains(needle); len(where) > 0 {
				t.Errorf("step %s carries a secret in plain inputs at %v", c.Name, where)
			}
		}
		stdin, hasStdin := c.Inputs["stdin"]
		carriesSecret := hasStdin || strings.HasSuffix(c.Name, "-bootstrap")
		if hasStdin && !stdin.IsSecret() {
			t.Errorf("step %s: stdin is not secret", c.Name)
		}
		logging := c.Inputs["logging"].StringValue()
		hidden := slices.Contains(c.SecretOutputs, "stdout") && slices.Contains(c.SecretOutputs, "stderr")
		if carriesSecret && (logging != "none" || !hidden) {
			t.Errorf("step %s carries a secret but logs %q and hides outputs=%v", c.Name, logging, hidden)
		}
	}
	stdinOf := func(name string) string {
		return r.mocks.Named(tCommand, name).Inputs["stdin"].SecretValue().Element.StringValue()
	}
	if s := stdinOf("hub-config"); !strings.HasPrefix(s, OAuthSecretSentinel+"\n") {
		t.Errorf("hub-config stdin does not deliver the OAuth secret first: %.20q", s)
	}
	if s := stdinOf("worker-02-join"); s != mocktest.JoinTokenSentinel+"\n" {
		t.Errorf("worker join stdin %q, want the hub's join token", s)
	}
}

// TestRosterChangeReRunsOnlyTheHubConfig: a student added on the morning of camp re-renders the
// hub's configuration and nothing else: no machine is replaced, no other step re-runs.
func TestRosterChangeReRunsOnlyTheHubConfig(t *testing.T) {
	before := deployStack(t, "camp", nil)
	after := deployStack(t, "camp", map[string]string{
		"camphub:studentEmails": `["ada@example.org","grace@example.net","alan.t@example.com","late.student@example.org"]`,
	})
	changed := map[string]bool{}
	for _, a := range after.mocks.Resources() {
		b := before.mocks.Named(a.Type, a.Name)
		if b == nil {
			t.Errorf("%s %s appeared", a.Type, a.Name)
			continue
		}
		if !a.Inputs.DeepEquals(b.Inputs) {
			changed[a.Type+" "+a.Name] = true
		}
	}
	if len(changed) != 1 || !changed[tCommand+" hub-config"] {
		t.Errorf("a roster change changed %v; want only the hub-config step", changed)
	}
	b, a := before.mocks.Named(tCommand, "hub-config"), after.mocks.Named(tCommand, "hub-config")
	if a.Inputs["triggers"].DeepEquals(b.Inputs["triggers"]) {
		t.Error("the hub-config step's trigger did not change with the roster")
	}
	if !strings.Contains(a.Inputs["create"].StringValue(), "late.student@example.org") {
		t.Error("the new student is not in the rendered hub configuration")
	}
}
