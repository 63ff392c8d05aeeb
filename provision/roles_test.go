package provision

import (
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

// smokeCallScopes maps each REST call camphub-smoke makes to the scope JupyterHub 5.5.1 asks of
// it (docs/upstream.md H6: POST /users/NAME admin:users; DELETE /users/NAME delete:users, part
// of admin:users; GET /users/NAME read:users and read:servers, parts of admin:users and servers;
// POST and DELETE /users/NAME/server servers and delete:servers, part of servers), and the
// single-user server's API (access:servers).
var smokeCallScopes = map[string]string{
	`api POST "/users/$name"`:            "admin:users",
	`api DELETE "/users/$name"`:          "admin:users",
	`api GET "/users/$name"`:             "admin:users",
	`api POST "/users/$name/server"`:     "servers",
	`api DELETE "/users/$name/server"`:   "servers",
	`call PUT "$hub_url/user/$name/`:     "access:servers",
	`"$kernel_probe" "$hub_url" "$name"`: "access:servers",
}

// TestServiceRolesAreWhatTheyUse: every hub-managed service's role holds exactly the scopes its
// calls need: the smoke probe's from the calls its script makes, the idle culler's as
// jupyterhub-idle-culler 2.0 documents them (without user culling), and the admin role holds the
// roster service alone (JupyterHub 5 lets only an admin grant admin rights), through load_roles,
// never through a service's deprecated admin flag.
func TestServiceRolesAreWhatTheyUse(t *testing.T) {
	files := renderAll(t, "dev")
	var traits map[string]map[string]any
	testtool.HubConfig(t, files, map[string]any{"op": "traits"}, &traits)
	roles := map[string][]string{}
	members := map[string][]string{}
	for _, r := range traits["JupyterHub"]["load_roles"].([]any) {
		role := r.(map[string]any)
		name := role["name"].(string)
		roles[name] = append(roles[name], asStrings(role["scopes"])...)
		members[name] = asStrings(role["services"])
		if len(asStrings(role["users"])) > 0 || len(asStrings(role["groups"])) > 0 {
			t.Errorf("role %s names users or groups: %v", name, role)
		}
	}

	var needed []string
	for call, scope := range smokeCallScopes {
		if regexp.MustCompile(regexp.QuoteMeta(call)).MatchString(files["camphub-smoke.sh"]) && !slices.Contains(needed, scope) {
			needed = append(needed, scope)
		}
	}
	calls := regexp.MustCompile(`\b(api (GET|POST|PUT|PATCH|DELETE) "[^"]*"|call (GET|POST|PUT|PATCH|DELETE) "[^"]*")`).FindAllString(files["camphub-smoke.sh"], -1)
	for _, c := range calls {
		known := false
		for call := range smokeCallScopes {
			if len(c) >= len(call)-1 && (c == call || regexp.MustCompile("^"+regexp.QuoteMeta(call)).MatchString(c)) {
				known = true
			}
		}
		if !known {
			t.Errorf("camphub-smoke makes %s, which this test does not know the scope of; add it to smokeCallScopes", c)
		}
	}
	want := map[string][]string{
		"camphub-smoke": needed,
		"idle-culler":   {"list:users", "read:users:activity", "read:servers", "delete:servers"},
	}
	for name, scopes := range want {
		got := slices.Clone(roles[name])
		sort.Strings(got)
		sort.Strings(scopes)
		if !slices.Equal(got, scopes) {
			t.Errorf("role %s holds %v; its service uses %v", name, got, scopes)
		}
		if !slices.Equal(members[name], []string{name}) {
			t.Errorf("role %s is held by %v, want its own service only", name, members[name])
		}
	}
	if !slices.Equal(members["admin"], []string{"camphub-roster"}) || len(roles["admin"]) != 0 {
		t.Errorf("the admin role: members %v, extra scopes %v; want the roster service alone, the default scopes", members["admin"], roles["admin"])
	}
	for name := range roles {
		if _, ok := want[name]; !ok && name != "admin" {
			t.Errorf("an unexpected role %s: %v", name, roles[name])
		}
	}
	for _, s := range traits["JupyterHub"]["services"].([]any) {
		if admin, ok := s.(map[string]any)["admin"]; ok && admin != false {
			t.Errorf("service %v sets the deprecated admin flag", s)
		}
	}
}

func asStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}
