package provision

import (
	"errors"
)

// Worker is what a worker's setup needs.
type Worker struct {
	Stack    string
	HubIP    string
	NfsIP    string
	Firewall Firewall
}

// WorkerSetupScript renders a worker's setup: NFS mounts (Docker waits for them), swarm join.
func WorkerSetupScript(w Worker) (string, error) {
	if w.HubIP == "" || w.NfsIP == "" || w.Firewall.VpcCidr == "" {
		return "", errors.New("worker setup needs the hub's and NFS server's addresses and the firewall")
	}
	return render("worker-setup.sh.tmpl", struct {
		Paths
		Worker
	}{Layout, w})
}

// WorkerImageScript renders a worker's image step: the notebook image pulled and present.
func WorkerImageScript(stack, image string) (string, error) {
	if image == "" {
		return "", errors.New("the worker image step needs the notebook image")
	}
	return render("worker-image.sh.tmpl", struct {
		Paths
		Stack, Image string
		MaxImageGiB  int
	}{Layout, stack, image, MaxImageGiB})
}
