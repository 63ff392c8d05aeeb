package components

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/internal/mocktest"
)

// Each component guards its own arguments, whatever the configuration check upstream does
// (defence in depth): called directly with a value past a bound, it refuses before it makes
// anything; the last good value on each side passes its check.

func machineArgs() MachineArgs { return machineAt("") }

// machineAt is a machine with a fixed private address (ip, or none).
func machineAt(ip string) MachineArgs {
	return MachineArgs{InstanceType: "t3.small", AMI: "ami-0123456789abcdef0", SubnetID: pulumi.String("subnet-1"),
		SecurityGroupID: pulumi.String("sg-1"), KeyName: pulumi.String("camphub"), PrivateIP: ip}
}

func sshArgs() SSH {
	return SSH{PrivateKey: pulumi.String("key"), JumpHost: pulumi.String("203.0.113.10")}
}

// refuses calls make under mocks and returns how many resources were made and its error.
func refuses(t *testing.T, make func(ctx *pulumi.Context) error) (int, error) {
	t.Helper()
	mocks := mocktest.New("us-west-2")
	var got error
	_ = pulumi.RunErr(func(ctx *pulumi.Context) error {
		got = make(ctx)
		return nil
	}, pulumi.WithMocks("camphub", "dev", mocks))
	return len(mocks.Resources()), got
}

func TestComponentsGuardTheirOwnBounds(t *testing.T) {
	pool := func(n int) *WorkerPoolArgs {
		return &WorkerPoolArgs{MachineArgs: machineArgs(), Count: n, SSH: sshArgs(), Image: "quay.io/jupyter/scipy-notebook:2025-12-31"}
	}
	nfs := func(size, days int) *NfsServerArgs {
		return &NfsServerArgs{MachineArgs: machineAt("10.42.0.11"), AvailabilityZone: pulumi.String("us-west-2a"), VolumeSizeGiB: size,
			SnapshotRetainDays: days, HomeQuotaGiB: 1, QuotaSlots: 11, SSH: sshArgs(), HubPrivateIP: pulumi.String("10.42.0.10"), WorkerIPs: pulumi.StringArray{}}
	}
	hub := func(port int) *HubArgs {
		return &HubArgs{MachineArgs: machineAt("10.42.0.10"), Port: port, AvailabilityZone: pulumi.String("us-west-2a")}
	}
	network := func(port int, admin string) *NetworkArgs {
		return &NetworkArgs{AvailabilityZone: "us-west-2a", VpcCidr: netip.MustParsePrefix("10.42.0.0/16"),
			AdminCidrs: []netip.Prefix{netip.MustParsePrefix(admin)}, HubPort: port}
	}
	bad := map[string]struct {
		make func(ctx *pulumi.Context) error
		want string
	}{
		"no worker": {func(ctx *pulumi.Context) error { _, err := NewWorkerPool(ctx, "worker", pool(0)); return err }, "count must be 1..50"},
		"one worker too many": {func(ctx *pulumi.Context) error {
			_, err := NewWorkerPool(ctx, "worker", pool(MaxWorkers+1))
			return err
		}, "count must be 1..50"},
		"a data volume too small": {func(ctx *pulumi.Context) error {
			_, err := NewNfsServer(ctx, "nfs", nfs(MinVolumeGiB-1, 7))
			return err
		}, "VolumeSizeGiB must be 10..16384"},
		"a data volume too big": {func(ctx *pulumi.Context) error {
			_, err := NewNfsServer(ctx, "nfs", nfs(MaxVolumeGiB+1, 7))
			return err
		}, "VolumeSizeGiB must be 10..16384"},
		"no snapshot kept": {func(ctx *pulumi.Context) error { _, err := NewNfsServer(ctx, "nfs", nfs(100, 0)); return err }, "SnapshotRetainDays must be 1..35"},
		"snapshots kept too long": {func(ctx *pulumi.Context) error {
			_, err := NewNfsServer(ctx, "nfs", nfs(100, MaxSnapshotRetainDays+1))
			return err
		}, "SnapshotRetainDays must be 1..35"},
		"hub port 0":          {func(ctx *pulumi.Context) error { _, err := NewHub(ctx, "hub", hub(0)); return err }, "port 0 out of range"},
		"hub port past 65535": {func(ctx *pulumi.Context) error { _, err := NewHub(ctx, "hub", hub(65536)); return err }, "port 65536 out of range"},
		"the proxy's API port": {func(ctx *pulumi.Context) error {
			_, err := NewNetwork(ctx, "network", network(8001, "203.0.113.7/32"))
			return err
		}, "HubPort 8001 is the cluster's own port"},
		"the NFS port": {func(ctx *pulumi.Context) error {
			_, err := NewNetwork(ctx, "network", network(2049, "203.0.113.7/32"))
			return err
		}, "HubPort 2049 is the cluster's own port"},
		"SSH from a /15": {func(ctx *pulumi.Context) error {
			_, err := NewNetwork(ctx, "network", network(8443, "203.0.0.0/15"))
			return err
		}, "must be an IPv4 block of /16 or narrower"},
	}
	for name, c := range bad {
		made, err := refuses(t, c.make)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: the component said %v; want %q", name, err, c.want)
		}
		if made != 0 {
			t.Errorf("%s: %d resources were made before the refusal", name, made)
		}
	}
	// The last good value on each side.
	for name, err := range map[string]error{
		"one worker":          pool(1).validate(),
		"50 workers":          pool(MaxWorkers).validate(),
		"the smallest volume": nfs(MinVolumeGiB, 1).validate(),
		"the largest volume":  nfs(MaxVolumeGiB, MaxSnapshotRetainDays).validate(),
		"hub port 1":          hub(1).validate(),
		"hub port 65535":      hub(65535).validate(),
		"SSH from a /16":      network(8443, "203.0.0.0/16").validate(),
		"the usual hub port":  network(8443, "203.0.113.7/32").validate(),
	} {
		if err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}
