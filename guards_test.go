package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// These tests each hold one property an operator relies on, asserted on what the program sends
// or renders, so that regenerating the golden files can never hide its loss.

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

// TestCertificateIsNotRenewedEveryUp: early renewal shorter than the validity, or every `pulumi
// up` makes a new certificate (a hub restart and a new browser warning).
func TestCertificateIsNotRenewedEveryUp(t *testing.T) {
	cert := deployStack(t, "camp", nil).mocks.OfType(tCert)[0]
	valid, early := cert.Inputs["validityPeriodHours"].NumberValue(), cert.Inputs["earlyRenewalHours"].NumberValue()
	if early <= 0 || early >= valid/2 {
		t.Errorf("early renewal %v h with validity %v h: want a renewal window well inside the validity", early, valid)
	}
}

// TestDomainAndRosterTogether: a hosted domain with a roster admits only the roster, not the
// whole domain.
func TestDomainAndRosterTogether(t *testing.T) {
	r := deployStack(t, "camp", map[string]string{
		"camphub:hostedDomain": "example.org", "camphub:studentEmails": `["ada@example.org"]`,
	})
	create := r.mocks.Named(tCommand, "hub-config").Inputs["create"].StringValue()
	// jupyterhub_config.py sets GoogleOAuthenticator.allow_all from camphub.json's allow_all.
	if !strings.Contains(create, `"allow_all": false,`) || strings.Contains(create, `"allow_all": true`) {
		t.Error("with a roster, the hosted domain's every account may log in")
	}
	whole := deployStack(t, "camp", map[string]string{"camphub:hostedDomain": "example.org", "camphub:studentEmails": "[]"})
	if !strings.Contains(whole.mocks.Named(tCommand, "hub-config").Inputs["create"].StringValue(), `"allow_all": true,`) {
		t.Error("a hosted domain without a roster does not admit the domain")
	}
}

// TestHubStepsKeepTheirPromises: secret files are written 0600, the step waits for /hub/health
// through the proxy trusting only the stack's certificate, and workers get the worker token.
func TestHubStepsKeepTheirPromises(t *testing.T) {
	r := deployStack(t, "camp", nil)
	config := r.mocks.Named(tCommand, "hub-config").Inputs["create"].StringValue()
	for what, re := range map[string]string{
		"secret.env written 0600":             `\| put "\$dir/secret\.env" 600\n`,
		"the TLS key written 0600":            `\| put "\$dir/ssl/hub\.key" 600\n`,
		"the proxy token written 0600":        `\| put "\$dir/proxy\.env" 600\n`,
		"the proxy's key readable by it only": `\| put "\$proxy_dir/hub\.key" 400 nobody\n`,
		"a health check through the proxy":    `curl -fsS -o /dev/null --max-time 5 --cacert "\$dir/ssl/hub\.crt" \\\n\s+--resolve \S+:8443:127\.0\.0\.1 "\$health"`,
	} {
		if !regexp.MustCompile(re).MatchString(config) {
			t.Errorf("hub-config: %s does not hold", what)
		}
	}
	if !strings.Contains(config, "health=https://"+r.mocks.HubDNS()+":8443/hub/health") {
		t.Error("hub-config does not wait for the hub's public /hub/health")
	}
	boot := r.mocks.Named(tCommand, "hub-bootstrap").Inputs["create"].StringValue()
	if !strings.Contains(boot, "docker swarm join-token -q worker >&3") || strings.Contains(boot, "join-token -q manager") {
		t.Error("the bootstrap does not hand out the worker join token (and only it)")
	}
	// The idle culler gets seconds (minutes * 60): jupyterhub_config.py hands the culler
	// --timeout=idle_timeout_seconds from camphub.json, which hub-config writes.
	if !strings.Contains(config, `"idle_timeout_seconds": 3600,`) {
		t.Error("the idle culler's timeout is not camphub:idleTimeoutMinutes in seconds")
	}
}

// TestWorkersStartDockerOnlyWithTheirMounts: at every boot (a class-hours start included) Docker
// on a worker runs only after camphub-wait-nfs has the NFS mounts up, and the container firewall
// is in place before Docker starts and again at every Docker restart.
func TestWorkersStartDockerOnlyWithTheirMounts(t *testing.T) {
	// The step's command line quotes the script for bash -c; read the script itself.
	join := strings.ReplaceAll(deployStack(t, "camp", nil).mocks.Named(tCommand, "worker-02-join").Inputs["create"].StringValue(), `'\''`, "'")
	for what, want := range map[string]string{
		"Docker waits for the mounts":         `'ExecStartPre=/usr/local/sbin/camphub-wait-nfs' 'TimeoutStartSec=infinity'`,
		"the wait mounts what fstab names":    `mount "$mp" 2>/dev/null || sleep 5`,
		"the drop-in is installed":            `/etc/systemd/system/docker.service.d/camphub-nfs.conf`,
		"the firewall precedes Docker":        "Before=docker.service\nPartOf=docker.service",
		"the firewall runs with every Docker": "WantedBy=docker.service multi-user.target",
		"the worker runs both":                "install_firewall\ndocker_waits_for_nfs\nswarm_join",
	} {
		if !strings.Contains(join, want) {
			t.Errorf("worker join step: %s does not hold (no %q)", what, want)
		}
	}
}
