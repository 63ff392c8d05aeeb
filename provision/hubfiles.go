package provision

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
)

// The Python the hub runs, as it is: plain files (pyflakes- and pytest-checked in
// provision/hub/tests), never generated. What differs between stacks reaches them through
// camphub.json (HubSettings), written with json.Marshal.
//
//go:embed hub/*.py
var hubFS embed.FS

func hubFile(name string) string {
	b, err := hubFS.ReadFile("hub/" + name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return string(b)
}

// classFull starts the message of a start the swarm has no seat for: camphub_spawner.py's
// CLASS_FULL, read from the file itself (the spawner raises it, the hub logs it, the spawn page
// and the smoke probe's report show it).
var classFull = func() string {
	m := regexp.MustCompile(`(?m)^CLASS_FULL = "([^"]+)"$`).FindStringSubmatch(hubFile("camphub_spawner.py"))
	if m == nil {
		panic("camphub_spawner.py has no CLASS_FULL")
	}
	return m[1]
}()

// HubSettings are the values jupyterhub_config.py, the roster service and the disk report read.
type HubSettings struct {
	Stack         string   `json:"stack"`
	Port          int      `json:"port"`
	ProxyAPIURL   string   `json:"proxy_api_url"`
	HubBindURL    string   `json:"hub_bind_url"`
	HubConnectURL string   `json:"hub_connect_url"`
	HubDir        string   `json:"hub_dir"`
	CallbackURL   string   `json:"callback_url"`
	HostedDomain  string   `json:"hosted_domain"`
	AllowAll      bool     `json:"allow_all"`
	Image         string   `json:"image"`
	Cmd           []string `json:"cmd"`
	Network       string   `json:"network"`
	WorkerLabel   string   `json:"worker_label"`
	// ClassHours ("MON-FRI 08:30-16:30 (America/Denver)") and WorkersFrom ("08:10"), empty
	// without a schedule: what a student is told when no worker is running.
	ClassHours         string  `json:"class_hours"`
	WorkersFrom        string  `json:"workers_from"`
	MemLimit           string  `json:"mem_limit"`
	MemGuarantee       string  `json:"mem_guarantee"`
	CPULimit           float64 `json:"cpu_limit"`
	CPUGuarantee       float64 `json:"cpu_guarantee"`
	NameMax            int     `json:"name_max"`
	MountRoot          string  `json:"mount_root"`
	UID                int     `json:"uid"`
	GID                int     `json:"gid"`
	IdleTimeoutSeconds int     `json:"idle_timeout_seconds"`
	RosterFile         string  `json:"roster_file"`
	RosterApplied      string  `json:"roster_applied"`
	RosterError        string  `json:"roster_error"`
	ProbePrefix        string  `json:"probe_prefix"`
	WarnPercent        int     `json:"warn_percent"`
}

// Settings are the hub's generated values.
func (h Hub) Settings() HubSettings {
	return HubSettings{
		Stack: h.Stack, Port: h.Port,
		ProxyAPIURL:   fmt.Sprintf("http://%s:%d", Layout.ProxyAPIHost, ProxyAPIPort),
		HubBindURL:    fmt.Sprintf("http://0.0.0.0:%d", HubAPIPort),
		HubConnectURL: fmt.Sprintf("http://%s:%d", Layout.HubContainer, HubAPIPort),
		HubDir:        Layout.HubDir, CallbackURL: h.URL() + "/hub/oauth_callback", HostedDomain: h.HostedDomain, AllowAll: h.AllowAll,
		Image: h.NotebookImage, Cmd: NotebookCmd, Network: Layout.NetworkName, WorkerLabel: Layout.WorkerLabel,
		ClassHours: h.ClassHours, WorkersFrom: h.WorkersFrom,
		MemLimit: h.MemLimit, MemGuarantee: h.MemGuarantee, CPULimit: h.CPULimit, CPUGuarantee: h.CPUGuarantee,
		NameMax: Layout.NameMax, MountRoot: Layout.MountRoot, UID: Layout.StudentUID, GID: Layout.StudentGID,
		IdleTimeoutSeconds: h.IdleTimeoutMinutes * 60,
		RosterFile:         Layout.RosterFile, RosterApplied: Layout.RosterApplied, RosterError: Layout.RosterError, ProbePrefix: Layout.ProbePrefix,
		WarnPercent: DiskWarnPercent,
	}
}

// SettingsJSON is camphub.json's content.
func (h Hub) SettingsJSON() (string, error) {
	if err := h.validate(); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(h.Settings(), "", "  ")
	return string(b) + "\n", err
}

// HubDirFiles are the files hub-config writes into Layout.HubDir for the hub container (mode 0644),
// by name: the static configuration, its settings and the hub's Python.
func (f HubFiles) HubDirFiles() map[string]string {
	return map[string]string{
		"jupyterhub_config.py": f.JupyterHubConfig,
		Layout.SettingsFile:    f.Settings,
		"camphub_hub.py":       f.HubHelper,
		"camphub_spawner.py":   f.SpawnerModule,
		"camphub_roster.py":    f.RosterService,
	}
}

// hubDirFile is one file of HubDirFiles, in name order, for the hub-config template.
type hubDirFile struct{ Path, Content string }

func (f HubFiles) sortedHubDirFiles() []hubDirFile {
	var out []hubDirFile
	for name, content := range f.HubDirFiles() {
		out = append(out, hubDirFile{Path: Layout.HubDir + "/" + name, Content: content})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
