package provision

import (
	"fmt"
)

// Shared names and paths (docs/architecture.md); every script and config file uses these.
const (
	HubDir = "/srv/jupyterhub"
	// StateDir is where the hub's state volume is mounted; HubDir and the swarm's state are
	// bind mounts of its directories.
	StateDir = "/srv/camphub-state"
	// ImageDir holds the hub image's Dockerfile (on the root disk: it is rebuilt anyway).
	ImageDir       = "/var/lib/camphub/hub-image"
	ProxyDir       = HubDir + "/proxy"
	MountRoot      = "/mnt/camphub"
	DataRoot       = "/srv/nfs"
	ExportHome     = DataRoot + "/home"
	ExportCourse   = DataRoot + "/course"
	NetworkName    = "jupyterhub-net"
	HubContainer   = "jupyterhub"
	ProxyContainer = "jupyterhub-proxy"
	HubUnit        = "camphub-hub.service"
	ProxyUnit      = "camphub-proxy.service"
	WorkerLabel    = "camphub.notebooks"
	StudentUID     = 1000
	StudentGID     = 100
	// RosterFile is the roster the camphub-roster service applies; RosterApplied holds the
	// SHA-256 of the last roster it applied completely.
	RosterFile    = HubDir + "/roster.json"
	RosterApplied = HubDir + "/roster.applied"
	// RosterError holds the roster's SHA-256 and the hub's message when the hub refused a change
	// the roster asks for (a 4xx answer): the hub-roster step fails quoting it.
	RosterError   = HubDir + "/roster.error"
	RosterService = HubDir + "/camphub_roster.py"
	SpawnerModule = HubDir + "/camphub_spawner.py"
	// KernelProbe is the smoke probe's kernel stage on the hub machine (run with its python3).
	KernelProbeDir = "/usr/local/lib/camphub"
	KernelProbe    = KernelProbeDir + "/camphub_kernel_probe.py"
	// DiskReport runs every 15 minutes on the hub machine (its python3), beside the kernel probe.
	DiskReport = KernelProbeDir + "/camphub_disk_report.py"
	// ProbePrefix starts the names of camphub's own check users; the roster service leaves
	// them alone and no e-mail address escapes to it.
	ProbePrefix = "camphub-probe-"
	// ServicePrefix is SwarmSpawner's default prefix (dockerspawner.py 377-386): service names
	// are ServicePrefix + "-" + the escaped user name, a DNS label of at most 63 characters.
	ServicePrefix = "jupyter"
	// NameMax is the longest escaped user name that keeps the service name a DNS label.
	NameMax = 63 - len(ServicePrefix) - 1
)

// Pinned hub software (docs/upstream.md, "Versions").
const (
	// HubBaseImage is jupyterhub 5.5.1, 5.5's security release.
	HubBaseImage = "quay.io/jupyterhub/jupyterhub:5.5.1"
	// ProxyImage is configurable-http-proxy as the hub image bundles it, in its own container.
	ProxyImage = "quay.io/jupyterhub/configurable-http-proxy:5.3.0"
)

// NotebookCmd is the notebook container's command (docker-stacks' start script); it is the
// service's args, so the image's entrypoint stays.
var NotebookCmd = []string{"start-notebook.py"}

// HubPackages are pip-installed into the hub image, pinned.
var HubPackages = []string{"oauthenticator==17.4.0", "dockerspawner==14.0.0", "jupyterhub-idle-culler==2.0.0"}

// ProxyArgs are configurable-http-proxy's arguments in its container: TLS on the public port,
// its API on the overlay network for the hub, and the hub as default target.
func ProxyArgs(port int) []string {
	return []string{
		"--ip=0.0.0.0",
		fmt.Sprintf("--port=%d", port),
		"--api-ip=0.0.0.0",
		fmt.Sprintf("--api-port=%d", ProxyAPIPort),
		fmt.Sprintf("--default-target=http://%s:%d", HubContainer, HubAPIPort),
		fmt.Sprintf("--error-target=http://%s:%d/hub/error", HubContainer, HubAPIPort),
		"--ssl-key=" + ProxyDir + "/hub.key",
		"--ssl-cert=" + ProxyDir + "/hub.crt",
	}
}

// Paths is embedded in every template's data so the templates name the shared paths.
type Paths struct {
	HubDir, ProxyDir, MountRoot, DataRoot, ExportHome, ExportCourse                                     string
	NetworkName, HubContainer, ProxyContainer, Unit, ProxyUnit, WorkerLabel                             string
	SSHUser, RosterFile, RosterApplied, RosterError, RosterService, ProbePrefix, ProxyImage             string
	SpawnerModule, StateDir, ImageDir, KernelProbe, KernelProbeDir, ClassFull, DiskReport, SettingsFile string
	StudentUID, StudentGID, SwarmPort, HubAPIPort, ProxyAPIPort, NameMax                                int
}

var paths = Paths{
	HubDir: HubDir, ProxyDir: ProxyDir, MountRoot: MountRoot, DataRoot: DataRoot, ExportHome: ExportHome, ExportCourse: ExportCourse,
	NetworkName: NetworkName, HubContainer: HubContainer, ProxyContainer: ProxyContainer, Unit: HubUnit, ProxyUnit: ProxyUnit,
	WorkerLabel: WorkerLabel, SSHUser: SSHUser, RosterFile: RosterFile, RosterApplied: RosterApplied, RosterError: RosterError, RosterService: RosterService,
	ProbePrefix: ProbePrefix, ProxyImage: ProxyImage, SpawnerModule: SpawnerModule, StateDir: StateDir, ImageDir: ImageDir, KernelProbe: KernelProbe, KernelProbeDir: KernelProbeDir, ClassFull: ClassFull, DiskReport: DiskReport, SettingsFile: SettingsFile,
	StudentUID: StudentUID, StudentGID: StudentGID, SwarmPort: SwarmPort, HubAPIPort: HubAPIPort, ProxyAPIPort: ProxyAPIPort, NameMax: NameMax,
}

// Command wraps a rendered script as the command line an SSH step runs: the script travels in
// the clear (so a preview shows what will run), secrets only on standard input.
func Command(script string) string {
	return "sudo bash -c " + ShellQuote(script)
}
