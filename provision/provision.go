// Package provision renders everything that runs on a camphub machine: cloud-init user data,
// the setup scripts the SSH steps run, and the hub's configuration files. It is pure Go
// (no Pulumi types) so every artifact can be rendered, golden-tested and checked by real tools.
package provision

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
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

func render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// CloudInit renders a role's first-boot cloud-config: packages and services only, no secrets.
// A worker also starts pulling the notebook image (a public image: no credentials) as soon as
// Docker runs, so the pull overlaps everything else `pulumi up` does.
func CloudInit(role, notebookImage string) (string, error) {
	data := struct {
		Role        string
		Packages    []string
		Services    []string
		DockerGroup bool
		SSHUser     string
		PrePull     string
	}{Role: role, SSHUser: Layout.SSHUser}
	switch role {
	case RoleWorker:
		if notebookImage == "" {
			return "", errors.New("worker cloud-config needs the notebook image")
		}
		data.PrePull = notebookImage
		fallthrough
	case RoleHub:
		data.Packages = []string{"docker", "nfs-utils"}
		data.Services = []string{"docker"}
		data.DockerGroup = true
	case RoleNfs:
		data.Packages = []string{"nfs-utils"}
		data.Services = []string{"nfs-server"}
	default:
		return "", fmt.Errorf("unknown role %q", role)
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
