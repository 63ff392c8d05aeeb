package main

import (
	"net/netip"

	"github.com/camphub/camphub/internal/mocktest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const tReservation = "aws:ec2/subnetCidrReservation:SubnetCidrReservation"

// TestNfsReplacementKeepsHomes: replacing the NFS instance detaches the data volume before the
// new attachment (an EBS volume cannot be attached twice), and the new server comes up at the
// same private address, which AWS never hands to another machine, so every node's fstab still
// points at it.
func TestNfsReplacementKeepsHomes(t *testing.T) {
	r := deployStack(t, "camp", nil)
	m := r.mocks
	inst := m.Named(tInstance, "nfs")
	resv := m.Named(tReservation, "network-fixed")
	if resv == nil || str(resv, "reservationType") != "explicit" {
		t.Fatalf("no explicit address reservation for the NFS server: %v", resv)
	}
	block := netip.MustParsePrefix(str(resv, "cidrBlock"))
	ip := netip.MustParseAddr(str(inst, "privateIp"))
	if !block.Contains(ip) || !netip.MustParsePrefix("10.42.0.0/17").Contains(ip) {
		t.Errorf("the NFS server's address %v is not fixed inside the reserved block %v of the subnet", ip, block)
	}
	if !slices.Contains(inst.Dependencies, findURN(resv)) {
		t.Error("the NFS instance does not wait for its address reservation")
	}
	if !inst.DeleteBeforeReplace {
		t.Error("the NFS instance is not deleted before its replacement: the fixed address would be taken twice")
	}
	if att := m.Named(tAttachment, "nfs-data"); !att.DeleteBeforeReplace {
		t.Error("the data volume's attachment is not deleted before the new one: the new attachment fails while the volume is attached")
	}
	if v := m.Named(tVolume, "nfs-data"); v.DeleteBeforeReplace || slices.ContainsFunc(v.Dependencies, func(d string) bool { return strings.Contains(d, "Instance") }) {
		t.Error("the data volume follows the instance")
	}
	// Every node mounts the fixed address.
	for _, step := range []string{"hub-bootstrap", "worker-02-join"} {
		if c := m.Named(tCommand, step).Inputs["create"].StringValue(); !strings.Contains(c, "mount_nfs "+ip.String()) {
			t.Errorf("%s does not mount the NFS server at its fixed address %s", step, ip)
		}
	}
	if r.outputs["nfsPrivateIp"].V != ip.String() {
		t.Errorf("output nfsPrivateIp %v, want %s", r.outputs["nfsPrivateIp"].V, ip)
	}
}

var exportLine = regexp.MustCompile(`(?m)^/srv/nfs/(home|course) (.*)$`)

// exports returns, per export, its clients and options from the rendered nfs-setup step.
func exports(t *testing.T, r run) map[string][]string {
	t.Helper()
	create := r.mocks.Named(tCommand, "nfs-setup").Inputs["create"].StringValue()
	out := map[string][]string{}
	for _, m := range exportLine.FindAllStringSubmatch(create, -1) {
		out[m[1]] = strings.Fields(m[2])
	}
	if len(out) != 2 {
		t.Fatalf("nfs-setup exports %v, want home and course", out)
	}
	return out
}

// TestNfsExportsOnlyToClusterMachines: the exports name the hub (not root-squashed: it creates
// homes) and each worker (root-squashed), by address; no subnet, no other client. A worker
// added changes the list, and so re-runs the step.
func TestNfsExportsOnlyToClusterMachines(t *testing.T) {
	r := deployStack(t, "camp", nil)
	hub := mocktest.HubPrivateIP
	ips, _ := r.outputs["workerPrivateIps"].V.([]string)
	want := []string{hub + "(rw,sync,no_subtree_check,no_root_squash)"}
	for _, ip := range ips {
		want = append(want, ip+"(rw,sync,no_subtree_check,root_squash)")
	}
	for name, clients := range exports(t, r) {
		if !slices.Equal(clients, want) {
			t.Errorf("export %s to %v, want exactly %v", name, clients, want)
		}
	}
	more := deployStack(t, "camp", map[string]string{"camphub:workerCount": "6"})
	if got := exports(t, more)["home"]; len(got) != 7 {
		t.Errorf("with 6 workers the home export has %d clients, want 7", len(got))
	}
}

// TestVolumeGrowthGrowsTheFileSystem: a larger nfsVolumeSizeGiB re-runs nfs-setup (which waits
// for the new size and grows the file system) and keeps the volume.
func TestVolumeGrowthGrowsTheFileSystem(t *testing.T) {
	before := deployStack(t, "camp", nil)
	after := deployStack(t, "camp", map[string]string{"camphub:nfsVolumeSizeGiB": "150"})
	b, a := before.mocks.Named(tCommand, "nfs-setup"), after.mocks.Named(tCommand, "nfs-setup")
	if a.Inputs["triggers"].DeepEquals(b.Inputs["triggers"]) {
		t.Error("nfs-setup does not re-run when the volume grows")
	}
	if !strings.Contains(a.Inputs["create"].StringValue(), "want=$((150 * 1024 * 1024 * 1024))") {
		t.Error("nfs-setup does not wait for the volume's new size")
	}
	if v := after.mocks.Named(tVolume, "nfs-data"); v.Inputs["size"].NumberValue() != 150 {
		t.Errorf("volume size %v, want 150", v.Inputs["size"])
	}
}

// TestHubReplacementKeepsItsState: the hub's database, cookie secret, proxy token and the
// swarm's state live on a volume of the hub's own, which does not follow the instance; a new
// hub instance takes the same fixed address (the swarm manager's) after the old one is gone,
// gets the volume after the old attachment is deleted, and its bootstrap mounts that volume.
func TestHubReplacementKeepsItsState(t *testing.T) {
	r := deployStack(t, "camp", nil)
	m := r.mocks
	vol := m.Named(tVolume, "hub-state")
	if vol == nil || !vol.Inputs["encrypted"].BoolValue() {
		t.Fatalf("no encrypted hub state volume: %v", vol)
	}
	if slices.ContainsFunc(vol.Dependencies, func(d string) bool { return strings.Contains(d, "Instance") }) {
		t.Error("the hub's state volume depends on the instance: replacing the hub would replace it")
	}
	att := m.Named(tAttachment, "hub-state")
	if att == nil || !att.DeleteBeforeReplace || str(att, "deviceName") != "/dev/sdg" {
		t.Errorf("hub state attachment %v: want /dev/sdg, deleted before its replacement", att)
	}
	inst := m.Named(tInstance, "hub")
	resv := netip.MustParsePrefix(str(m.Named(tReservation, "network-fixed"), "cidrBlock"))
	if ip := netip.MustParseAddr(str(inst, "privateIp")); !resv.Contains(ip) || !inst.DeleteBeforeReplace {
		t.Errorf("hub instance: address %v (reserved block %v), delete before replace %v", ip, resv, inst.DeleteBeforeReplace)
	}
	boot := m.Named(tCommand, "hub-bootstrap").Inputs["create"].StringValue()
	for _, want := range []string{
		"state_device=$(find_volume vol-0fedcba9876543210 /dev/sdg)",
		"/srv/camphub-state/swarm /var/lib/docker/swarm",
		"/srv/camphub-state/jupyterhub /srv/jupyterhub",
		"swarm_init " + str(inst, "privateIp"),
	} {
		if !strings.Contains(boot, want) {
			t.Errorf("hub-bootstrap lacks %q", want)
		}
	}
	if out := r.outputs["hubPublicDns"]; out.V != r.mocks.HubDNS() {
		t.Errorf("hubPublicDns %v: the Elastic IP's name must not change with the instance", out.V)
	}
}
