package rehearsal

import (
	"fmt"
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
  if timeout 3 wget -q -O /tmp/answer "$2" 2>/dev/null; then
    echo "$1 open $(cat /tmp/answer)"
  elif [ "$?" -ge 124 ]; then
    echo "$1 blocked"
  else
    echo "$1 open"
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
// node does and probes, from a notebook container on the worker, every path docs/architecture.md says a
// student must not have: the NFS server's 2049, the manager's swarm ports and SSH, the node's
// own SSH, the metadata service. The hub API (over the overlay network) and the internet must
// still answer. Without the firewall every blocked path is shown open first, so the test cannot
// pass vacuously; the rules then survive a Docker restart unchanged, and a second run of the
// firewall changes nothing.
//
// Stand-ins: listeners (busybox httpd) for the NFS server, SSH, the metadata service and the
// internet on the addresses those have in the VPC; the hub container serves a fixed API answer
// (the real hub is rehearsed in hub_test.go). DNS to the VPC resolver, which the rules allow,
// has no server here: name lookups of the overlay (Docker's embedded DNS) are exercised.
func TestContainersReachOnlyTheHubAndTheInternet(t *testing.T) {
	c := newFirewallCluster(t)
	probe := func(when string) map[string]string {
		t.Helper()
		out := c.worker.docker(t, "run", "--rm", "--network", provision.NetworkName, notebookImage, "sh", "-c", probeScript)
		got := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				got[f[0]] = f[1]
			}
		}
		if got["hub-api"] != "open" || !strings.Contains(out, "hub-api open "+hubAPIStandIn) {
			t.Errorf("%s: the hub API over the overlay network did not answer:\n%s", when, out)
		}
		if got["internet"] != "open" {
			t.Errorf("%s: the internet stand-in did not answer:\n%s", when, out)
		}
		return got
	}
	forbidden := []string{"metadata", "nfs", "manager-swarm", "manager-gossip", "manager-ssh", "own-node-ssh"}

	// Without the firewall: every forbidden path is open (security groups and exports admit the
	// node, and Docker masquerades the container as the node).
	open := probe("without the firewall")
	for _, p := range forbidden {
		if open[p] != "open" {
			t.Errorf("without the firewall %s is %q; the rehearsal cannot show the firewall closes it", p, open[p])
		}
	}

	rules, err := provision.FirewallRules(mustFirewall(t))
	if err != nil {
		t.Fatal(err)
	}
	script := writeFile(t, t.TempDir(), "camphub-firewall", rules, 0o755)
	apply := func() {
		t.Helper()
		if out, err := c.worker.inNS(t, time.Minute, "bash", script); err != nil {
			t.Fatalf("camphub-firewall: %v\n%s", err, out)
		}
	}
	saved := func() string {
		t.Helper()
		out, err := c.worker.inNS(t, time.Minute, "iptables-save", "-t", "filter")
		if err != nil {
			t.Fatal(err)
		}
		var mine []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "CAMPHUB") {
				mine = append(mine, l)
			}
		}
		sort.Strings(mine)
		return strings.Join(mine, "\n")
	}
	apply()
	first := saved()
	check := func(when string) {
		t.Helper()
		got := probe(when)
		for _, p := range forbidden {
			if got[p] != "blocked" {
				t.Errorf("%s: a notebook reaches %s (%q)", when, p, got[p])
			}
		}
	}
	check("with the firewall")

	apply()
	if again := saved(); again != first {
		t.Errorf("a second run changed the rules:\n%s\nthen\n%s", first, again)
	}
	c.worker.restart(t)
	if after := saved(); after != first {
		t.Errorf("a Docker restart changed the rules:\n%s\nthen\n%s", first, after)
	}
	check("after a Docker restart")
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
	c.manager.docker(t, "run", "-d", "--name", provision.HubContainer, "--network", provision.NetworkName,
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
