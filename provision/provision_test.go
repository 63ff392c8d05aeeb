package provision

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// SecretSentinel stands for any secret; no rendered file may contain it.
const SecretSentinel = "SENTINEL-secret-9c41"

const testCert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIRAO2testcertificate\n-----END CERTIFICATE-----\n"

// example stacks, as the program renders them for dev and camp.
func examples() map[string]struct {
	hub     Hub
	roster  Roster
	nfs     Nfs
	boot    Bootstrap
	worker  Worker
	image   string
	workers []string
	amiKind string
} {
	type ex = struct {
		hub     Hub
		roster  Roster
		nfs     Nfs
		boot    Bootstrap
		worker  Worker
		image   string
		workers []string
		// amiKind: camp boots the ECS-optimized AMI (the default), dev the plain one (the
		// fallback), so the goldens show both cloud-configs.
		amiKind string
	}
	dns := "ec2-203-0-113-10.us-west-2.compute.amazonaws.com"
	return map[string]ex{
		"dev": {
			hub: Hub{Stack: "dev", Port: 8443, PublicDNS: dns, ClientID: "123-abc.apps.googleusercontent.com",
				NotebookImage: "quay.io/jupyter/scipy-notebook:2025-12-31", MemLimit: "1G", MemGuarantee: "512M",
				CPULimit: 1, CPUGuarantee: 0.25, IdleTimeoutMinutes: 30, CertPEM: testCert},
			nfs:     Nfs{Stack: "dev", VolumeID: "vol-0123456789abcdef0", DeviceName: "/dev/sdf", HubIP: "10.42.0.10", WorkerIPs: []string{"10.42.0.12"}, SizeGiB: 10, HomeQuotaGiB: 2, Slots: 13},
			boot:    Bootstrap{Stack: "dev", HubIP: "10.42.0.10", NfsIP: "10.42.0.11", Firewall: fw(RoleHub), StateVolumeID: "vol-0fedcba9876543210", StateDeviceName: "/dev/sdg"},
			roster:  Roster{Admins: []string{"teacher@example.org"}, Students: []string{"ada@example.org", "o'brien@example.net"}, HomeQuotaGiB: 2},
			worker:  Worker{Stack: "dev", HubIP: "10.42.0.10", NfsIP: "10.42.0.11", Firewall: fw(RoleWorker)},
			image:   "quay.io/jupyter/scipy-notebook:2025-12-31",
			workers: []string{"10.42.0.12"},
			amiKind: AMIAL2023,
		},
		"camp": {
			hub: Hub{Stack: "camp", Port: 8443, PublicDNS: dns, ClientID: "123-abc.apps.googleusercontent.com",
				HostedDomain: "example.edu", AllowAll: true,
				NotebookImage: "quay.io/jupyter/scipy-notebook:2025-12-31", MemLimit: "4G", MemGuarantee: "2G",
				CPULimit: 2, CPUGuarantee: 0.5, IdleTimeoutMinutes: 60, CertPEM: testCert},
			nfs:     Nfs{Stack: "camp", VolumeID: "vol-0123456789abcdef0", DeviceName: "/dev/sdf", HubIP: "10.42.0.10", WorkerIPs: []string{"10.42.0.12", "10.42.0.13", "10.42.0.14", "10.42.0.15", "10.42.0.16"}, SizeGiB: 100, HomeQuotaGiB: 1, Slots: 61},
			boot:    Bootstrap{Stack: "camp", HubIP: "10.42.0.10", NfsIP: "10.42.0.11", Firewall: fw(RoleHub), StateVolumeID: "vol-0fedcba9876543210", StateDeviceName: "/dev/sdg"},
			roster:  Roster{Admins: []string{"teacher@example.edu"}, HostedDomain: "example.edu", HomeQuotaGiB: 1},
			worker:  Worker{Stack: "camp", HubIP: "10.42.0.10", NfsIP: "10.42.0.11", Firewall: fw(RoleWorker)},
			image:   "quay.io/jupyter/scipy-notebook:2025-12-31",
			workers: []string{"10.42.0.12", "10.42.0.13", "10.42.0.14", "10.42.0.15", "10.42.0.16"},
			amiKind: AMIECS,
		},
	}
}

func fw(role string) Firewall {
	f, err := NewFirewall(role, "10.42.0.0/16")
	if err != nil {
		panic(err)
	}
	return f
}

// renderAll renders every artifact of one example stack, by file name.
func renderAll(t *testing.T, stack string) map[string]string {
	t.Helper()
	ex := examples()[stack]
	out := map[string]string{}
	must := func(name string, s string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s %s: %v", stack, name, err)
		}
		out[name] = s
	}
	for _, role := range []string{RoleHub, RoleWorker, RoleNfs} {
		s, err := CloudInit(role, ex.image, RoleKind(role, ex.amiKind))
		must("cloud-init-"+role+".yaml", s, err)
	}
	s, err := NfsSetupScript(ex.nfs)
	must("nfs-setup.sh", s, err)
	s, err = HubBootstrapScript(ex.boot)
	must("hub-bootstrap.sh", s, err)
	s, err = WorkerSetupScript(ex.worker)
	must("worker-setup.sh", s, err)
	s, err = WorkerImageScript(stack, ex.image)
	must("worker-image.sh", s, err)
	s, err = HubImageScript(stack)
	must("hub-image.sh", s, err)
	s, err = HubRosterScript(stack)
	must("hub-roster.sh", s, err)
	s, err = HubCourseScript(Course{Stack: stack, Source: "course", Digest: strings.Repeat("c0ffee", 11)[:64]})
	must("hub-course.sh", s, err)
	s, err = CourseSyncScript(t)
	must("course-sync.sh", s, err)
	s, err = ex.roster.JSON()
	must("roster.json", s, err)
	s, err = LabelWorkersScript(stack, ex.workers)
	must("label-workers.sh", s, err)
	s, err = FirewallRules(ex.worker.Firewall)
	must("camphub-firewall-worker.sh", s, err)
	s, err = PrepareDiskScript(t)
	must("prepare-disk.sh", s, err)
	s, err = QuotaScript(ex.nfs)
	must("camphub-quota.sh", s, err)
	f, err := RenderHub(ex.hub)
	if err != nil {
		t.Fatalf("%s hub: %v", stack, err)
	}
	out["jupyterhub_config.py"] = f.JupyterHubConfig
	out[Layout.SettingsFile] = f.Settings
	out["camphub_hub.py"] = f.HubHelper
	out["camphub_roster.py"] = f.RosterService
	out["camphub_spawner.py"] = f.SpawnerModule
	out["camphub-smoke.sh"] = f.SmokeScript
	out["camphub_kernel_probe.py"] = f.KernelProbe
	out["camphub_disk_report.py"] = f.DiskReport
	s, err = SmokeStepScript(stack)
	must("smoke-step.sh", s, err)
	out["hub.Dockerfile"] = f.Image.Dockerfile
	out[Layout.HubUnit] = f.UnitFile
	out[Layout.ProxyUnit] = f.ProxyUnitFile
	out["hub-config.sh"] = f.ConfigScript
	return out
}

