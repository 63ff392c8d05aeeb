package provision

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

// traits loads a stack's rendered jupyterhub_config.py as JupyterHub does and returns its traits.
func traits(t *testing.T, stack string) map[string]map[string]any {
	t.Helper()
	var out map[string]map[string]any
	testtool.HubConfig(t, renderAll(t, stack), map[string]any{"op": "traits"}, &out)
	return out
}

// TestHubConfigSpawnPath asserts, on the loaded configuration, each trait the spawn path and the
// proxy layout depend on (golden files only detect change; these say what must hold).
func TestHubConfigSpawnPath(t *testing.T) {
	for _, stack := range []string{"dev", "camp"} {
		c := traits(t, stack)
		swarm, hub, proxy := c["SwarmSpawner"], c["JupyterHub"], c["ConfigurableHTTPProxy"]
		checks := []struct {
			what string
			ok   bool
		}{
			// docs/upstream.md D4: without cmd the hub inspects the image on the manager.
			{"SwarmSpawner.cmd is start-notebook.py", slices.Equal(anyStrings(swarm["cmd"]), NotebookCmd)},
			{"notebooks on the overlay network", swarm["network_name"] == Layout.NetworkName && swarm["use_internal_ip"] == true},
			{"no pull at spawn time", swarm["pull_policy"] == "skip"},
			{"short service names", swarm["escape"] != nil},
			{"a start ends at the swarm's first refusal", hub["spawner_class"] == "camphub_spawner.CampSwarmSpawner"},
			{"notebooks reached by name without IPVS", fmt.Sprint(swarm["extra_endpoint_spec"]) == "map[mode:dnsrr]"},
			// docs/upstream.md H2: 0 is no limit; anything below the class throttles it.
			{"no concurrent spawn limit", hub["concurrent_spawn_limit"] == float64(0)},
			{"servers outlive a hub restart", hub["cleanup_servers"] == false},
			{"the proxy is not the hub's child", proxy["should_start"] == false},
			{"the hub reaches the proxy's API on their own network, by its name there", proxy["api_url"] == "http://"+Layout.ProxyAPIHost+":8001"},
			{"the proxy, not the hub, holds the certificate", hub["ssl_cert"] == nil && hub["ssl_key"] == nil},
			{"notebooks reach the hub by container name", hub["hub_connect_url"] == "http://"+Layout.HubContainer+":8081"},
			{"hub state on local disk", hub["db_url"] == "sqlite:///"+Layout.HubDir+"/jupyterhub.sqlite"},
			{"spawns have time for a busy worker", c["Spawner"]["start_timeout"] == float64(300)},
			{"homes are prepared before the spawn", c["Spawner"]["pre_spawn_hook"] != nil},
		}
		for _, ch := range checks {
			if !ch.ok {
				t.Errorf("%s: %s does not hold", stack, ch.what)
			}
		}
		vols, _ := swarm["volumes"].(map[string]any)
		course, _ := vols[Layout.MountRoot+"/course"].(map[string]any)
		if vols[Layout.MountRoot+"/home/{username}"] != "/home/jovyan" || course["mode"] != "ro" {
			t.Errorf("%s: volumes %v, want the home at /home/jovyan and the course read-only", stack, vols)
		}
	}
}

// TestHubConfigLogin: the roster is not in the configuration (it changes without a restart);
// login is allowed exactly to the hub's users, or to a whole domain when there is no roster.
func TestHubConfigLogin(t *testing.T) {
	dev, camp := traits(t, "dev")["GoogleOAuthenticator"], traits(t, "camp")["GoogleOAuthenticator"]
	if dev["allow_all"] != false || dev["allow_existing_users"] != true {
		t.Errorf("dev (a roster): allow_all %v, allow_existing_users %v; want only the hub's users let in", dev["allow_all"], dev["allow_existing_users"])
	}
	if camp["allow_all"] != true || !slices.Equal(anyStrings(camp["hosted_domain"]), []string{"example.edu"}) {
		t.Errorf("camp (a domain, no roster): allow_all %v hosted_domain %v", camp["allow_all"], camp["hosted_domain"])
	}
	for stack, g := range map[string]map[string]any{"dev": dev, "camp": camp} {
		if g["allowed_users"] != nil || g["admin_users"] != nil {
			t.Errorf("%s: the roster is in the configuration (allowed_users %v, admin_users %v)", stack, g["allowed_users"], g["admin_users"])
		}
		// The secret comes from the environment: the loaded value is what the helper's env holds.
		if g["client_secret"] != "not-a-secret" {
			t.Errorf("%s: client_secret is not read from OAUTH_CLIENT_SECRET", stack)
		}
	}
	services, _ := traits(t, "dev")["JupyterHub"]["services"].([]any)
	var names []string
	for _, s := range services {
		names = append(names, s.(map[string]any)["name"].(string))
	}
	if !slices.Contains(names, "camphub-roster") || !slices.Contains(names, "idle-culler") {
		t.Errorf("hub-managed services %v, want camphub-roster and idle-culler", names)
	}
}

