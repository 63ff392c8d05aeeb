package provision

import (
	"fmt"
	"net/netip"
)

// Firewall is what a node's container firewall needs.
type Firewall struct {
	Role    string
	VpcCidr string // the cluster's private block: containers reach none of it
	DNS     string // the VPC's resolver (the block's base + 2): containers may ask it
}

// NewFirewall is the firewall of a role in the VPC block vpcCidr.
func NewFirewall(role, vpcCidr string) (Firewall, error) {
	p, err := netip.ParsePrefix(vpcCidr)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return Firewall{}, fmt.Errorf("the firewall needs the VPC's IPv4 block, got %q", vpcCidr)
	}
	dns := p.Addr().Next().Next()
	return Firewall{Role: role, VpcCidr: p.String(), DNS: dns.String()}, nil
}

// FirewallRules renders the firewall on its own (/usr/local/sbin/camphub-firewall).
func FirewallRules(f Firewall) (string, error) {
	return render("firewall-rules", f)
}

// FirewallDropIn renders docker.service's drop-in that runs the firewall before the engine
// starts (/etc/systemd/system/docker.service.d/camphub-firewall.conf).
func FirewallDropIn() (string, error) {
	return render("firewall-dropin", nil)
}
