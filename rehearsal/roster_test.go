package rehearsal

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/camphub/camphub/provision"
)

// rosterStep renders the hub-roster step and the roster it is handed on standard input.
func (h *hubHost) rosterStep(r provision.Roster) (doc, path string) {
	h.t.Helper()
	doc, err := r.JSON()
	if err != nil {
		h.t.Fatal(err)
	}
	script, err := provision.HubRosterScript("rehearsal")
	if err != nil {
		h.t.Fatal(err)
	}
	return doc, writeFile(h.t, h.t.TempDir(), "hub-roster.sh", script, 0o755)
}

// applyRoster runs the rendered hub-roster step in the hub host, roster on standard input, as
// `pulumi up` does over SSH; it returns when the hub's roster service has applied it.
func (h *hubHost) applyRoster(r provision.Roster) {
	h.t.Helper()
	doc, path := h.rosterStep(r)
	if out, err := h.run(3*time.Minute, doc, nil, "bash", path); err != nil {
		h.t.Fatalf("hub-roster step: %v\n%s\n--- hub log:\n%s", err, out, h.hub.logText())
	}
}

type hubUser struct {
	Name    string
	Admin   bool
	Servers map[string]any
}

func (h *hubHost) users() map[string]hubUser {
	h.t.Helper()
	out, err := h.api("GET", "/users", "")
	if err != nil {
		h.t.Fatalf("GET /users: %v\n%s", err, out)
	}
	var list []hubUser
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		h.t.Fatal(err)
	}
	m := map[string]hubUser{}
	for _, u := range list {
		m[u.Name] = u
	}
	return m
}

// startServer starts a user's server (the real jupyterhub-singleuser) and waits until the hub
// calls it ready and its route is in the proxy.
func (h *hubHost) startServer(user string) {
	h.t.Helper()
	if out, err := h.api("POST", "/users/"+user+"/server", ""); err != nil {
		h.t.Fatalf("starting %s's server: %v\n%s", user, err, out)
	}
	waitFor(h.t, user+"'s server behind the proxy", 2*time.Minute, func() bool {
		ready, _ := h.users()[user].Servers[""].(map[string]any)["ready"].(bool)
		return ready && h.routed(user)
	})
}

// routed says whether the proxy holds a route to user's server (its API, from this host).
func (h *hubHost) routed(user string) bool {
	h.t.Helper()
	out, err := h.run(15*time.Second, "", nil, "curl", "-fsS", "--max-time", "5", "-H", "Authorization: token "+h.proxyToken,
		fmt.Sprintf("http://127.0.0.1:%d/api/routes", provision.ProxyAPIPort))
	if err != nil {
		h.t.Fatalf("the proxy's routes: %v\n%s", err, out)
	}
	var routes map[string]any
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		h.t.Fatal(err)
	}
	_, ok := routes["/user/"+user]
	if !ok {
		_, ok = routes["/user/"+user+"/"]
	}
	return ok
}

// token makes an API token for a user, as a logged-in user would have.
func (h *hubHost) userToken(user string) string {
	h.t.Helper()
	out, err := h.api("POST", "/users/"+user+"/tokens", `{"note": "rehearsal"}`)
	if err != nil {
		h.t.Fatalf("token for %s: %v\n%s", user, err, out)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" {
		h.t.Fatalf("token for %s: %q", user, out)
	}
	return tok.Token
}

// watchRoute requests a user's route through the proxy every 200 ms until the test ends; ok and
// failed count the answers.
func (h *hubHost) watchRoute(user string) (counts func() (ok, failed int)) {
	h.t.Helper()
	loop := fmt.Sprintf(`while :; do
  if curl -fsS -o /dev/null --max-time 2 --cacert %s --resolve %s:%d:127.0.0.1 %s; then echo OK; else echo FAILED; fi
  sleep 0.2
done`, h.certPath, h.dns, h.port, h.url("/user/"+user+"/"))
	d := h.start("watch-"+user+".log", nil, "sh", "-c", loop)
	return func() (int, int) {
		log := d.logText()
		return strings.Count(log, "OK\n"), strings.Count(log, "FAILED\n")
	}
}