// TestHomeIsTraversableWhenRootIsSquashed runs the configuration's own home-folder function on
// a real directory: the home belongs to the student, and others (the worker's Docker engine,
// root squashed to nobody) may traverse it to the course mount point but not list it.
func TestHomeIsTraversableWhenRootIsSquashed(t *testing.T) {
	testtool.NeedRoot(t)
	homes := t.TempDir()
	var out struct{ Home string }
	testtool.HubConfig(t, renderAll(t, "dev"), map[string]any{"op": "make_home", "homes": homes, "user": "ada@example.org"}, &out)
	for path, want := range map[string]os.FileMode{out.Home: 0o711, filepath.Join(out.Home, "course"): 0o755} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode().Perm() != want || int(sys.Uid) != Layout.StudentUID || int(sys.Gid) != Layout.StudentGID {
			t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", path, st.Mode().Perm(), sys.Uid, sys.Gid, want, Layout.StudentUID, Layout.StudentGID)
		}
	}
	if filepath.Base(out.Home) != "ada-40example-2eorg" {
		t.Errorf("home %s, want dockerspawner's escaped name", out.Home)
	}
}

func anyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestHomeFailuresReachTheStudent: the config's own pre_spawn_hook gives up on a file server that
// hangs (off the event loop, after its timeout) and turns a file-system error into a message a
// student can act on, instead of a traceback.
func TestHomeFailuresReachTheStudent(t *testing.T) {
	config := renderAll(t, "dev")
	var hang struct {
		Error   string
		Seconds float64
	}
	testtool.HubConfig(t, config, map[string]any{"op": "hook", "homes": t.TempDir(), "user": "ada@example.org", "fault": "timeout"}, &hang)
	if !strings.Contains(hang.Error, "did not answer within") || hang.Seconds > 2 {
		t.Errorf("a hanging file server: %q after %.1f s; want the timeout message within the timeout", hang.Error, hang.Seconds)
	}
	blocked := filepath.Join(t.TempDir(), "homes")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil { // a file where the homes folder should be
		t.Fatal(err)
	}
	var broken struct{ Error string }
	testtool.HubConfig(t, config, map[string]any{"op": "hook", "homes": blocked, "user": "ada@example.org"}, &broken)
	if !strings.HasPrefix(broken.Error, "Your home folder could not be prepared (") || !strings.Contains(broken.Error, "tell your teacher") {
		t.Errorf("a file-system error reached the student as %q", broken.Error)
	}
}

// TestFirewallRules: the rendered rules drop, for containers, the VPC and every link-local
// address (the metadata service) after letting DNS to the VPC resolver through, keep containers
// off the node itself, and drop their IPv6; the container rules sit in mangle's PREROUTING,
// where Docker puts nothing ahead of them. The rehearsal runs them for real
// (rehearsal/firewall_test.go).
func TestFirewallRules(t *testing.T) {
	f, err := NewFirewall(RoleWorker, "10.42.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := FirewallRules(f)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, l := range strings.Split(rules, "\n") {
		if strings.HasPrefix(l, "-A CAMPHUB-") || strings.HasPrefix(l, "*") {
			order = append(order, l)
		}
	}
	want := []string{
		"*mangle",
		"-A CAMPHUB-CONTAINERS -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
		"-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p udp -m udp --dport 53 -j RETURN",
		"-A CAMPHUB-CONTAINERS -d 10.42.0.2/32 -p tcp -m tcp --dport 53 -j RETURN",
		"-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p udp -m udp --dport 53 -j RETURN",
		"-A CAMPHUB-CONTAINERS -d 169.254.169.253/32 -p tcp -m tcp --dport 53 -j RETURN",
		"-A CAMPHUB-CONTAINERS -d 169.254.0.0/16 -j DROP",
		"-A CAMPHUB-CONTAINERS -d 10.42.0.0/16 -j DROP",
		"*filter",
		"-A CAMPHUB-NODE -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
		"-A CAMPHUB-NODE -j DROP",
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Errorf("firewall rules:\n%s\nwant\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
	for _, jump := range []string{
		`first iptables mangle PREROUTING -i "$bridge" -j CAMPHUB-CONTAINERS`,
		`first iptables filter INPUT -i "$bridge" -j CAMPHUB-NODE`,
		`first ip6tables mangle PREROUTING -i "$bridge" -j DROP`,
		"for bridge in docker0 docker_gwbridge br-+; do",
	} {
		if !strings.Contains(rules, jump) {
			t.Errorf("the rules lack %q", jump)
		}
	}
	for _, l := range strings.Split(rules, "\n") {
		if strings.Contains(l, "DOCKER-USER") && !strings.HasPrefix(l, "#") {
			t.Errorf("%q: DOCKER-USER is behind Docker's own FORWARD rules while Docker starts", l)
		}
	}
	dropIn, err := FirewallDropIn()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dropIn, "\nExecStartPre=/usr/local/sbin/camphub-firewall\n") || !strings.HasPrefix(dropIn, "[Service]\n") {
		t.Errorf("docker.service's drop-in does not run the firewall before the engine:\n%s", dropIn)
	}
	if !strings.Contains(dropIn, "\nOOMScoreAdjust=-500\n") {
		t.Errorf("docker.service's drop-in does not keep the engine out of the OOM killer's way:\n%s", dropIn)
	}
}

// TestHubHelperNamesAreTheLayouts: camphub_hub.py's folder names in the homes folder are
// Layout's, which the file server's scripts (camphub-quota, hand-back) and the smoke step use.
func TestHubHelperNamesAreTheLayouts(t *testing.T) {
	src, err := os.ReadFile("hub/camphub_hub.py")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"NAMES_DIR": Layout.NamesDir, "SLOTS_DIR": Layout.SlotsDir, "PROBE_SLOTS_DIR": Layout.ProbeSlotsDir} {
		if line := name + " = \"" + want + "\"\n"; !strings.Contains(string(src), "\n"+line) {
			t.Errorf("camphub_hub.py does not say %q", line)
		}
	}
}