func TestGolden(t *testing.T) {
	for _, stack := range []string{"dev", "camp"} {
		for name, got := range renderAll(t, stack) {
			if _, err := hubFS.Open("hub/" + name); err == nil {
				continue // a static file of provision/hub: the file itself is what is reviewed
			}
			path := filepath.Join("testdata", stack, name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./provision -update to create it)", err)
			}
			if string(want) != got {
				t.Errorf("%s differs from its golden file; review the change and run go test ./provision -update", path)
			}
		}
	}
}

func tool(t *testing.T, name string) string { return testtool.Need(t, name) }

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScriptsPassShellcheck(t *testing.T) {
	sc := tool(t, "shellcheck")
	for _, stack := range []string{"dev", "camp"} {
		for name, content := range renderAll(t, stack) {
			if !strings.HasSuffix(name, ".sh") {
				continue
			}
			if !strings.HasPrefix(content, "#!/usr/bin/env bash\n") || !strings.Contains(content, "\nset -euo pipefail\n") {
				t.Errorf("%s/%s does not start with a bash shebang and set -euo pipefail", stack, name)
			}
			if strings.Contains(content, "set -x") || strings.Contains(content, "set -o xtrace") {
				t.Errorf("%s/%s traces commands; secrets would reach the log", stack, name)
			}
			out, err := exec.Command(sc, "--shell=bash", "--severity=style", writeTemp(t, name, content)).CombinedOutput()
			if err != nil {
				t.Errorf("shellcheck %s/%s:\n%s", stack, name, out)
			}
		}
	}
}

func TestCommandQuotingRoundTrips(t *testing.T) {
	bash := tool(t, "bash")
	script := "#!/usr/bin/env bash\nset -euo pipefail\nprintf '%s|' \"it's\" '$HOME' \"a\\\"b\" '`x`'\n"
	cmd := strings.TrimPrefix(Command(script), "sudo ")
	out, err := exec.Command(bash, "-c", cmd).CombinedOutput()
	if err != nil || string(out) != "it's|$HOME|a\"b|`x`|" {
		t.Errorf("Command did not carry the script intact: %q %v", out, err)
	}
}

func TestCloudConfigsAreValid(t *testing.T) {
	ci := tool(t, "cloud-init")
	for name, content := range renderAll(t, "camp") {
		if !strings.HasPrefix(name, "cloud-init-") {
			continue
		}
		out, err := exec.Command(ci, "schema", "--config-file", writeTemp(t, name, content)).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Valid") {
			t.Errorf("cloud-init schema %s: %v\n%s", name, err, out)
		}
	}
}

func TestJupyterHubConfigCompiles(t *testing.T) {
	py := tool(t, "python3")
	for _, stack := range []string{"dev", "camp"} {
		for _, name := range []string{"jupyterhub_config.py", "camphub_hub.py", "camphub_roster.py", "camphub_spawner.py", "camphub_disk_report.py", "camphub_kernel_probe.py"} {
			path := writeTemp(t, name, renderAll(t, stack)[name])
			if out, err := exec.Command(py, "-m", "py_compile", path).CombinedOutput(); err != nil {
				t.Errorf("%s %s does not compile: %v\n%s", stack, name, err, out)
			}
			// pyflakes (jupyterhub_config.py's get_config is JupyterHub's).
			cmd := exec.Command(tool(t, "pyflakes3"), path)
			cmd.Env = append(os.Environ(), "PYFLAKES_BUILTINS=get_config")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("pyflakes %s %s: %v\n%s", stack, name, err, out)
			}
		}
	}
}

func TestNoSecretInAnyRenderedFile(t *testing.T) {
	// Secrets reach the rendering functions nowhere: feed the sentinel everywhere a caller
	// might mistakenly pass one and check the error Layout, then scan every rendered file.
	for _, stack := range []string{"dev", "camp"} {
		for name, content := range renderAll(t, stack) {
			if strings.Contains(content, SecretSentinel) || strings.Contains(content, "PRIVATE KEY") {
				t.Errorf("%s/%s holds secret material", stack, name)
			}
		}
	}
	h := examples()["dev"].hub
	h.CertPEM = "-----BEGIN PRIVATE KEY-----\n" + SecretSentinel + "\n-----END PRIVATE KEY-----\n"
	if _, err := RenderHub(h); err == nil {
		t.Error("a private key passed as the certificate was rendered into the hub's files")
	}
}
