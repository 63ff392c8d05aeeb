package rehearsal

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/camphub/camphub/provision"
)

// The stand-ins of the cluster's other machines and of the world, on one more test host.
const (
	metadataAddr = "169.254.169.254"
	internetAddr = "198.51.100.7"
)

// probeScript runs in a notebook container (uid 1000) on the worker and reports, per target,
// whether a connection gets through: "blocked" only when the attempt is cut off by the time
// limit (a dropped SYN); an answer, even an error or a refusal, means the path is open.
// (busybox 1.35's wget crashes with -T, so the limit comes from timeout.)
const probeScript = `probe() {
  rc=0
  timeout 3 wget -q -O /tmp/answer "$2" 2>/tmp/error || rc=$?
  if [ "$rc" = 0 ]; then
    echo "$1 open $(cat /tmp/answer)"
  elif [ "$rc" -ge 124 ]; then
    echo "$1 blocked"
  else
    echo "$1 open (wget exit $rc: $(head -c 200 /tmp/error | tr '\n' ' '))"
  fi
}
probe hub-api http://jupyterhub:8081/hub/api/
probe internet http://` + internetAddr + `/
probe metadata http://` + metadataAddr + `/
probe nfs http://` + nfsAddr + `:2049/
probe manager-swarm http://` + hubAddr + `:2377/
probe manager-gossip http://` + hubAddr + `:7946/
probe manager-ssh http://` + hubAddr + `:22/
probe own-node-ssh http://` + workerAddr + `:22/
`

// TestContainersReachOnlyTheHubAndTheInternet applies the rendered firewall on the worker as a
// node does and probes, from a notebook container on the worker, every path docs/architecture.md
// says a student must not have: the NFS server's 2049, the manager's swarm ports and SSH, the
// node's own SSH, the metadata service, and the node over IPv6. The hub API (over the overlay
// network) and the internet must still answer. Without the firewall every blocked path is shown
// open first, so the test cannot pass vacuously. Then, as faults and an attacker would:
//   - Docker's own ACCEPT rules first in FORWARD, as while Docker starts, before it moves the
//     jump to DOCKER-USER back to the top (CI once saw a notebook reach the metadata service
//     right after a Docker restart when camphub's rules lived in DOCKER-USER): still blocked;
//   - a second run of the firewall changes nothing;
//   - the engine restarted with docker.service's rendered drop-in (ExecStartPre): the same rules,
//     still blocked;
//   - the firewall failing (iptables-restore refused): the engine does not start.
//
// Stand-ins: listeners (busybox httpd) for the NFS server, SSH, the metadata service and the
// internet on the addresses those have in the VPC; the hub container serves a fixed API answer
// (the real hub is rehearsed in hub_test.go); systemd is stood in for by running the drop-in's
// ExecStartPre lines before dockerd, each required (what systemd does with ExecStartPre=; what
// this hides, the unit files on the machine, the smoke step checks on AWS with systemctl).
// DNS to the VPC resolver, which the rules allow, has no server here: name lookups of the overlay
// (Docker's embedded DNS) are exercised.
func TestContainersReachOnlyTheHubAndTheInternet(t *testing.T) {
	c := newFirewallCluster(t)
	forbidden := []string{"metadata", "nfs", "manager-swarm", "manager-gossip", "manager-ssh", "own-node-ssh", "own-node-ipv6"}

	// Without the firewall: every forbidden path is open (security groups and exports admit the
	// node, and Docker masquerades the container as the node).
	open := c.probe(t, "without the firewall", nil)
	for _, p := range forbidden {
		if open[p] != "open" {
			t.Errorf("without the firewall %s is %q; the rehearsal cannot show the firewall closes it %v", p, open[p], open)
		}
	}

	rules, err := provision.FirewallRules(mustFirewall(t))
	if err != nil {
		t.Fatal(err)
	}
	script := writeFile(t, t.TempDir(), "camphub-firewall", rules, 0o755)
	if out, err := c.worker.inNS(t, time.Minute, "bash", script); err != nil {
		t.Fatalf("camphub-firewall: %v\n%s", err, out)
	}
	first := c.firewallRules(t)
	c.blocked(t, forbidden, "with the firewall", nil)

	// Docker's FORWARD rules ahead of everything, as while it starts (it moves the jump to
	// DOCKER-USER back to the top later, and again whenever a container starts).
	c.blocked(t, forbidden, "with Docker's ACCEPT rules first in FORWARD", func() {
		for _, bridge := range []string{"docker_gwbridge", "docker0"} {
			if out, err := c.worker.inNS(t, time.Minute, "iptables", "-I", "FORWARD", "1", "-i", bridge, "-j", "ACCEPT"); err != nil {
				t.Fatalf("iptables: %v\n%s", err, out)
			}
		}
	})

	if out, err := c.worker.inNS(t, time.Minute, "bash", script); err != nil {
		t.Fatalf("camphub-firewall, again: %v\n%s", err, out)
	}
	if again := c.firewallRules(t); again != first {
		t.Errorf("a second run changed the rules:\n%s\nthen\n%s", first, again)
	}

	dropIn, err := provision.FirewallDropIn()
	if err != nil {
		t.Fatal(err)
	}
	c.worker.execStartPre(t, dropIn, map[string]string{"/usr/local/sbin/camphub-firewall": "bash " + script})
	c.worker.restart(t)
	if after := c.firewallRules(t); after != first {
		t.Errorf("a Docker restart changed the rules:\n%s\nthen\n%s", first, after)
	}
	c.blocked(t, forbidden, "after a Docker restart", nil)

	// The firewall cannot be applied: the engine must not start.
	refuse := writeFile(t, t.TempDir(), "iptables-restore", "#!/bin/sh\necho 'iptables-restore: refused (rehearsal fault)' >&2\nexit 1\n", 0o755)
	c.worker.stop(t)
	c.worker.setup, c.worker.argv = "", nil
	c.worker.execStartPre(t, dropIn, map[string]string{"/usr/local/sbin/camphub-firewall": "env PATH=" + filepath.Dir(refuse) + ":/usr/sbin:/usr/bin:/sbin:/bin bash " + script})
	if log := c.worker.startRefused(t); !strings.Contains(log, "refused (rehearsal fault)") {
		t.Errorf("the engine's start did not run the firewall first:\n%s", log)
	}
}

