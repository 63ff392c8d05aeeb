package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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
}

// NfsSetupScript renders the NFS server's setup.
func NfsSetupScript(n Nfs) (string, error) {
	if n.VolumeID == "" || n.HubIP == "" || len(n.WorkerIPs) == 0 || n.SizeGiB <= 0 {
		return "", errors.New("nfs setup needs the volume id and size, the hub's address and the workers'")
	}
	for _, a := range append([]string{n.HubIP}, n.WorkerIPs...) {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
			return "", fmt.Errorf("nfs setup: %q is not an IPv4 address", a)
		}
	}
	return render("nfs-setup.sh.tmpl", struct {
		Paths
		Nfs
	}{paths, n})
}

// PrepareDiskScript renders the data-disk preparation on its own (prepare-disk.sh DEVICE DIR).
func PrepareDiskScript() (string, error) {
	return render("prepare-disk-standalone.sh.tmpl", paths)
}

// NfsWaitScript renders camphub-wait-nfs, which Docker on a worker runs before it starts.
func NfsWaitScript() (string, error) {
	return render("nfs-wait-script", paths)
}

// CourseStagingRoot is where `pulumi up` copies the repository's course folder on the hub, one
// folder per content digest (the SSH user's home: the copy runs as that user).
const CourseStagingRoot = "/home/" + SSHUser + "/.camphub-course"

// Course is what the course step needs.
type Course struct {
	Stack  string
	Source string // the folder in the repository
	Digest string // CourseDigest of it
}

// StagingPath is where the copy of this content lands.
func (c Course) StagingPath() string { return CourseStagingRoot + "/" + c.Digest[:16] }

// HubCourseScript renders the step that syncs the copied course folder into the NFS course folder.
func HubCourseScript(c Course) (string, error) {
	if c.Source == "" || len(c.Digest) < 16 {
		return "", errors.New("the course step needs the source folder and its digest")
	}
	return render("hub-course.sh.tmpl", struct {
		Paths
		Course
		Staging, StagingRoot, StagingName, Base string
	}{paths, c, c.StagingPath(), CourseStagingRoot, c.Digest[:16], filepath.Base(filepath.Clean(c.Source))})
}

// CourseSyncScript renders the course sync on its own (course-sync.sh SOURCE TARGET).
func CourseSyncScript() (string, error) {
	return render("course-sync-standalone.sh.tmpl", paths)
}

// CourseDigest is the SHA-256 of a folder's content: every file's path, mode and bytes, and
// every directory and symlink, in path order. The course step runs again only when it changes.
func CourseDigest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", filepath.ToSlash(rel), info.Mode())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %s\x00", target)
		case d.Type().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reading course folder %s: %w", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DiskWarnPercent is how full the students' disk may get before the operator and the teachers
// are warned.
const DiskWarnPercent = 85

// DiskReportScript is camphub_disk_report.py, which the hub runs every 15 minutes.
func DiskReportScript() string { return hubFile("camphub_disk_report.py") }

// SmokeScript renders camphub-smoke, the probe of the spawn path that ends `pulumi up` (one
// probe) and that the dress rehearsal runs (a class of probes).
func SmokeScript(h Hub) (string, error) {
	if h.PublicDNS == "" || h.Port == 0 {
		return "", errors.New("the smoke probe needs the hub's public name and port")
	}
	return render("smoke-script", struct {
		Paths
		HubURL, Resolve string
	}{paths, h.URL(), fmt.Sprintf("%s:%d:127.0.0.1", h.PublicDNS, h.Port)})
}

// SmokeStepScript renders the last step of `pulumi up`: one probe, through camphub-smoke.
func SmokeStepScript(stack string) (string, error) {
	return render("smoke-step.sh.tmpl", struct {
		Paths
		Stack string
	}{paths, stack})
}

// HandBackScript renders camphub-hand-back, which the NFS server carries: one archive per
// student's home folder, as a tar stream on standard output.
func HandBackScript() (string, error) {
	return render("hand-back-script", paths)
}

// SwarmScript renders the swarm steps on their own (camphub-swarm init|network|join|label).
func SwarmScript() (string, error) {
	return render("swarm-standalone.sh.tmpl", paths)
}

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

// Bootstrap is what the hub's bootstrap needs.
type Bootstrap struct {
	Stack    string
	HubIP    string
	NfsIP    string
	Firewall Firewall
	// StateVolumeID is the hub's state volume, attached as StateDeviceName.
	StateVolumeID, StateDeviceName string
}