// TestRosterChangesWithoutARestart applies a roster (a stack's exclusive roster: teachers and
// students) to the running JupyterHub 5 hub, then a changed one, the way `pulumi up` does: the
// teachers become admins (which JupyterHub 5 lets only an admin grant) and the students users; a user added can get a token; a user removed loses their token and their
// server; a removed admin loses admin rights; the hub's process stays the same and another
// user's route answers throughout. Then the hub restarts and every route keeps answering.
func TestRosterChangesWithoutARestart(t *testing.T) {
	h := newHubHost(t)
	h.applyRoster(provision.Roster{
		Admins:   []string{"teacher@example.org", "assistant@example.org"},
		Students: []string{"ada@example.org", "grace@example.net"},
	})
	users := h.users()
	for name, admin := range map[string]bool{"teacher@example.org": true, "assistant@example.org": true, "ada@example.org": false, "grace@example.net": false} {
		if u, ok := users[name]; !ok || u.Admin != admin {
			t.Errorf("after the first roster, %s: present %v admin %v; want present, admin %v", name, ok, u.Admin, admin)
		}
	}
	h.startServer("grace@example.net")
	h.startServer("ada@example.org")
	adaToken := h.userToken("ada@example.org")
	if out, err := h.get("/hub/api/user", adaToken); err != nil || !strings.Contains(out, `"ada@example.org"`) {
		t.Fatalf("ada's token does not work before the change: %v %s", err, out)
	}
	hubPid := h.hub.cmd.Process.Pid
	counts := h.watchRoute("grace@example.net")

	// The change: ada leaves, lin arrives, the assistant is no longer an admin.
	h.applyRoster(provision.Roster{
		Admins:   []string{"teacher@example.org"},
		Students: []string{"grace@example.net", "lin@example.com", "assistant@example.org"},
	})
	users = h.users()
	if _, ok := users["ada@example.org"]; ok {
		t.Error("ada is still a hub user after leaving the roster")
	}
	if out, err := h.get("/hub/api/user", adaToken); err == nil {
		t.Errorf("ada's token still works after she left the roster: %s", out)
	}
	if h.routed("ada@example.org") {
		t.Error("ada's server is still routed by the proxy after she left the roster")
	}
	if u, ok := users["assistant@example.org"]; !ok || u.Admin {
		t.Errorf("the assistant: present %v admin %v; want a user without admin rights", ok, u.Admin)
	}
	if _, ok := users["lin@example.com"]; !ok {
		t.Fatal("lin was not added")
	}
	if out, err := h.get("/hub/api/user", h.userToken("lin@example.com")); err != nil || !strings.Contains(out, `"lin@example.com"`) {
		t.Errorf("lin, just added, cannot use a token: %v %s", err, out)
	}
	if h.hub.cmd.Process.Pid != hubPid || h.hub.cmd.ProcessState != nil {
		t.Error("the hub process changed during the roster change")
	}
	if strings.Contains(h.hub.logText(), "Received signal") {
		t.Error("the hub was signalled during the roster change")
	}

	// A hub restart (a new image, a changed configuration) leaves every route answering.
	if err := h.hub.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = h.hub.cmd.Wait()
	time.Sleep(time.Second) // the hub is down: the proxy alone serves the route
	h.startHub()
	time.Sleep(time.Second)
	ok, failed := counts()
	if failed != 0 || ok < 10 {
		t.Errorf("grace's route through the proxy: %d answers, %d failures during the roster change and the hub restart; want no failure", ok, failed)
	}
	if out, err := h.get("/user/grace@example.net/", ""); err != nil || !h.routed("grace@example.net") {
		t.Errorf("grace's route after the hub restart: %v %s", err, out)
	}
}

// withoutAdminRole is the roster service as it was before it held the admin role: scopes only.
const withoutAdminRole = `c.JupyterHub.load_roles = [r for r in c.JupyterHub.load_roles if r["name"] != "admin"] + [
    {"name": "camphub-roster", "scopes": ["admin:users", "admin:servers"], "services": ["camphub-roster"]},
]`

// TestRosterRefusalFailsTheStep: when JupyterHub refuses a change the roster asks for (here
// the roster service lacks the admin role, so granting a teacher admin rights gets 403), the
// hub-roster step fails within 15 s, quoting the hub's message, and names no address.
func TestRosterRefusalFailsTheStep(t *testing.T) {
	h := newHubHost(t, hubOptions{Extra: withoutAdminRole})
	doc, path := h.rosterStep(provision.Roster{
		Admins:   []string{"teacher@example.org"},
		Students: []string{"ada@example.org"},
	})
	started := time.Now()
	out, err := h.run(3*time.Minute, doc, nil, "bash", path)
	took := time.Since(started)
	t.Logf("hub-roster after %v:\n%s", took.Round(time.Second), out)
	if err == nil {
		t.Fatal("hub-roster succeeded although the hub refused the roster")
	}
	if took > 15*time.Second {
		t.Errorf("hub-roster took %v to fail; want at most 15 s", took.Round(time.Second))
	}
	if !strings.Contains(out, "Only admins can grant admin permissions") || !strings.Contains(out, "HTTP 403") {
		t.Errorf("hub-roster does not quote the hub's refusal:\n%s", out)
	}
	if strings.Contains(out, "@example.org") {
		t.Errorf("hub-roster's output names an address:\n%s", out)
	}
	if !strings.Contains(h.hub.logText(), "the hub refused the roster") {
		t.Error("the roster service did not log the refusal")
	}
}
