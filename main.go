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
	"github.com/camphub/camphub/provision"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		keys, err := StackKeys(os.Getenv(pulumi.EnvConfig))
		if err != nil {
			return err
		}
		cfg, err := Load(ctx, keys)
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
func deploy(ctx *pulumi.Context, cfg *Config) (pulumi.Map, error) {
	pre, err := components.RunPreflight(ctx, components.PreflightArgs{
		Region: cfg.Region,
		Machines: []components.Machine{
			{Key: "camphub:hubInstanceType", Type: cfg.HubInstanceType, Count: 1},
			{Key: "camphub:nfsInstanceType", Type: cfg.NfsInstanceType, Count: 1},
			{Key: "camphub:workerInstanceType", Type: cfg.WorkerInstanceType, Count: cfg.WorkerCount},
		},
		WorkerKey:       "camphub:workerInstanceType",
		MemGuarantee:    cfg.StudentMemGuaranteeBytes,
		MemGuaranteeKey: "camphub:studentMemGuarantee",
		CPUGuarantee:    cfg.StudentCPUGuarantee,
		CPUGuaranteeKey: "camphub:studentCpuGuarantee",
		Students:        len(cfg.StudentEmails) + len(cfg.AdminEmails),
		DataVolumeID:    cfg.NfsVolumeID,
		DataSnapshotID:  cfg.NfsSnapshotID,
		DataSizeGiB:     cfg.NfsVolumeSizeGiB,
		DataSizeKey:     "camphub:nfsVolumeSizeGiB",
	})
	if err != nil {
		return nil, err
	}
	ami, err := components.LookupAMI(ctx, cfg.AmiID)
	if err != nil {
		return nil, err
	}
	userData := map[string]string{}
	for _, role := range []string{provision.RoleHub, provision.RoleWorker, provision.RoleNfs} {
		if userData[role], err = provision.CloudInit(role, cfg.NotebookImage); err != nil {
			return nil, fmt.Errorf("%s user data: %w", role, err)
		}
	}

	net, err := components.NewNetwork(ctx, "network", &components.NetworkArgs{
		AvailabilityZone: pre.AvailabilityZone,
		VpcCidr:          cfg.VpcCidr,
		AdminCidrs:       cfg.AdminCidrs,
		HubPort:          cfg.HubPort,
	})
	if err != nil {
		return nil, err
	}
	// machine is what a role's instances are made from: its type, cloud-config and security group.
	machine := func(role, instanceType string) components.MachineArgs {
		return components.MachineArgs{
			InstanceType:    instanceType,
			AMI:             ami,
			UserData:        userData[role],
			SubnetID:        net.SubnetID,
			SecurityGroupID: net.SecurityGroupIDs[role],
			KeyName:         net.KeyName,
		}
	}
	hubMachine := machine(provision.RoleHub, cfg.HubInstanceType)
	hubMachine.PrivateIP = net.HubPrivateIP
	hub, err := components.NewHub(ctx, "hub", &components.HubArgs{
		MachineArgs:      hubMachine,
		Port:             cfg.HubPort,
		AvailabilityZone: net.AvailabilityZone,
		AddressReady:     net.Reservation,
	})
	if err != nil {
		return nil, err
	}
	// Workers and the NFS server are reached over SSH only through the hub.
	throughHub := components.SSH{PrivateKey: net.SSHPrivateKey, JumpHost: hub.PublicIP, JumpReady: hub.Association}
	var hours *components.ClassHours
	if s := cfg.Schedule; s != nil {
		id, err := aws.GetCallerIdentity(ctx, &aws.GetCallerIdentityArgs{})
		if err != nil {
			return nil, fmt.Errorf("camphub:schedule needs the account id: %w", err)
		}
		hours = &components.ClassHours{
			Days: s.Days, TimeZone: s.TimeZone, AccountID: id.AccountId,
			StartMinute: s.StartMinute - WorkerLeadMinutes, StopMinute: s.EndMinute + WorkerTailMinutes,
		}
	}
	workers, err := components.NewWorkerPool(ctx, "worker", &components.WorkerPoolArgs{
		MachineArgs: machine(provision.RoleWorker, cfg.WorkerInstanceType),
		Count:       cfg.WorkerCount,
		SSH:         throughHub,
		Image:       cfg.NotebookImage,
		Hours:       hours,
	})
	if err != nil {
		return nil, err
	}
	nfsMachine := machine(provision.RoleNfs, cfg.NfsInstanceType)
	nfsMachine.PrivateIP = net.NfsPrivateIP
	nfs, err := components.NewNfsServer(ctx, "nfs", &components.NfsServerArgs{
		MachineArgs:           nfsMachine,
		AvailabilityZone:      net.AvailabilityZone,
		VolumeSizeGiB:         cfg.NfsVolumeSizeGiB,
		RetainVolumeOnDestroy: cfg.NfsRetainVolumeOnDestroy,
		SnapshotRetainDays:    cfg.NfsSnapshotRetainDays,
		KeptVolumeID:          cfg.NfsVolumeID,
		KeptVolumeGiB:         pre.DataVolumeGiB,
		SnapshotID:            cfg.NfsSnapshotID,
		SSH:                   throughHub,
		HubPrivateIP:          hub.PrivateIP,
		WorkerIPs:             workers.PrivateIPs,
		AddressReady:          net.Reservation,
	})
	if err != nil {
		return nil, err
	}
	if err := hub.Provision(ctx, "hub", &components.HubProvisionArgs{
		SSH:               components.SSH{PrivateKey: net.SSHPrivateKey},
		NfsIP:             nfs.PrivateIP,
		NfsReady:          nfs.Setup,
		VpcCidr:           net.VpcCidr,
		OAuthClientSecret: cfg.OAuthClientSecret,
		Course:            provision.Course{Stack: ctx.Stack(), Source: cfg.CourseDir, Digest: cfg.CourseDigest},
		Roster: provision.Roster{
			Admins:       cfg.AdminEmails,
			Students:     cfg.StudentEmails,
			HostedDomain: cfg.HostedDomain,
		},
		Config: provision.Hub{
			Stack:              ctx.Stack(),
			Port:               cfg.HubPort,
			ClientID:           cfg.OAuthClientID,
			HostedDomain:       cfg.HostedDomain,
			AllowAll:           cfg.HostedDomain != "" && len(cfg.StudentEmails) == 0,
			NotebookImage:      cfg.NotebookImage,
			MemLimit:           cfg.StudentMemLimit,
			MemGuarantee:       cfg.StudentMemGuarantee,
			CPULimit:           cfg.StudentCPULimit,
			CPUGuarantee:       cfg.StudentCPUGuarantee,
			IdleTimeoutMinutes: cfg.IdleTimeoutMinutes,
		},
	}); err != nil {
		return nil, err
	}
	if err := workers.Join(ctx, &components.WorkerJoinArgs{
		Hub:      hub,
		NfsIP:    nfs.PrivateIP,
		NfsReady: nfs.Setup,
		VpcCidr:  net.VpcCidr,
	}); err != nil {
		return nil, err
	}
	if err := hub.Smoke(ctx, "hub", components.SSH{PrivateKey: net.SSHPrivateKey}, cfg.NotebookImage, workers); err != nil {
		return nil, err
	}

	outputs := pulumi.Map{
		"hubUrl":                hub.URL,
		"oauthCallbackUrl":      hub.CallbackURL,
		"oauthJavascriptOrigin": hub.URL,
		"hubPublicIp":           hub.PublicIP,
		"hubPublicDns":          hub.PublicDNS,
		"hubCertificatePem":     hub.CertPEM,
		"sshUser":               pulumi.String(components.SSHUser),
		"sshPrivateKey":         net.SSHPrivateKey,
		"sshCommand": pulumi.Sprintf(
			"pulumi stack output --show-secrets sshPrivateKey > camphub-%s.pem && chmod 600 camphub-%s.pem && ssh -i camphub-%s.pem %s@%s",
			ctx.Stack(), ctx.Stack(), ctx.Stack(), components.SSHUser, hub.PublicDNS),
		// One archive per student's home folder, for the teacher (README "Teardown").
		"handBackCommand": pulumi.Sprintf(
			"mkdir -p hand-back && ssh -i camphub-%s.pem -J %s@%s %s@%s sudo camphub-hand-back | tar -xf - -C hand-back",
			ctx.Stack(), components.SSHUser, hub.PublicDNS, components.SSHUser, nfs.PrivateIP),
		// The dress rehearsal: a class of probe students at once, the day before camp.
		"dressRehearsalCommand": pulumi.Sprintf(
			"ssh -t -i camphub-%s.pem %s@%s sudo CAMPHUB_SEATS=%d camphub-smoke %d",
			ctx.Stack(), components.SSHUser, hub.PublicDNS, pre.Seats, max(1, len(cfg.StudentEmails))),
		"workerPrivateIps": workers.PrivateIPs,
		"nfsPrivateIp":     nfs.PrivateIP,
		"nfsVolumeId":      nfs.VolumeID,
	}
	for k, v := range costOutputs(ctx, cfg, hours) {
		outputs[k] = v
	}
	return outputs, nil
}

