package provision

import (
	"errors"
	"fmt"
	"net/netip"
)

// Nfs is what the NFS server's setup needs.
type Nfs struct {
	Stack      string
	VolumeID   string
	DeviceName string
	HubIP      string   // creates homes as root: not root-squashed
	WorkerIPs  []string // mount with root squashed; nobody else may mount
	// SizeGiB is the data volume's size: a larger one re-runs the setup, which grows the file
	// system to fill it.
	SizeGiB int
	// HomeQuotaGiB is each home folder's quota (an ext4 project quota); Slots is how many
	// quota-bound empty folders camphub-quota keeps ready for the hub's new homes.
	HomeQuotaGiB, Slots int
}

// NfsSetupScript renders the NFS server's setup.
func NfsSetupScript(n Nfs) (string, error) {
	if n.VolumeID == "" || n.HubIP == "" || len(n.WorkerIPs) == 0 || n.SizeGiB <= 0 {
		return "", errors.New("nfs setup needs the volume id and size, the hub's address and the workers'")
	}
	if n.HomeQuotaGiB <= 0 || n.Slots <= 0 {
		return "", errors.New("nfs setup needs the home quota and the number of quota slots")
	}
	for _, a := range append([]string{n.HubIP}, n.WorkerIPs...) {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
			return "", fmt.Errorf("nfs setup: %q is not an IPv4 address", a)
		}
	}
	return render("nfs-setup.sh.tmpl", struct {
		Paths
		Nfs
	}{Layout, n})
}

// HomeQuotaKiB is the home quota in setquota's 1 KiB blocks.
func (n Nfs) HomeQuotaKiB() int { return n.HomeQuotaGiB << 20 }

// ProbeQuotaKiB is the smoke probes' quota in setquota's 1 KiB blocks.
func (p Paths) ProbeQuotaKiB() int { return p.ProbeQuotaMiB << 10 }

// QuotaScript renders camphub-quota, which the NFS server carries (nfs-setup installs it).
func QuotaScript(n Nfs) (string, error) {
	return render("quota-script", struct {
		Paths
		Nfs
	}{Layout, n})
}

// NfsWaitScript renders camphub-wait-nfs, which Docker on a worker runs before it starts.
func NfsWaitScript() (string, error) {
	return render("nfs-wait-script", Layout)
}

// HandBackScript renders camphub-hand-back, which the NFS server carries: one archive per
// student's home folder, as a tar stream on standard output.
func HandBackScript() (string, error) {
	return render("hand-back-script", Layout)
}
