package components

import (
	"testing"

	"github.com/camphub/camphub/provision"
)

// TestNoClusterPortIsOpenToTheInternet: the only rule whose source is the internet is the hub
// port, and no port the cluster uses for itself (provision.ReservedPorts) faces anything but a
// cluster group or an admin network (SSH).
func TestNoClusterPortIsOpenToTheInternet(t *testing.T) {
	for port := range provision.ReservedPorts {
		for _, r := range IngressRules(8443, []string{"203.0.113.7/32"}) {
			if r.Port == port && r.Source == "0.0.0.0/0" {
				t.Errorf("port %d (%s) is open to the internet: %+v", port, provision.ReservedPorts[port], r)
			}
		}
	}
	open := 0
	for _, r := range IngressRules(8443, nil) {
		if r.Source == "0.0.0.0/0" {
			open++
			if r.Port != 8443 || r.Group != GroupHub {
				t.Errorf("open to the internet: %+v; only the hub port may be", r)
			}
		}
	}
	if open != 1 {
		t.Errorf("%d rules open to the internet, want exactly the hub port", open)
	}
}
