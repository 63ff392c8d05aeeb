package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CourseStagingRoot is where `pulumi up` copies the repository's course folder on the hub, one
// folder per content digest (the SSH user's home: the copy runs as that user).
var CourseStagingRoot = "/home/" + Layout.SSHUser + "/.camphub-course"

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
	}{Layout, c, c.StagingPath(), CourseStagingRoot, c.Digest[:16], filepath.Base(filepath.Clean(c.Source))})
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
	}{Layout, h.URL(), fmt.Sprintf("%s:%d:127.0.0.1", h.PublicDNS, h.Port)})
}

// SmokeStepScript renders the last step of `pulumi up`: one probe, through camphub-smoke.
func SmokeStepScript(stack string) (string, error) {
	return render("smoke-step.sh.tmpl", struct {
		Paths
		Stack string
	}{Layout, stack})
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
	}{Layout, b})
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
	}{Layout, stack, Layout.WorkerLabel, workerIPs})
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
	// ClassHours and WorkersFrom are the class schedule as a student reads it, and the time the
	// workers start on class days; empty when the workers run all the time.
	ClassHours, WorkersFrom string
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
	}{Layout, HubBaseImage, HubPackages})
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
		Stack, Dockerfile, HubImage, BaseImage string
	}{Layout, stack, strings.TrimRight(img.Dockerfile, "\n"), img.Name, HubBaseImage})
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
	}{Layout, f.Image.Name}); err != nil {
		return f, err
	}
	if f.ProxyUnitFile, err = render("proxy.service.tmpl", struct {
		Paths
		Port      int
		ProxyArgs []string
	}{Layout, h.Port, ProxyArgs(h.Port)}); err != nil {
		return f, err
	}
	trim := func(s string) string { return strings.TrimRight(s, "\n") }
	f.ConfigScript, err = render("hub-config.sh.tmpl", struct {
		Paths
		Stack, CertPEM, ClientID, UnitFile, ProxyUnitFile, SmokeScriptFile, KernelProbeFile, DiskReportFile, HubImage, HealthURL, ResolveArg string
		HubDirFiles                                                                                                                          []hubDirFile
	}{
		Paths: Layout, Stack: h.Stack, CertPEM: trim(h.CertPEM), ClientID: h.ClientID,
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
	// HomeQuotaGiB is each home folder's quota, for the disk report. It travels with the roster
	// because its default follows the roster's size: a roster change then re-runs the roster
	// step (and the file server's setup), never the hub's configuration.
	HomeQuotaGiB int
}

// RosterDoc is the roster as the camphub-roster service reads it: hub user names.
type RosterDoc struct {
	Users  []string `json:"users"`
	Admins []string `json:"admins"`
	// Exclusive: users not on the roster are deleted. False when a whole domain is admitted
	// (no student list): then only admin rights are managed.
	Exclusive bool `json:"exclusive"`
	// HomeQuotaGiB: each home's quota (the disk report shows use against it); the roster
	// service ignores it.
	HomeQuotaGiB int `json:"home_quota_gib"`
}

// Doc turns the roster into the service's document.
func (r Roster) Doc() RosterDoc {
	users := Usernames(r.Students, r.HostedDomain)
	if users == nil {
		users = []string{}
	}
	return RosterDoc{
		Users:        users,
		Admins:       Usernames(r.Admins, r.HostedDomain),
		Exclusive:    !r.AdmitsDomain(),
		HomeQuotaGiB: r.HomeQuotaGiB,
	}
}

// AdmitsDomain says whether every account of the hosted domain may log in: with a hosted domain
// and no student list (the roster then manages only the teachers' admin rights).
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
	}{Layout, stack, RosterWaitSeconds})
}
