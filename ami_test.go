package main

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/internal/mocktest"
	"github.com/camphub/camphub/provision"
)

// role is a machine's role, from its resource name (hub, worker-03, nfs).
func role(name string) string { return strings.SplitN(name, "-", 2)[0] }

// TestEachRoleBootsItsAMI: the AMI parameter follows the instance types' architecture and the
// role: the camp stack (arm64, Graviton) boots its hub and workers from the arm64 ECS-optimized
// Amazon Linux 2023 and its NFS server from plain arm64 Amazon Linux 2023; the dev stack (x86_64)
// the x86_64 ones; camphub:amiKind al2023 (the fallback) boots plain Amazon Linux 2023
// everywhere. The mocked SSM knows only the parameters AWS publishes (docs/upstream.md A1): a
// misspelt name fails the run. What it hides: the AMIs those parameters name on the day; a real
// `pulumi preview` reads them (the deploy and preview roles may: deploy/ami_test.go).
func TestEachRoleBootsItsAMI(t *testing.T) {
	for name, tc := range map[string]struct {
		stack string
		set   map[string]string
		want  map[string]string // role: SSM parameter
	}{
		"camp, arm64": {"camp", nil, map[string]string{
			"hub":    "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
			"worker": "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
			"nfs":    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
		}},
		"dev, x86_64": {"dev", nil, map[string]string{
			"hub":    "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
			"worker": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
			"nfs":    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
		}},
		"camp on x86_64": {"camp", map[string]string{"camphub:hubInstanceType": "t3.medium", "camphub:workerInstanceType": "t3.xlarge", "camphub:nfsInstanceType": "t3.small"}, map[string]string{
			"hub":    "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
			"worker": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
			"nfs":    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
		}},
		"camp, the plain AMI": {"camp", map[string]string{"camphub:amiKind": "al2023"}, map[string]string{
			"hub":    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
			"worker": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
			"nfs":    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
		}},
	} {
		r := deployStack(t, tc.stack, tc.set)
		for _, inst := range r.mocks.OfType(tInstance) {
			if got, want := str(inst, "ami"), mocktest.AMIs[tc.want[role(inst.Name)]]; got != want {
				t.Errorf("%s: %s boots %s, want %s's %s", name, inst.Name, got, tc.want[role(inst.Name)], want)
			}
		}
	}
}

// cloudConfig is the part of a cloud-config camphub writes.
type cloudConfig struct {
	Bootcmd  [][]string `yaml:"bootcmd"`
	Packages []string   `yaml:"packages"`
	Runcmd   [][]string `yaml:"runcmd"`
}

// TestCloudInitInstallsOnlyWhatTheAMILacks: on the ECS-optimized AMI the hub and workers install
// no Docker (nor its engine's parts), only what the AMI lacks; the ECS agent is masked before it
// would start; a worker starts its notebook pull from bootcmd, before any package is installed.
// On the plain AMI (the fallback) cloud-init installs Docker and pulls after it.
func TestCloudInitInstallsOnlyWhatTheAMILacks(t *testing.T) {
	read := func(ud string) cloudConfig {
		var c cloudConfig
		if err := yaml.Unmarshal([]byte(ud), &c); err != nil {
			t.Fatalf("user data is not YAML: %v\n%s", err, ud)
		}
		return c
	}
	camp := deployStack(t, "camp", nil)
	for _, inst := range camp.mocks.OfType(tInstance) {
		c := read(str(inst, "userData"))
		kind := provision.RoleKind(role(inst.Name), provision.AMIECS)
		for _, p := range c.Packages {
			for _, has := range provision.AMIShips[kind] {
				if p == has {
					t.Errorf("%s installs %s, which its AMI (%s) ships", inst.Name, p, kind)
				}
			}
		}
		bootcmd := strings.Join(flat(c.Bootcmd), " ")
		switch role(inst.Name) {
		case "hub", "worker":
			if !strings.Contains(bootcmd, "systemctl mask --now ecs.service") {
				t.Errorf("%s does not switch the ECS agent off at first boot: bootcmd %q", inst.Name, bootcmd)
			}
		case "nfs":
			if strings.Join(c.Packages, " ") != "nfs-utils quota" {
				t.Errorf("nfs installs %v, want nfs-utils and quota", c.Packages)
			}
		}
		if role(inst.Name) == "worker" && !strings.Contains(bootcmd, "docker pull -q "+defaultImage) {
			t.Errorf("%s does not start the notebook pull from bootcmd: %q", inst.Name, bootcmd)
		}
	}
	plain := deployStack(t, "camp", map[string]string{"camphub:amiKind": "al2023"})
	w := read(str(plain.mocks.Named(tInstance, "worker-00"), "userData"))
	if !strings.Contains(strings.Join(w.Packages, " "), "docker") || len(w.Bootcmd) != 0 ||
		!strings.Contains(strings.Join(flat(w.Runcmd), " "), "docker pull -q "+defaultImage) {
		t.Errorf("on the plain AMI a worker must install Docker and pull after it: %+v", w)
	}
}

