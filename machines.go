package main

import (
	"fmt"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/config"
	"github.com/camphub/camphub/provision"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newMachines makes the hub, the worker pool and the NFS server (instances, volumes, addresses),
// each from its role's machine defaults.
// lookupAMIs finds each role's AMI (its kind, for the stack's architecture) before anything is
// made: camphub:amiId for all when set, which must be an image of the instance types'
// architecture.
func lookupAMIs(ctx *pulumi.Context, cfg *config.Config, arch string) (map[string]components.AMI, error) {
	amis := map[string]components.AMI{}
	for _, role := range []string{provision.RoleHub, provision.RoleWorker, provision.RoleNfs} {
		id, err := components.LookupAMI(ctx, cfg.AmiID, provision.RoleKind(role, cfg.AmiKind), arch)
		if err != nil {
			return nil, err
		}
		ami, err := components.DescribeAMI(ctx, id)
		if err != nil {
			return nil, err
		}
		if ami.Arch != arch {
			return nil, config.Refuse(ctx.Stack(), fmt.Errorf("camphub:amiId %s is an %s image, but the instance types are %s; pin an AMI of their architecture, or clear camphub:amiId to use the latest Amazon Linux 2023 for them", id, ami.Arch, arch))
		}
		amis[role] = ami
	}
	return amis, nil
}

func newMachines(ctx *pulumi.Context, cfg *config.Config, net *components.Network, pre *components.Preflight, amis map[string]components.AMI) (cluster, error) {
	// machine is what a role's instances are made from: its type, AMI, cloud-config and security group.
	machine := func(role, instanceType string, privateIP string) (components.MachineArgs, error) {
		userData, err := provision.CloudInit(role, cfg.NotebookImage, provision.RoleKind(role, cfg.AmiKind))
		return components.MachineArgs{
			InstanceType: instanceType, AMI: amis[role].ID, MinRootGiB: amis[role].RootGiB, UserData: userData, SubnetID: net.SubnetID,
			SecurityGroupID: net.SecurityGroupIDs[role], KeyName: net.KeyName, PrivateIP: privateIP,
		}, err
	}
	c := cluster{net: net, seats: pre.Seats}
	var err error
	hubMachine, err := machine(provision.RoleHub, cfg.HubInstanceType, net.HubPrivateIP)
	if err != nil {
		return c, fmt.Errorf("hub user data: %w", err)
	}
	if c.hub, err = components.NewHub(ctx, "hub", &components.HubArgs{
		MachineArgs: hubMachine, Port: cfg.HubPort, AvailabilityZone: net.AvailabilityZone, AddressReady: net.Reservation,
	}); err != nil {
		return c, err
	}
	if cfg.Schedule != nil {
		id, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{})
		if err != nil {
			return c, fmt.Errorf("camphub:schedule needs the account id: %w", err)
		}
		c.hours = cfg.Schedule.WorkerHours(id.AccountId)
	}
	// Workers and the NFS server are reached over SSH only through the hub.
	throughHub := components.SSH{PrivateKey: net.SSHPrivateKey, JumpHost: c.hub.PublicIP, JumpReady: c.hub.Association}
	workerMachine, err := machine(provision.RoleWorker, cfg.WorkerInstanceType, "")
	if err != nil {
		return c, fmt.Errorf("worker user data: %w", err)
	}
	if c.workers, err = components.NewWorkerPool(ctx, "worker", &components.WorkerPoolArgs{
		MachineArgs: workerMachine, Count: cfg.WorkerCount, SSH: throughHub, Image: cfg.NotebookImage, Hours: c.hours,
	}); err != nil {
		return c, err
	}
	nfsMachine, err := machine(provision.RoleNfs, cfg.NfsInstanceType, net.NfsPrivateIP)
	if err != nil {
		return c, fmt.Errorf("nfs user data: %w", err)
	}
	if c.nfs, err = components.NewNfsServer(ctx, "nfs", &components.NfsServerArgs{
		MachineArgs: nfsMachine, AvailabilityZone: net.AvailabilityZone, VolumeSizeGiB: cfg.NfsVolumeSizeGiB,
		RetainVolumeOnDestroy: cfg.NfsRetainVolumeOnDestroy, SnapshotRetainDays: cfg.NfsSnapshotRetainDays,
		KeptVolumeID: cfg.NfsVolumeID, KeptVolumeGiB: pre.DataVolumeGiB, SnapshotID: cfg.NfsSnapshotID,
		HomeQuotaGiB: cfg.HomeQuotaGiB, QuotaSlots: cfg.QuotaSlots(),
		SSH: throughHub, HubPrivateIP: c.hub.PrivateIP, WorkerIPs: c.workers.PrivateIPs, AddressReady: net.Reservation,
	}); err != nil {
		return c, err
	}
	return c, nil
}
