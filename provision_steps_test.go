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
		{"hub-config", "hub-image", tCommand},
		{"hub-roster", "hub-config", tCommand},
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
		"nfs-setup": "nfs", "hub-image": "hub", "hub-bootstrap": "hub", "hub-config": "hub", "hub-roster": "hub",
		"worker-03-image": "worker-03", "worker-03-join": "worker-03", "worker-labels": "hub",
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
		if strings.HasSuffix(c.Name, "-image") && (hasStdin || logging(c) == "none") {
			t.Errorf("step %s pulls a public image; it needs no secret and should show its log", c.Name)
		}
		if hasStdin && !stdin.IsSecret() {
			t.Errorf("step %s: stdin is not secret", c.Name)
		}
		logging := logging(c)
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

// TestRosterChangeReRunsOnlyTheRosterStep: a student added on the morning of camp changes the
// roster step (and the smoke probe that ends every up) and the file server's setup (a quota slot
// more, and the default home quota, which follows the roster's size) and nothing else: no
// machine is replaced, the hub's configuration (and so the hub and the proxy) stays as it is. The roster travels only as a secret: no address reaches a
// preview, the state's plain text or a log.
func TestRosterChangeReRunsOnlyTheRosterStep(t *testing.T) {
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
	if len(changed) != 3 || !changed[tCommand+" hub-roster"] || !changed[tCommand+" hub-smoke"] || !changed[tCommand+" nfs-setup"] {
		t.Errorf("a roster change changed %v; want only the hub-roster step, the smoke probe after it and the file server's setup", changed)
	}
	b, a := before.mocks.Named(tCommand, "hub-roster"), after.mocks.Named(tCommand, "hub-roster")
	if a.Inputs["triggers"].DeepEquals(b.Inputs["triggers"]) {
		t.Error("the hub-roster step's triggers did not change with the roster: it would not re-run")
	}
	if !a.Inputs["create"].DeepEquals(b.Inputs["create"]) {
		t.Error("the hub-roster script changed with the roster; it should read the roster from stdin")
	}
	for _, res := range after.mocks.Resources() {
		for _, who := range []string{"late.student@example.org", "ada@example.org", "teacher@example.org"} {
			if where := res.PlainContains(who); len(where) > 0 {
				t.Errorf("%s %s shows %s in plain inputs at %v (personal data in previews)", res.Type, res.Name, who, where)
			}
		}
	}
	stdin := a.Inputs["stdin"]
	if !stdin.IsSecret() || !strings.Contains(stdin.SecretValue().Element.StringValue(), `"late.student@example.org"`) {
		t.Error("the new student does not reach the hub-roster step's (secret) standard input")
	}
}

// closure is every resource URN that from waits on, directly or through others.
func closure(m *mocktest.Mocks, from *mocktest.Resource) map[string]bool {
	byURN := map[string]*mocktest.Resource{}
	for _, r := range m.Resources() {
		byURN[findURN(r)] = r
	}
	seen := map[string]bool{}
	var walk func(r *mocktest.Resource)
	walk = func(r *mocktest.Resource) {
		for _, d := range r.Dependencies {
			if !seen[d] {
				seen[d] = true
				if next := byURN[d]; next != nil {
					walk(next)
				}
			}
		}
	}
	walk(from)
	return seen
}

// TestSlowStepsStartEarly: the two slow parts of a first `pulumi up`, pulling the notebook image
// on every worker and building the hub image, wait on nothing they do not need. No worker's
// image pull waits (even indirectly) on the hub's bootstrap, configuration or image, or on the
// NFS server; the hub image is built while the NFS server is set up.
func TestSlowStepsStartEarly(t *testing.T) {
	r := deployStack(t, "camp", nil)
	m := r.mocks
	urn := func(name string) string { return findURN(m.Named(tCommand, name)) }
	// The walk itself must see indirect waits, or the checks below prove nothing.
	if !closure(m, m.Named(tCommand, "worker-00-join"))[urn("nfs-setup")] || !closure(m, m.Named(tCommand, "hub-roster"))[urn("nfs-setup")] {
		t.Fatal("the dependency walk misses indirect dependencies")
	}
	for i := range 5 {
		w := fmt.Sprintf("worker-%02d-image", i)
		deps := closure(m, m.Named(tCommand, w))
		for _, not := range []string{"hub-config", "hub-bootstrap", "hub-image", "hub-roster", "nfs-setup"} {
			if deps[urn(not)] {
				t.Errorf("%s waits on %s", w, not)
			}
		}
		if !dependsOn(t, m, m.Named(tCommand, "worker-labels"), tCommand, w) {
			t.Errorf("worker-labels does not wait for %s: a worker without the image would take students", w)
		}
	}
	deps := closure(m, m.Named(tCommand, "hub-image"))
	if deps[urn("nfs-setup")] || deps[urn("hub-bootstrap")] {
		t.Error("the hub image waits on the NFS server's setup")
	}
	if !dependsOn(t, m, m.Named(tCommand, "hub-config"), tCommand, "hub-image") {
		t.Error("hub-config does not wait for the hub image")
	}
}

func logging(c *mocktest.Resource) string { return c.Inputs["logging"].StringValue() }

// TestSmokeStepEndsEveryUp: the smoke probe waits for the hub's configuration, the roster and
// every worker's readiness; no secret reaches it (its token is made on the hub); a roster,
// image or worker change re-runs it, and it runs on the hub.
func TestSmokeStepEndsEveryUp(t *testing.T) {
	r := deployStack(t, "camp", nil)
	m := r.mocks
	smoke := m.Named(tCommand, "hub-smoke")
	if smoke == nil {
		t.Fatal("no smoke step")
	}
	deps := closure(m, smoke)
	for _, step := range []string{"hub-config", "hub-roster", "worker-labels", "worker-00-join", "worker-04-image"} {
		if !deps[findURN(m.Named(tCommand, step))] {
			t.Errorf("the smoke step does not wait for %s", step)
		}
	}
	if !strings.Contains(smoke.Inputs["create"].StringValue(), "/usr/local/sbin/camphub-smoke 1") {
		t.Error("the smoke step does not run one probe")
	}
	if _, ok := smoke.Inputs["stdin"]; ok {
		t.Error("the smoke step is handed something on stdin; its token is made on the hub")
	}
	config := m.Named(tCommand, "hub-config").Inputs["create"].StringValue()
	if !strings.Contains(config, `put "$dir/smoke.env" 600`) || !strings.Contains(config, "put /usr/local/sbin/camphub-smoke 755") {
		t.Error("hub-config does not make the smoke token (0600) and install camphub-smoke")
	}
	triggers := func(r run) resource.PropertyValue { return r.mocks.Named(tCommand, "hub-smoke").Inputs["triggers"] }
	for what, overrides := range map[string]map[string]string{
		"a roster change":  {"camphub:studentEmails": `["ada@example.org"]`},
		"a worker added":   {"camphub:workerCount": "6"},
		"another image":    {"camphub:notebookImage": "quay.io/jupyter/datascience-notebook:2025-12-31"},
		"another hub port": {"camphub:hubPort": "9443"},
	} {
		if triggers(deployStack(t, "camp", overrides)).DeepEquals(triggers(r)) {
			t.Errorf("%s does not re-run the smoke step", what)
		}
	}
	if out, _ := r.outputs["dressRehearsalCommand"].V.(string); !strings.Contains(out, "camphub-smoke 3") || !strings.Contains(out, "CAMPHUB_SEATS=35") {
		t.Errorf("dressRehearsalCommand %q: want the roster's size (3) and the seats (5 × 7)", out)
	}
}
