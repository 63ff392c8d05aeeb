// camphub stands up a JupyterHub cluster on AWS for a classroom or a data-science camp:
// a hub (JupyterHub, Google login, Docker Swarm manager), swarm workers for the students'
// notebook containers and an NFS server for their home folders. See README.md.
package main

import (
	"os"

	_ "time/tzdata" // camphub:schedule's time zones, wherever `pulumi up` runs

	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"

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
		outputs, err := program(ctx, keys)
		if refusal, ok := config.IsRefusal(err); ok {
			// A refusal is the organiser's to fix, not a crash: logged as it is (Pulumi's wrapper
			// would put "an unhandled error occurred: program failed: 1 error occurred:" before
			// it), then the exit status that tells the engine the error is already reported.
			_ = ctx.Log.Error(refusal.Error(), nil)
			os.Exit(constant.ExitStatusLoggedError)
		}
		for k, v := range outputs {
			ctx.Export(k, v)
		}
		return err
	})
}

// program is the whole Pulumi program for a stack that sets keys: the configuration, checked,
// then the cluster; it returns the stack outputs.
func program(ctx *pulumi.Context, keys []string) (pulumi.Map, error) {
	cfg, err := config.Load(ctx, keys)
	if err != nil {
		return nil, err
	}
	return deploy(ctx, cfg)
}

// deploy builds the cluster from a validated Config and returns the stack outputs.
func deploy(ctx *pulumi.Context, cfg *config.Config) (pulumi.Map, error) {
	pre, err := components.RunPreflight(ctx, components.PreflightArgs{
		Region: cfg.Region, Machines: cfg.Machines(), WorkerKey: "camphub:workerInstanceType",
		MemGuarantee: cfg.StudentMemGuaranteeBytes, MemGuaranteeKey: "camphub:studentMemGuarantee",
		CPUGuarantee: cfg.StudentCPUGuarantee, CPUGuaranteeKey: "camphub:studentCpuGuarantee",
		MemLimit: cfg.StudentMemLimitBytes, MemLimitKey: "camphub:studentMemLimit",
		CPULimit: cfg.StudentCPULimit, CPULimitKey: "camphub:studentCpuLimit",
		Students:     len(cfg.StudentEmails) + len(cfg.AdminEmails),
		DataVolumeID: cfg.NfsVolumeID, DataSnapshotID: cfg.NfsSnapshotID, DataSizeGiB: cfg.NfsVolumeSizeGiB,
		DataSizeKey: "camphub:nfsVolumeSizeGiB",
	})
	if err != nil {
		return nil, config.Refuse(ctx.Stack(), err)
	}
	amis, err := lookupAMIs(ctx, cfg, pre.Arch)
	if err != nil {
		return nil, err
	}
	net, err := components.NewNetwork(ctx, "network", &components.NetworkArgs{
		AvailabilityZone: pre.AvailabilityZone, VpcCidr: cfg.VpcCidr, AdminCidrs: cfg.AdminCidrs, HubPort: cfg.HubPort,
	})
	if err != nil {
		return nil, err
	}
	c, err := newMachines(ctx, cfg, net, pre, amis)
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
