package provision

import (
	"fmt"
)

// Pinned hub software (docs/upstream.md, "Versions").
const (
	// HubBaseImage is jupyterhub 5.5.1, 5.5's security release.
	HubBaseImage = "quay.io/jupyterhub/jupyterhub:5.5.1"
	// ProxyImage is configurable-http-proxy as the hub image bundles it, in its own container.
	ProxyImage = "quay.io/jupyterhub/configurable-http-proxy:5.3.0"
)

// MaxImageGiB is the largest notebook image (extracted) a worker's root disk keeps room for
// (components.WorkerRootGiB is sized from it; worker-image refuses a larger one).
const MaxImageGiB = 16

// NotebookCmd is the notebook container's command (docker-stacks' start script); it is the
// service's args, so the image's entrypoint stays.
var NotebookCmd = []string{"start-notebook.py"}

// HubPackages are pip-installed into the hub image, pinned.
var HubPackages = []string{"oauthenticator==17.4.0", "dockerspawner==14.0.0", "jupyterhub-idle-culler==2.0.0"}

// ProxyArgs are configurable-http-proxy's arguments in its container: TLS on the public port,
// its API only on the hub and proxy's own network (ProxyAPIHost, an alias there: notebooks on the
// overlay network cannot reach it), and the hub as default target.
func ProxyArgs(port int) []string {
	return []string{
		"--ip=0.0.0.0",
		fmt.Sprintf("--port=%d", port),
		"--api-ip=" + Layout.ProxyAPIHost,
		fmt.Sprintf("--api-port=%d", ProxyAPIPort),
		fmt.Sprintf("--default-target=http://%s:%d", Layout.HubContainer, HubAPIPort),
		fmt.Sprintf("--error-target=http://%s:%d/hub/error", Layout.HubContainer, HubAPIPort),
		"--ssl-key=" + Layout.ProxyDir + "/hub.key",
		"--ssl-cert=" + Layout.ProxyDir + "/hub.crt",
	}
}

// Paths is where camphub puts things on its machines and the names it gives them: the type of
// Layout, the one value that holds them. Go code reads Layout's fields (provision.Layout.HubDir);
// every template's data embeds it, so templates name them too ({{.HubDir}}).
type Paths struct {
	HubDir string
	// StateDir is where the hub's state volume is mounted; HubDir and the swarm's state are
	// bind mounts of its directories.
	StateDir string
	// ImageDir holds the hub image's Dockerfile (on the root disk: it is rebuilt anyway).
	ImageDir, ProxyDir                            string
	MountRoot, DataRoot, ExportHome, ExportCourse string
	NetworkName, HubContainer, ProxyContainer     string
	// ProxyAPINetwork is the hub and proxy's own network on the hub machine (a bridge of theirs
	// alone); ProxyAPIHost is the proxy's name on it, where alone its API listens.
	ProxyAPINetwork, ProxyAPIHost                         string
	HubUnit, ProxyUnit, WorkerLabel, SSHUser, ProxyImage  string
	StudentUID, StudentGID                                int
	SwarmPort, HubAPIPort, ProxyAPIPort, SSHPort, NFSPort int
	// RosterFile is the roster the camphub-roster service applies; RosterApplied holds the
	// SHA-256 of the last roster it applied completely; RosterError holds the roster's SHA-256
	// and the hub's message when the hub refused a change the roster asks for (a 4xx answer):
	// the hub-roster step fails quoting it.
	RosterFile, RosterApplied, RosterError, RosterService string
	SpawnerModule, SettingsFile, ClassFull                string
	// KernelProbe is the smoke probe's kernel stage on the hub machine (run with its python3);
	// DiskReport runs every 15 minutes there, beside it.
	KernelProbeDir, KernelProbe, DiskReport string
	// ProbePrefix starts the names of camphub's own check users; the roster service leaves
	// them alone and no e-mail address escapes to it.
	ProbePrefix string
	// ServicePrefix is SwarmSpawner's default prefix (docs/upstream.md, "Service names"): service
	// names are ServicePrefix + "-" + the escaped user name, a DNS label of at most 63
	// characters; NameMax is the longest escaped user name that keeps it one.
	ServicePrefix string
	NameMax       int
	// NamesDir is the hub's manifest of home folder names, in the homes folder: NamesDir/<folder>
	// holds the address the folder is named for (camphub_hub.record_name).
	NamesDir string
	// SlotsDir and ProbeSlotsDir, in the homes folder, hold the file server's quota slots: empty
	// folders, each its own ext4 project with its limit set, that the hub renames into place as
	// new homes (camphub_hub.take_slot); the smoke step's probes take theirs from ProbeSlotsDir,
	// limited to ProbeQuotaMiB. QuotaScript (on the file server) makes slots and gives homes
	// without a project one; QuotaState remembers the home quota it last applied.
	SlotsDir, ProbeSlotsDir, QuotaScript, QuotaUnit, QuotaState string
	ProbeQuotaMiB                                               int
}

// Layout is camphub's one layout (docs/architecture.md).
var Layout = func() Paths {
	l := Paths{
		HubDir: "/srv/jupyterhub", StateDir: "/srv/camphub-state", ImageDir: "/var/lib/camphub/hub-image",
		MountRoot: "/mnt/camphub", DataRoot: "/srv/nfs",
		NetworkName: "jupyterhub-net", HubContainer: "jupyterhub", ProxyContainer: "jupyterhub-proxy",
		ProxyAPINetwork: "camphub-proxy-api", ProxyAPIHost: "proxy-api",
		HubUnit: "camphub-hub.service", ProxyUnit: "camphub-proxy.service", WorkerLabel: "camphub.notebooks",
		SSHUser: "ec2-user", ProxyImage: ProxyImage, StudentUID: 1000, StudentGID: 100,
		SwarmPort: SwarmPort, HubAPIPort: HubAPIPort, ProxyAPIPort: ProxyAPIPort, SSHPort: SSHPort, NFSPort: NFSPort,
		SettingsFile: "camphub.json", ClassFull: classFull, KernelProbeDir: "/usr/local/lib/camphub",
		ProbePrefix: "camphub-probe-", ServicePrefix: "jupyter", NamesDir: ".camphub-names",
		SlotsDir: ".camphub-slots", ProbeSlotsDir: ".camphub-probe-slots", QuotaScript: "/usr/local/sbin/camphub-quota",
		QuotaUnit: "camphub-quota", ProbeQuotaMiB: 64,
	}
	l.ProxyDir = l.HubDir + "/proxy"
	l.ExportHome, l.ExportCourse = l.DataRoot+"/home", l.DataRoot+"/course"
	l.QuotaState = l.DataRoot + "/.camphub-home-quota"
	l.RosterFile, l.RosterApplied, l.RosterError = l.HubDir+"/roster.json", l.HubDir+"/roster.applied", l.HubDir+"/roster.error"
	l.RosterService, l.SpawnerModule = l.HubDir+"/camphub_roster.py", l.HubDir+"/camphub_spawner.py"
	l.KernelProbe, l.DiskReport = l.KernelProbeDir+"/camphub_kernel_probe.py", l.KernelProbeDir+"/camphub_disk_report.py"
	l.NameMax = 63 - len(l.ServicePrefix) - 1
	return l
}()

// Command wraps a rendered script as the command line an SSH step runs: the script travels in
// the clear (so a preview shows what will run), secrets only on standard input.
func Command(script string) string {
	return "sudo bash -c " + ShellQuote(script)
}