// probe runs probeScript in a notebook container (uid 1000) on the worker and returns each
// target's result; the hub API and the internet must answer, and the container has no IPv6
// address (Docker turns IPv6 off in containers of networks without it). The node over IPv6 is
// probed from a container that turns IPv6 back on (root, its own sysctls: what a later engine
// or a network with IPv6 would give), so the node's IPv6 rules are shown working too.
func (c *cluster) probe(t *testing.T, when string, meanwhile func()) map[string]string {
	t.Helper()
	script := probeScript + `if [ -s /proc/net/if_inet6 ]; then echo "notebook-ipv6 $(cat /proc/net/if_inet6 | wc -l)-addresses"; else echo "notebook-ipv6 none"; fi`
	var out string
	if meanwhile == nil {
		out = c.worker.docker(t, "run", "--rm", "--network", provision.Layout.NetworkName, notebookImage, "sh", "-c", script)
	} else {
		// The container starts, then meanwhile runs, then the probes: Docker rearranges its
		// rules when a container starts, not later.
		id := strings.TrimSpace(c.worker.docker(t, "run", "-d", "--network", provision.Layout.NetworkName, notebookImage, "sh", "-c", "sleep 3\n"+script))
		meanwhile()
		c.worker.docker(t, "wait", id)
		out = c.worker.docker(t, "logs", id)
		c.worker.docker(t, "rm", id)
	}
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			got[f[0]], got[f[0]+" line"] = f[1], line
		}
	}
	if got["hub-api"] != "open" || !strings.Contains(out, "hub-api open "+hubAPIStandIn) {
		t.Errorf("%s: the hub API over the overlay network did not answer:\n%s", when, out)
	}
	if got["internet"] != "open" {
		t.Errorf("%s: the internet stand-in did not answer:\n%s", when, out)
	}
	if got["notebook-ipv6"] != "none" {
		t.Errorf("%s: the notebook container has IPv6 (%s)", when, got["notebook-ipv6"])
	}
	got["own-node-ipv6"] = c.ipv6Probe(t)
	got["own-node-ipv6 line"] = "own-node-ipv6 " + got["own-node-ipv6"]
	return got
}

