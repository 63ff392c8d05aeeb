package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/mocktest"
)

const (
	keptVolume = "vol-0aaaaaaaaaaaaaaaa"
	keptSnap   = "snap-0bbbbbbbbbbbbbbbb"
)

func lastYear(m *mocktest.Mocks) {
	m.Volumes = map[string]mocktest.Volume{keptVolume: {Zone: "us-west-2c", SizeGiB: 120, Encrypted: true}, "vol-0cccccccccccccccc": {Zone: "us-west-2c", SizeGiB: 50}}
	m.Snapshots = map[string]int{keptSnap: 150}
}

// TestLastYearsHomesComeBack: a kept data volume is reattached where it lives (the machines go
// to its zone), never made nor deleted by the stack, tagged for the daily snapshots; a snapshot
// becomes a new volume of the configured size.
func TestLastYearsHomesComeBack(t *testing.T) {
	r := runProgramOn(t, lastYear, "camp", stackConfig(t, "camp", map[string]string{"camphub:nfsVolumeId": keptVolume}))
	if r.err != nil {
		t.Fatal(r.err)
	}
	m := r.mocks
	if v := m.Named(tVolume, "nfs-data"); v != nil {
		t.Error("a new data volume was made although a kept one was named")
	}
	if att := m.Named(tAttachment, "nfs-data"); str(att, "volumeId") != keptVolume {
		t.Errorf("the kept volume is not attached: %v", str(att, "volumeId"))
	}
	if az := str(m.Named("aws:ec2/subnet:Subnet", "network-public"), "availabilityZone"); az != "us-west-2c" {
		t.Errorf("machines in %s, but the kept volume is in us-west-2c", az)
	}
	tag := m.Named("aws:ec2/tag:Tag", "nfs-data-snapshots")
	if tag == nil || str(tag, "resourceId") != keptVolume || str(tag, "value") != "camphub-camp" {
		t.Errorf("the kept volume is not tagged for the daily snapshots: %v", tag)
	}
	setup := m.Named(tCommand, "nfs-setup").Inputs["create"].StringValue()
	if !strings.Contains(setup, "find_volume "+keptVolume) || !strings.Contains(setup, "want=$((120 * 1024") {
		t.Error("nfs-setup does not look for the kept volume at its own size")
	}
	if fmt.Sprint(r.outputs["nfsVolumeId"].V) != keptVolume {
		t.Errorf("nfsVolumeId output %v", r.outputs["nfsVolumeId"].V)
	}

	s := runProgramOn(t, lastYear, "camp", stackConfig(t, "camp", map[string]string{"camphub:nfsSnapshotId": keptSnap, "camphub:nfsVolumeSizeGiB": "150"}))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if v := s.mocks.Named(tVolume, "nfs-data"); str(v, "snapshotId") != keptSnap || v.Inputs["size"].NumberValue() != 150 {
		t.Errorf("the data volume is not made from the snapshot at 150 GiB: %v", v.Inputs)
	}
}

func TestBadReuse(t *testing.T) {
	for name, tc := range map[string]struct {
		overrides map[string]string
		want      string
	}{
		"both":            {map[string]string{"camphub:nfsVolumeId": keptVolume, "camphub:nfsSnapshotId": keptSnap}, "camphub:nfsVolumeId and camphub:nfsSnapshotId are both set"},
		"malformed":       {map[string]string{"camphub:nfsVolumeId": "vol-123"}, `camphub:nfsVolumeId "vol-123" is not an EBS volume id`},
		"no such volume":  {map[string]string{"camphub:nfsVolumeId": "vol-0dddddddddddddddd"}, "camphub:nfsVolumeId vol-0dddddddddddddddd is not a volume in us-west-2"},
		"unencrypted":     {map[string]string{"camphub:nfsVolumeId": "vol-0cccccccccccccccc"}, "is not encrypted"},
		"snapshot larger": {map[string]string{"camphub:nfsSnapshotId": keptSnap}, "camphub:nfsVolumeSizeGiB is 100 GiB but camphub:nfsSnapshotId " + keptSnap + " holds a 150 GiB volume"},
	} {
		r := runProgramOn(t, lastYear, "camp", stackConfig(t, "camp", tc.overrides))
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, r.err, tc.want)
		}
		if n := len(r.mocks.Resources()); n != 0 {
			t.Errorf("%s: %d resources registered", name, n)
		}
	}
	// A kept volume in a zone that lacks a type of the stack.
	r := runProgramOn(t, func(m *mocktest.Mocks) {
		lastYear(m)
		m.Offerings["us-west-2c"] = []string{"t3.medium", "t3.small"}
	}, "camp", stackConfig(t, "camp", map[string]string{"camphub:nfsVolumeId": keptVolume}))
	if r.err == nil || !strings.Contains(r.err.Error(), "is in us-west-2c, which does not offer all of") {
		t.Errorf("kept volume in a zone without the types: %v", r.err)
	}
}