// costOutputs prices the stack from the AWS Price List API: per hour in class, per camp week
// (the stack up for seven days, the workers by the schedule) and per student-week. A price list
// that cannot be read does not stop `pulumi up`: the outputs say why instead.
func costOutputs(ctx *pulumi.Context, cfg *Config, hours *components.ClassHours) pulumi.Map {
	workerHours := 7 * 24.0
	if hours != nil {
		workerHours = hours.HoursPerWeek()
	}
	students := len(cfg.StudentEmails)
	prices, err := components.FetchPrices(ctx, cfg.Region, []string{cfg.HubInstanceType, cfg.NfsInstanceType, cfg.WorkerInstanceType})
	var cost components.Cost
	if err == nil {
		cost, err = components.WeekCost(prices, components.Footprint{
			Hub: cfg.HubInstanceType, Nfs: cfg.NfsInstanceType, Worker: cfg.WorkerInstanceType,
			Workers: cfg.WorkerCount, WorkerHoursPerWeek: workerHours, Students: students,
			DiskGiB: components.HubRootGiB + components.StateVolumeGiB + components.NfsRootGiB +
				cfg.WorkerCount*components.WorkerRootGiB + cfg.NfsVolumeSizeGiB,
			SnapshotGiB: cfg.NfsVolumeSizeGiB,
		})
	}
	if err != nil {
		_ = ctx.Log.Warn("cost outputs: "+err.Error(), nil)
		return pulumi.Map{"costNote": pulumi.String("prices unavailable: " + err.Error())}
	}
	parts := pulumi.Map{}
	for k, v := range cost.Parts {
		parts[k] = pulumi.Float64(v)
	}
	out := pulumi.Map{
		"costPerHourInClassUsd": pulumi.Float64(cost.PerHourInClass),
		"costPerCampWeekUsd":    pulumi.Float64(cost.PerWeek),
		"costPerCampWeekParts":  parts,
		"costNote": pulumi.Sprintf("on-demand %s prices from the AWS Price List API; a camp week is the stack up 7 days with workers running %.1f h; snapshots counted at the data volume's full size",
			cfg.Region, workerHours),
	}
	if students > 0 {
		out["costPerStudentWeekUsd"] = pulumi.Float64(cost.PerStudentWeek)
	}
	return out
}
