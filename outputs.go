package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/config"
)

// cluster is what deploy made, for the stack outputs.
type cluster struct {
	net     *components.Network
	hub     *components.Hub
	workers *components.WorkerPool
	nfs     *components.NfsServer
	seats   int
	hours   *components.ClassHours
}

// stackOutputs are the addresses, the Google console's two values, the operator's commands and
// the costs.
func stackOutputs(ctx *pulumi.Context, cfg *config.Config, c cluster) pulumi.Map {
	stack, user, hubDNS := ctx.Stack(), components.SSHUser, c.hub.PublicDNS
	outputs := pulumi.Map{
		"hubUrl":                c.hub.URL,
		"oauthCallbackUrl":      c.hub.CallbackURL,
		"oauthJavascriptOrigin": c.hub.URL,
		"hubPublicIp":           c.hub.PublicIP,
		"hubPublicDns":          hubDNS,
		"hubCertificatePem":     c.hub.CertPEM,
		"sshUser":               pulumi.String(user),
		"sshPrivateKey":         c.net.SSHPrivateKey,
		"sshCommand": pulumi.Sprintf(
			"pulumi stack output --show-secrets sshPrivateKey > camphub-%s.pem && chmod 600 camphub-%s.pem && ssh -i camphub-%s.pem %s@%s",
			stack, stack, stack, user, hubDNS),
		// One archive per student's home folder, for the teacher (README "Teardown").
		"handBackCommand": pulumi.Sprintf(
			"mkdir -p hand-back && ssh -i camphub-%s.pem -J %s@%s %s@%s sudo camphub-hand-back | tar -xf - -C hand-back",
			stack, user, hubDNS, user, c.nfs.PrivateIP),
		// The dress rehearsal: a class of probe students at once, the day before camp.
		"dressRehearsalCommand": pulumi.Sprintf(
			"ssh -t -i camphub-%s.pem %s@%s sudo CAMPHUB_SEATS=%d camphub-smoke %d",
			stack, user, hubDNS, c.seats, max(1, len(cfg.StudentEmails))),
		// Outside class hours, a teacher starts the workers by hand (README "On the day of camp");
		// the schedule stops them again at its next stop.
		"startWorkersCommand": pulumi.Sprintf("aws ec2 start-instances --region %s --instance-ids %s",
			cfg.Region, workerIDs(c.workers)),
		"workerPrivateIps": c.workers.PrivateIPs,
		"nfsPrivateIp":     c.nfs.PrivateIP,
		"nfsVolumeId":      c.nfs.VolumeID,
	}
	for k, v := range costOutputs(ctx, cfg, c.hours) {
		outputs[k] = v
	}
	return outputs
}

// costOutputs prices the stack from the AWS Price List API: per hour in class, per camp week
// (the stack up for seven days, the workers by the schedule) and per student-week. A price list
// that cannot be read does not stop `pulumi up`: the outputs say why instead.
func costOutputs(ctx *pulumi.Context, cfg *config.Config, hours *components.ClassHours) pulumi.Map {
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
			DiskGiB:     components.StackDiskGiB(cfg.WorkerCount, cfg.NfsVolumeSizeGiB),
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

// workerIDs are the workers' instance ids, space-separated.
func workerIDs(w *components.WorkerPool) pulumi.StringOutput {
	ids := make([]interface{}, len(w.Instances))
	for i, inst := range w.Instances {
		ids[i] = inst.ID()
	}
	return pulumi.All(ids...).ApplyT(func(v []interface{}) string {
		out := make([]string, len(v))
		for i, id := range v {
			out[i] = fmt.Sprint(id)
		}
		return strings.Join(out, " ")
	}).(pulumi.StringOutput)
}