func flat(cmds [][]string) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, strings.Join(c, " "))
	}
	return out
}

// defaultImage is the notebook image the stacks pull by default.
var defaultImage = "quay.io/jupyter/scipy-notebook:2025-12-31"

// TestTheRootDiskHoldsTheAMIsSnapshot: a root volume is never smaller than the AMI's root
// snapshot (RunInstances would refuse it): camphub's 30 GiB on the ECS-optimized AMI's 30 GiB,
// 16 GiB for the NFS server on plain Amazon Linux 2023's 8; an AMI whose snapshot grew to 40 GiB
// gets 40. The stand-in DescribeImages hides the real snapshot sizes (the ECS AMI's is not
// verified here: docs/upstream.md A2); on AWS the program reads them before it makes anything.
func TestTheRootDiskHoldsTheAMIsSnapshot(t *testing.T) {
	sizes := func(r run) map[string]float64 {
		out := map[string]float64{}
		for _, inst := range r.mocks.OfType(tInstance) {
			out[role(inst.Name)] = inst.Inputs["rootBlockDevice"].ObjectValue()["volumeSize"].NumberValue()
		}
		return out
	}
	if got := sizes(deployStack(t, "camp", nil)); got["hub"] != 30 || got["worker"] != 30 || got["nfs"] != 16 {
		t.Errorf("root disks %v, want hub and workers 30 GiB, nfs 16", got)
	}
	ecsArm := mocktest.AMIs[components.AMIParameters[provision.AMIECS][components.ArchArm]]
	grown := runProgramOn(t, func(m *mocktest.Mocks) { m.AMIRootGiB = map[string]int{ecsArm: 40} }, "camp", stackConfig(t, "camp", nil))
	if grown.err != nil {
		t.Fatal(grown.err)
	}
	if got := sizes(grown); got["hub"] != 40 || got["worker"] != 40 || got["nfs"] != 16 {
		t.Errorf("with a 40 GiB snapshot: root disks %v, want hub and workers 40 GiB", got)
	}
}

// TestAPinnedAMIOfTheOtherArchitectureIsRefused: camphub:amiId must be an image of the instance
// types' architecture; an x86_64 AMI on the arm64 camp stack is refused before anything is made.
func TestAPinnedAMIOfTheOtherArchitectureIsRefused(t *testing.T) {
	r := runProgramOn(t, func(m *mocktest.Mocks) { m.AMIArch = map[string]string{"ami-0fedcba9876543210": "x86_64"} },
		"camp", stackConfig(t, "camp", map[string]string{"camphub:amiId": "ami-0fedcba9876543210"}))
	if r.err == nil || !strings.Contains(r.err.Error(), "camphub:amiId ami-0fedcba9876543210 is an x86_64 image, but the instance types are arm64") {
		t.Fatalf("an x86_64 AMI on arm64 machines: %v", r.err)
	}
	for _, res := range r.mocks.Resources() {
		if res.Custom {
			t.Errorf("%s %s was made before the refusal", res.Type, res.Name)
		}
	}
}
