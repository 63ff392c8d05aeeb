package main

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCertificateIsNotRenewedEveryUp: early renewal shorter than the validity, or every `pulumi
// up` makes a new certificate (a hub restart and a new browser warning).
func TestCertificateIsNotRenewedEveryUp(t *testing.T) {
	cert := deployStack(t, "camp", nil).mocks.OfType(tCert)[0]
	valid, early := cert.Inputs["validityPeriodHours"].NumberValue(), cert.Inputs["earlyRenewalHours"].NumberValue()
	if early <= 0 || early >= valid/2 {
		t.Errorf("early renewal %v h with validity %v h: want a renewal window well inside the validity", early, valid)
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
