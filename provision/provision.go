// Package provision renders everything that runs on a camphub machine: cloud-init user data,
// the setup scripts the SSH steps run, and the hub's configuration files. It is pure Go
// (no Pulumi types) so every artifact can be rendered, golden-tested and checked by real tools.
package provision

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// Templates by kind: steps/ (what an SSH step or first boot runs), files/ (what a step installs
// on a machine), fragments/ (shell functions the steps and files share).
//
//go:embed templates/*/*.tmpl
var templateFS embed.FS

// templates are parsed once; a missing key is an error, never an empty string.
var templates = template.Must(template.New("camphub").Option("missingkey=error").Funcs(template.FuncMap{
	"sh":     ShellQuote,
	"py":     PyString,
	"pyset":  PySet,
	"pylist": PyList,
}).ParseFS(templateFS, "templates/*/*.tmpl"))

// Roles of the machines.
const (
	RoleHub    = "hub"
	RoleWorker = "worker"
	RoleNfs    = "nfs"
)

// AMI kinds (camphub:amiKind): the machines that run containers (hub, workers) boot AWS's
// ECS-optimized Amazon Linux 2023, which ships Docker, or (the fallback) plain Amazon Linux 2023,
// where cloud-init installs Docker. The NFS server runs no containers: it always boots plain
// Amazon Linux 2023.
const (
	AMIECS    = "ecs"
	AMIAL2023 = "al2023"
)

// AMIShips are the packages each kind's AMI already holds, of those the machines need
// (docs/upstream.md A2: the ECS-optimized AMI's Docker engine and what it depends on); cloud-init
// installs the others.
var AMIShips = map[string][]string{
	AMIECS:    {"docker", "containerd", "runc", "iptables-nft"},
	AMIAL2023: {},
}

// ECSUnits are the ECS-optimized AMI's own services, which camphub does not use: masked at
// first boot, before the ECS agent would start (its unit runs after cloud-final).
var ECSUnits = []string{"ecs.service", "amazon-ecs-volume-plugin.socket", "amazon-ecs-volume-plugin.service"}

// RoleKind is the AMI kind a role boots: the stack's kind for the machines that run containers,
// plain Amazon Linux 2023 for the NFS server.
func RoleKind(role, kind string) string {
	if role == RoleNfs {
		return AMIAL2023
	}
	return kind
}

func render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// CloudInit renders a role's first-boot cloud-config for an AMI of kind (RoleKind): the packages
// the AMI lacks and services only, no secrets. A worker also starts pulling the notebook image (a
// public image: no credentials) the moment Docker runs: on an AMI that ships Docker, from
// bootcmd, before any package is installed; so the pull overlaps everything else `pulumi up`
// does. Docker decompresses layers with unpigz when it is installed (docs/upstream.md P1).
func CloudInit(role, notebookImage, kind string) (string, error) {
	data := struct {
		Role, SSHUser, PrePull string
		Packages, Services     []string
		Mask                   []string
		DockerGroup, EarlyPull bool
	}{Role: role, SSHUser: Layout.SSHUser}
	ships, ok := AMIShips[RoleKind(role, kind)]
	if !ok {
		return "", fmt.Errorf("unknown AMI kind %q", kind)
	}
	var need []string
	switch role {
	case RoleWorker:
		if notebookImage == "" {
			return "", errors.New("worker cloud-config needs the notebook image")
		}
		data.PrePull = notebookImage
		fallthrough
	case RoleHub:
		need = []string{"docker", "nfs-utils", "iptables-nft", "pigz"}
		data.Services = []string{"docker"}
		data.DockerGroup = true
		data.EarlyPull = data.PrePull != "" && slices.Contains(ships, "docker")
		if RoleKind(role, kind) == AMIECS {
			data.Mask = ECSUnits
		}
	case RoleNfs:
		need = []string{"nfs-utils", "quota"}
		data.Services = []string{"nfs-server"}
	default:
		return "", fmt.Errorf("unknown role %q", role)
	}
	for _, p := range need {
		if !slices.Contains(ships, p) {
			data.Packages = append(data.Packages, p)
		}
	}
	return render("cloud-init.yaml.tmpl", data)
}

// Fragments renders shared shell fragments (templates/fragments: each a {{define}}) with the
// shared Layout, one after another: the functions a script is made of, for a test that runs one
// of them on its own.
func Fragments(names ...string) (string, error) {
	var b strings.Builder
	for _, n := range names {
		s, err := render(n, Layout)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		b.WriteString("\n")
	}
	return b.String(), nil
}