// HubBootstrapScript renders the hub's bootstrap: NFS mounts, swarm, overlay network.
func HubBootstrapScript(b Bootstrap) (string, error) {
	if b.HubIP == "" || b.NfsIP == "" || b.Firewall.VpcCidr == "" || b.StateVolumeID == "" || b.StateDeviceName == "" {
		return "", errors.New("hub bootstrap needs the hub's and the NFS server's addresses, the firewall and the state volume")
	}
	return render("hub-bootstrap.sh.tmpl", struct {
		Paths
		Bootstrap
	}{paths, b})
}

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
	}{paths, w})
}

// WorkerImageScript renders a worker's image step: the notebook image pulled and present.
func WorkerImageScript(stack, image string) (string, error) {
	if image == "" {
		return "", errors.New("the worker image step needs the notebook image")
	}
	return render("worker-image.sh.tmpl", struct {
		Paths
		Stack, Image string
	}{paths, stack, image})
}

// LabelWorkersScript renders the hub-side step that labels the pool's ready workers.
func LabelWorkersScript(stack string, workerIPs []string) (string, error) {
	if len(workerIPs) == 0 {
		return "", errors.New("no worker addresses to label")
	}
	return render("label-workers.sh.tmpl", struct {
		Paths
		Stack     string
		Label     string
		WorkerIPs []string
	}{paths, stack, WorkerLabel, workerIPs})
}

// Hub is what the hub's configuration needs. The roster is not part of it (see Roster).
type Hub struct {
	Stack              string
	Port               int
	PublicDNS          string
	ClientID           string
	HostedDomain       string
	AllowAll           bool // no roster: every account of HostedDomain may log in
	NotebookImage      string
	MemLimit           string
	MemGuarantee       string
	CPULimit           float64
	CPUGuarantee       float64
	IdleTimeoutMinutes int
	CertPEM            string
}

func (h Hub) validate() error {
	var errs []error
	if h.Port < 1 || h.Port > 65535 || h.PublicDNS == "" || h.ClientID == "" || h.NotebookImage == "" {
		errs = append(errs, errors.New("hub config needs the port, public DNS name, client id and image"))
	}
	if h.AllowAll && h.HostedDomain == "" {
		errs = append(errs, errors.New("admitting every account needs a hosted domain"))
	}
	if strings.Contains(h.CertPEM, "PRIVATE KEY") {
		errs = append(errs, errors.New("the certificate holds a private key"))
	}
	return errors.Join(errs...)
}

// Usernames turns Google e-mail addresses into JupyterHub user names: with exactly one hosted
// domain, GoogleOAuthenticator names users by the part before the @.
func Usernames(emails []string, hostedDomain string) []string {
	out := make([]string, len(emails))
	for i, e := range emails {
		if hostedDomain != "" && strings.HasSuffix(e, "@"+hostedDomain) {
			e = strings.TrimSuffix(e, "@"+hostedDomain)
		}
		out[i] = e
	}
	return out
}

// URL is the hub's public address.
func (h Hub) URL() string { return fmt.Sprintf("https://%s:%d", h.PublicDNS, h.Port) }

// JupyterHubConfig is jupyterhub_config.py (static; the stack's values are in SettingsJSON).
func JupyterHubConfig(h Hub) (string, error) {
	if err := h.validate(); err != nil {
		return "", err
	}
	return hubFile("jupyterhub_config.py"), nil
}

// RosterServiceScript is the camphub-roster service the hub runs.
func RosterServiceScript() string { return hubFile("camphub_roster.py") }

// HubImage is the hub image's Dockerfile and name.
type HubImage struct {
	Dockerfile, Name string
}

// HubDockerfile renders the hub image's Dockerfile and names the image by its content, so a
// changed Dockerfile builds a new image and an unchanged one is never rebuilt.
func HubDockerfile() (HubImage, error) {
	dockerfile, err := render("hub.Dockerfile.tmpl", struct {
		Paths
		BaseImage string
		Packages  []string
	}{paths, HubBaseImage, HubPackages})
	if err != nil {
		return HubImage{}, err
	}
	sum := sha256.Sum256([]byte(dockerfile))
	return HubImage{Dockerfile: dockerfile, Name: "camphub-hub:" + hex.EncodeToString(sum[:6])}, nil
}

// HubImageScript renders the step that builds the hub image and pulls the proxy's.
func HubImageScript(stack string) (string, error) {
	img, err := HubDockerfile()
	if err != nil {
		return "", err
	}
	return render("hub-image.sh.tmpl", struct {
		Paths
		Stack, Dockerfile, HubImage string
	}{paths, stack, strings.TrimRight(img.Dockerfile, "\n"), img.Name})
}