// ipv6Probe sends an echo request from a container's docker_gwbridge side (eth1) to the bridge's
// link-local address on the worker: "open" when the node answers.
func (c *cluster) ipv6Probe(t *testing.T) string {
	t.Helper()
	out, err := c.worker.inNS(t, time.Minute, "ip", "-6", "-o", "addr", "show", "dev", "docker_gwbridge", "scope", "link")
	f := strings.Fields(out)
	if err != nil || len(f) < 4 {
		t.Fatalf("the worker's docker_gwbridge has no IPv6 link-local address: %v\n%s", err, out)
	}
	addr, _, _ := strings.Cut(f[3], "/")
	ping := "for i in 1 2 3 4 5; do grep -q tentative /proc/net/if_inet6 2>/dev/null || break; sleep 1; done\n" +
		"if ping -6 -c 1 -W 3 -I eth1 " + addr + "; then echo 'own-node-ipv6 open'; else echo 'own-node-ipv6 blocked'; fi\n"
	out = c.worker.docker(t, "run", "--rm", "--network", provision.Layout.NetworkName, "--user", "0",
		"--sysctl", "net.ipv6.conf.all.disable_ipv6=0", "--sysctl", "net.ipv6.conf.default.disable_ipv6=0",
		notebookImage, "sh", "-c", "sleep 3\n"+ping)
	if strings.Contains(out, "own-node-ipv6 open") {
		return "open"
	}
	return "blocked"
}

// blocked probes and wants every forbidden path blocked.
func (c *cluster) blocked(t *testing.T, forbidden []string, when string, meanwhile func()) {
	t.Helper()
	got := c.probe(t, when, meanwhile)
	for _, p := range forbidden {
		if got[p] != "blocked" {
			t.Errorf("%s: a notebook reaches %s (%q)", when, p, got[p+" line"])
		}
	}
}

// firewallRules is camphub's part of the worker's rule set (IPv4 and IPv6), sorted.
func (c *cluster) firewallRules(t *testing.T) string {
	t.Helper()
	var mine []string
	for _, save := range []string{"iptables-save", "ip6tables-save"} {
		out, err := c.worker.inNS(t, time.Minute, save)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "CAMPHUB") || (strings.Contains(l, "-A PREROUTING") && strings.Contains(l, "DROP")) {
				mine = append(mine, save+": "+l)
			}
		}
	}
	sort.Strings(mine)
	return strings.Join(mine, "\n")
}

// newFirewallCluster is the two-engine cluster with stand-in listeners where a notebook must
// not reach (the NFS server, SSH of the manager and the worker, the metadata service) and where
// it must (the internet), and a hub container that serves a fixed API answer.
func newFirewallCluster(t *testing.T) *cluster {
	t.Helper()
	c := newCluster(t, "")
	busybox := need(t, "busybox")
	outside := c.sw.plug("outside", nfsAddr)
	ip := need(t, "ip")
	for _, a := range []string{metadataAddr + "/32", internetAddr + "/32"} {
		must(t, nil, ip, "-n", outside, "addr", "add", a, "dev", "eth0")
	}
	must(t, nil, ip, "-n", c.worker.ns, "route", "add", metadataAddr+"/32", "dev", "eth0")
	www := t.TempDir()
	writeFile(t, www, "index.html", "listener\n", 0o644)
	listen := func(ns, port string) {
		start(t, fmt.Sprintf("listen-%s-%s.log", ns, port), nil, need(t, "nsenter"), "--net=/var/run/netns/"+ns, busybox, "httpd", "-f", "-p", port, "-h", www)
	}
	for _, port := range []string{"80", "2049", "22"} {
		listen(outside, port)
	}
	listen(c.manager.ns, "22")
	listen(c.worker.ns, "22")

	nbRoot := busyboxRoot(t, nil)
	importImage(t, c.worker, nbRoot, notebookImage, "USER 1000:100", "ENV PATH=/bin")
	baseRoot := busyboxRoot(t, map[string]string{"srv/www/hub/api/index.html": hubAPIStandIn})
	importImage(t, c.manager, baseRoot, "camphub-rehearsal/base:1", "ENV PATH=/bin")
	c.manager.docker(t, "run", "-d", "--name", provision.Layout.HubContainer, "--network", provision.Layout.NetworkName,
		"camphub-rehearsal/base:1", "httpd", "-f", "-p", fmt.Sprint(provision.HubAPIPort), "-h", "/srv/www")

	return c
}

func mustFirewall(t *testing.T) provision.Firewall {
	t.Helper()
	f, err := provision.NewFirewall(provision.RoleWorker, vpcCidr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
