// camphub stands up a JupyterHub cluster on AWS for a classroom or a data-science camp:
// a hub (JupyterHub, Google login, Docker Swarm manager), swarm workers for the students'
// notebook containers and an NFS server for their home folders. See README.md.
package main

import (
	"fmt"
	"os"
	_ "time/tzdata" // camphub:schedule's time zones, wherever `pulumi up` runs

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/config"
	"github.com/camphub/camphub/provision"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		keys, err := config.StackKeys(os.Getenv(pulumi.EnvConfig))
		if err != nil {
			return err
		}
		cfg, err := config.Load(ctx, keys)
		if err != nil {
			return err
		}
		outputs, err := deploy(ctx, cfg)
		if err != nil {
			return err
		}
		for k, v := range outputs {
			ctx.Export(k, v)
		}
		return nil
	})
}

// deploy builds the cluster from a validated Config and returns the stack outputs.
func deploy(ctx *pulumi.Context, cfg *config.Config) (pulumi.Map, error) {
	pre, err := components.RunPreflight(ctx, components.PreflightArgs{
		Region: cfg.Region, Machines: cfg.Machines(), WorkerKey: "camphub:workerInstanceType",
		MemGuarantee: cfg.StudentMemGuaranteeBytes, MemGuaranteeKey: "camphub:studentMemGuarantee",
		CPUGuarantee: cfg.StudentCPUGuarantee, CPUGuaranteeKey: "camphub:studentCpuGuarantee",
		Students:     len(cfg.StudentEmails) + len(cfg.AdminEmails),
		DataVolumeID: cfg.NfsVolumeID, DataSnapshotID: cfg.NfsSnapshotID, DataSizeGiB: cfg.NfsVolumeSizeGiB,
		DataSizeKey: "camphub:nfsVolumeSizeGiB",
	})
	if err != nil {
		return nil, err
	}
	ami, err := components.LookupAMI(ctx, cfg.AmiID)
	if err != nil {
		return nil, err
	}
	net, err := components.NewNetwork(ctx, "network", &components.NetworkArgs{
		AvailabilityZone: pre.AvailabilityZone, VpcCidr: cfg.VpcCidr, AdminCidrs: cfg.AdminCidrs, HubPort: cfg.HubPort,
	})
	if err != nil {
		return nil, err
	}
	c, err := newMachines(ctx, cfg, net, pre, ami)
	if err != nil {
		return nil, err
	}
	// The hub's own steps; then the workers join; the smoke step ends `pulumi up`.
	onHub := components.SSH{PrivateKey: net.SSHPrivateKey}
	if err := c.hub.Provision(ctx, "hub", &components.HubProvisionArgs{
		SSH: onHub, NfsIP: c.nfs.PrivateIP, NfsReady: c.nfs.Setup, VpcCidr: net.VpcCidr,
		OAuthClientSecret: cfg.OAuthClientSecret, Roster: cfg.Roster(), Config: cfg.Hub(ctx.Stack()),
		Course: provision.Course{Stack: ctx.Stack(), Source: cfg.CourseDir, Digest: cfg.CourseDigest},
	}); err != nil {
		return nil, err
	}
	if err := c.workers.Join(ctx, &components.WorkerJoinArgs{
		Hub: c.hub, NfsIP: c.nfs.PrivateIP, NfsReady: c.nfs.Setup, VpcCidr: net.VpcCidr,
	}); err != nil {
		return nil, err
	}
	if err := c.hub.Smoke(ctx, "hub", onHub, cfg.NotebookImage, c.workers); err != nil {
		return nil, err
	}
	return stackOutputs(ctx, cfg, c), nil
}

// newMachines makes the hub, the worker pool and the NFS server (instances, volumes, addresses),
// each from its role's machine defaults.
func newMachines(ctx *pulumi.Context, cfg *config.Config, net *components.Network, pre *components.Preflight, ami string) (cluster, error) {
	// machine is what a role's instances are made from: its type, cloud-config and security group.
	machine := func(role, instanceType string, privateIP string) (components.MachineArgs, error) {
		userData, err := provision.CloudInit(role, cfg.NotebookImage)
		return components.MachineArgs{
			InstanceType: instanceType, AMI: ami, UserData: userData, SubnetID: net.SubnetID,
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
		SSH: throughHub, HubPrivateIP: c.hub.PrivateIP, WorkerIPs: c.workers.PrivateIPs, AddressReady: net.Reservation,
	}); err != nil {
		return c, err
	}
	return c, nil
}