// HubFiles are the hub's files, for golden tests and tools.
type HubFiles struct {
	JupyterHubConfig, Settings, HubHelper, UnitFile, ProxyUnitFile, RosterService, SpawnerModule string
	SmokeScript, KernelProbe, DiskReport, ConfigScript                                           string
	Image                                                                                        HubImage
}

// RenderHub renders everything the hub configuration step writes, and the step's script.
func RenderHub(h Hub) (HubFiles, error) {
	var f HubFiles
	var err error
	if f.JupyterHubConfig, err = JupyterHubConfig(h); err != nil {
		return f, err
	}
	if f.Settings, err = h.SettingsJSON(); err != nil {
		return f, err
	}
	if f.Image, err = HubDockerfile(); err != nil {
		return f, err
	}
	f.HubHelper, f.RosterService, f.SpawnerModule = hubFile("camphub_hub.py"), RosterServiceScript(), hubFile("camphub_spawner.py")
	f.KernelProbe, f.DiskReport = hubFile("camphub_kernel_probe.py"), DiskReportScript()
	if f.SmokeScript, err = SmokeScript(h); err != nil {
		return f, err
	}
	if f.UnitFile, err = render("jupyterhub.service.tmpl", struct {
		Paths
		Image string
	}{paths, f.Image.Name}); err != nil {
		return f, err
	}
	if f.ProxyUnitFile, err = render("proxy.service.tmpl", struct {
		Paths
		Port      int
		ProxyArgs []string
	}{paths, h.Port, ProxyArgs(h.Port)}); err != nil {
		return f, err
	}
	trim := func(s string) string { return strings.TrimRight(s, "\n") }
	f.ConfigScript, err = render("hub-config.sh.tmpl", struct {
		Paths
		Stack, CertPEM, ClientID, UnitFile, ProxyUnitFile, SmokeScriptFile, KernelProbeFile, DiskReportFile, HubImage, HealthURL, ResolveArg string
		HubDirFiles                                                                                                                          []hubDirFile
	}{
		Paths: paths, Stack: h.Stack, CertPEM: trim(h.CertPEM), ClientID: h.ClientID,
		UnitFile: trim(f.UnitFile), ProxyUnitFile: trim(f.ProxyUnitFile),
		SmokeScriptFile: f.SmokeScript, KernelProbeFile: f.KernelProbe, DiskReportFile: f.DiskReport,
		HubImage:    f.Image.Name,
		HealthURL:   h.URL() + "/hub/health",
		ResolveArg:  fmt.Sprintf("%s:%d:127.0.0.1", h.PublicDNS, h.Port),
		HubDirFiles: f.sortedHubDirFiles(),
	})
	return f, err
}

// Roster is who may use the hub: teachers (admins) and students, by e-mail address.
type Roster struct {
	Admins, Students []string
	HostedDomain     string
}

// RosterDoc is the roster as the camphub-roster service reads it: hub user names.
type RosterDoc struct {
	Users  []string `json:"users"`
	Admins []string `json:"admins"`
	// Exclusive: users not on the roster are deleted. False when a whole domain is admitted
	// (no student list): then only admin rights are managed.
	Exclusive bool `json:"exclusive"`
}

// Doc turns the roster into the service's document.
func (r Roster) Doc() RosterDoc {
	users := Usernames(r.Students, r.HostedDomain)
	if users == nil {
		users = []string{}
	}
	return RosterDoc{
		Users:     users,
		Admins:    Usernames(r.Admins, r.HostedDomain),
		Exclusive: !r.AdmitsDomain(),
	}
}

// AdmitsDomain: with a hosted domain and no student list, every account of the domain may log
// in (the roster then manages only the teachers' admin rights).
func (r Roster) AdmitsDomain() bool { return r.HostedDomain != "" && len(r.Students) == 0 }

// JSON is the roster file's content; it travels to the hub only on a step's standard input.
func (r Roster) JSON() (string, error) {
	if len(r.Admins) == 0 {
		return "", errors.New("the roster needs at least one admin")
	}
	b, err := json.Marshal(r.Doc())
	return string(b) + "\n", err
}

// RosterWaitSeconds is how long the hub-roster step waits for the hub to apply a roster.
const RosterWaitSeconds = 120

// HubRosterScript renders the step that hands the roster to the running hub.
func HubRosterScript(stack string) (string, error) {
	return render("hub-roster.sh.tmpl", struct {
		Paths
		Stack       string
		WaitSeconds int
	}{paths, stack, RosterWaitSeconds})
}
