package main

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/internal/mocktest"
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

// TestSnapshotRoleHasItsBoundary: the program makes the snapshot role with the permissions
// boundary the deploy policy demands of it (deploy/iam-policy.json, deploy/policy_test.go).
func TestSnapshotRoleHasItsBoundary(t *testing.T) {
	r := deployStack(t, "camp", nil)
	role := r.mocks.Named("aws:iam/role:Role", "nfs-snapshots")
	if role == nil || str(role, "permissionsBoundary") != components.SnapshotPolicyARN {
		t.Errorf("the snapshot role has no permissions boundary of %s; the deploy role may not create it", components.SnapshotPolicyARN)
	}
}

// TestDailySnapshotsRunAndKeepWhatConfigSays: the snapshot policy is enabled, runs daily and
// keeps as many snapshots as camphub:nfsSnapshotRetainDays.
func TestDailySnapshotsRunAndKeepWhatConfigSays(t *testing.T) {
	for _, days := range []string{"7", "12"} {
		r := deployStack(t, "camp", map[string]string{"camphub:nfsSnapshotRetainDays": days})
		p := r.mocks.OfType(tDLM)[0]
		if str(p, "state") != "ENABLED" {
			t.Errorf("the snapshot policy is %q: no backups at all", str(p, "state"))
		}
		sched := p.Inputs["policyDetails"].ObjectValue()["schedules"].ArrayValue()[0].ObjectValue()
		create := sched["createRule"].ObjectValue()
		if create["interval"].NumberValue() != 24 || create["intervalUnit"].StringValue() != "HOURS" {
			t.Errorf("snapshots every %v %v, want every 24 HOURS", create["interval"], create["intervalUnit"])
		}
		if got := sched["retainRule"].ObjectValue()["count"].NumberValue(); strconv.FormatFloat(got, 'f', -1, 64) != days {
			t.Errorf("keeps %v snapshots, want camphub:nfsSnapshotRetainDays = %s", got, days)
		}
	}
}
