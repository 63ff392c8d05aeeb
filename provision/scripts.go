package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Shared names and paths (DESIGN.md); every script and config file uses these.
const (
	HubDir       = "/srv/jupyterhub"
	MountRoot    = "/mnt/camphub"
	DataRoot     = "/srv/nfs"
	ExportHome   = DataRoot + "/home"
	ExportCourse = DataRoot + "/course"
	NetworkName  = "jupyterhub-net"
	HubContainer = "jupyterhub"
	HubUnit      = "camphub-hub.service"
	WorkerLabel  = "camphub.notebooks"
	StudentUID   = 1000
	StudentGID   = 100
	SwarmPort    = 2377
)

// Pinned hub software (JUPYTERHUB.md).
const (
	HubBaseImage = "quay.io/jupyterhub/jupyterhub:5.5.0"
)

// HubPackages are pip-installed into the hub image, pinned.
var HubPackages = []string{"oauthenticator==17.4.0", "dockerspawner==14.0.0", "jupyterhub-idle-culler==2.0.0"}

// Paths is embedded in every template's data so the templates name the shared paths.
type Paths struct {
	HubDir, MountRoot, DataRoot, ExportHome, ExportCourse string
	NetworkName, HubContainer, Unit, WorkerLabel, SSHUser string
	StudentUID, StudentGID, SwarmPort                     int
}

var paths = Paths{
	HubDir: HubDir, MountRoot: MountRoot, DataRoot: DataRoot, ExportHome: ExportHome, ExportCourse: ExportCourse,
	NetworkName: NetworkName, HubContainer: HubContainer, Unit: HubUnit, WorkerLabel: WorkerLabel, SSHUser: SSHUser,
	StudentUID: StudentUID, StudentGID: StudentGID, SwarmPort: SwarmPort,
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
	HubIP      string
	SubnetCidr string
}

// NfsSetupScript renders the NFS server's setup.
func NfsSetupScript(n Nfs) (string, error) {
	if n.VolumeID == "" || n.HubIP == "" || n.SubnetCidr == "" {
		return "", errors.New("nfs setup needs the volume id, the hub's address and the subnet")
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

// SwarmScript renders the swarm steps on their own (camphub-swarm init|network|join|label).
func SwarmScript() (string, error) {
	return render("swarm-standalone.sh.tmpl", paths)
}

// Bootstrap is what the hub's bootstrap needs.
type Bootstrap struct {
	Stack string
	HubIP string
	NfsIP string
}

// HubBootstrapScript renders the hub's bootstrap: NFS mounts, swarm, overlay network.
func HubBootstrapScript(b Bootstrap) (string, error) {
	if b.HubIP == "" || b.NfsIP == "" {
		return "", errors.New("hub bootstrap needs the hub's and the NFS server's addresses")
	}
	return render("hub-bootstrap.sh.tmpl", struct {
		Paths
		Bootstrap
	}{paths, b})
}

// Worker is what a worker's setup needs.
type Worker struct {
	Stack string
	HubIP string
	NfsIP string
	Image string
}

// WorkerSetupScript renders a worker's setup: NFS mounts, swarm join, image pull.
func WorkerSetupScript(w Worker) (string, error) {
	if w.HubIP == "" || w.NfsIP == "" || w.Image == "" {
		return "", errors.New("worker setup needs the hub's and NFS server's addresses and the image")
	}
	return render("worker-setup.sh.tmpl", struct {
		Paths
		Worker
	}{paths, w})
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

// Hub is what the hub's configuration needs.
type Hub struct {
	Stack              string
	Port               int
	PublicDNS          string
	ClientID           string
	AdminEmails        []string
	StudentEmails      []string
	HostedDomain       string
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
	if len(h.AdminEmails) == 0 {
		errs = append(errs, errors.New("hub config needs at least one admin"))
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

// JupyterHubConfig renders jupyterhub_config.py.
func JupyterHubConfig(h Hub) (string, error) {
	if err := h.validate(); err != nil {
		return "", err
	}
	return render("jupyterhub_config.py.tmpl", struct {
		Paths
		Stack, CallbackURL, HostedDomain, Image, MemLimit, MemGuarantee string
		Port, ConcurrentSpawns, IdleTimeoutSeconds                      int
		AllowAll                                                        bool
		AllowedUsers, AdminUsers                                        []string
		CPULimit, CPUGuarantee                                          string
	}{
		Paths: paths, Stack: h.Stack, CallbackURL: h.URL() + "/hub/oauth_callback", HostedDomain: h.HostedDomain,
		Image: h.NotebookImage, MemLimit: h.MemLimit, MemGuarantee: h.MemGuarantee,
		Port: h.Port, ConcurrentSpawns: 20, IdleTimeoutSeconds: h.IdleTimeoutMinutes * 60,
		AllowAll:     h.HostedDomain != "" && len(h.StudentEmails) == 0,
		AllowedUsers: Usernames(h.StudentEmails, h.HostedDomain), AdminUsers: Usernames(h.AdminEmails, h.HostedDomain),
		CPULimit: pyFloat(h.CPULimit), CPUGuarantee: pyFloat(h.CPUGuarantee),
	})
}

func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// HubDockerfile renders the hub image's Dockerfile and names the image by its content, so a
// changed Dockerfile builds a new image and an unchanged one is never rebuilt.
func HubDockerfile(port int) (dockerfile, image string, err error) {
	dockerfile, err = render("hub.Dockerfile.tmpl", struct {
		Paths
		BaseImage string
		Packages  []string
		Port      int
	}{paths, HubBaseImage, HubPackages, port})
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256([]byte(dockerfile))
	return dockerfile, "camphub-hub:" + hex.EncodeToString(sum[:6]), nil
}

// HubFiles are the hub's rendered files, for golden tests and tools.
type HubFiles struct {
	JupyterHubConfig, Dockerfile, HubImage, UnitFile, ConfigScript string
}

// RenderHub renders everything the hub configuration step writes, and the step's script.
func RenderHub(h Hub) (HubFiles, error) {
	var f HubFiles
	var err error
	if f.JupyterHubConfig, err = JupyterHubConfig(h); err != nil {
		return f, err
	}
	if f.Dockerfile, f.HubImage, err = HubDockerfile(h.Port); err != nil {
		return f, err
	}
	if f.UnitFile, err = render("jupyterhub.service.tmpl", struct {
		Paths
		Port  int
		Image string
	}{paths, h.Port, f.HubImage}); err != nil {
		return f, err
	}
	f.ConfigScript, err = render("hub-config.sh.tmpl", struct {
		Paths
		Stack, CertPEM, ClientID, JupyterHubConfig, Dockerfile, UnitFile, HubImage, HealthURL, ResolveArg string
	}{
		Paths: paths, Stack: h.Stack, CertPEM: strings.TrimRight(h.CertPEM, "\n"), ClientID: h.ClientID,
		JupyterHubConfig: strings.TrimRight(f.JupyterHubConfig, "\n"), Dockerfile: strings.TrimRight(f.Dockerfile, "\n"),
		UnitFile: strings.TrimRight(f.UnitFile, "\n"), HubImage: f.HubImage,
		HealthURL:  h.URL() + "/hub/health",
		ResolveArg: fmt.Sprintf("%s:%d:127.0.0.1", h.PublicDNS, h.Port),
	})
	return f, err
}
