package main

import (
	"strings"
	"testing"
)

// TestWorkersStartDockerOnlyWithTheirMounts: at every boot (a class-hours start included) Docker
// on a worker runs only after camphub-wait-nfs has the NFS mounts up, and the container firewall
// is in place before Docker starts and again at every Docker restart.
func TestWorkersStartDockerOnlyWithTheirMounts(t *testing.T) {
	// The step's command line quotes the script for bash -c; read the script itself.
	join := strings.ReplaceAll(deployStack(t, "camp", nil).mocks.Named(tCommand, "worker-02-join").Inputs["create"].StringValue(), `'\''`, "'")
	for what, want := range map[string]string{
		"Docker waits for the mounts":            `'ExecStartPre=/usr/local/sbin/camphub-wait-nfs' 'TimeoutStartSec=infinity'`,
		"the wait mounts what fstab names":       `mount "$mp" 2>/dev/null || sleep 5`,
		"the drop-in is installed":               `/etc/systemd/system/docker.service.d/camphub-nfs.conf`,
		"Docker starts only after the firewall":  "[Service]\n# camphub: no engine, and so no container, without the container firewall.\nExecStartPre=/usr/local/sbin/camphub-firewall\n",
		"the engine is spared by the OOM killer": "\nOOMScoreAdjust=-500\n",
		"the firewall's drop-in is installed":    "/etc/systemd/system/docker.service.d/camphub-firewall.conf",
		"the worker runs both":                   "install_firewall\ndocker_waits_for_nfs\nswarm_join",
	} {
		if !strings.Contains(join, want) {
			t.Errorf("worker join step: %s does not hold (no %q)", what, want)
		}
	}
}
