// Package config reads and checks the stack's configuration (the camphub: and aws: keys): one
// key table (keys.go), every problem reported at once with its key and its fix, before any
// resource is made.
package config

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/provision"
)

// ns is the configuration namespace: the Pulumi project name.
const ns = "camphub"

// Config is the stack's whole configuration, loaded and validated once by Load.
// Nothing else in the program reads stack configuration.
type Config struct {
	HubInstanceType    string
	WorkerInstanceType string
	NfsInstanceType    string
	WorkerCount        int

	NfsVolumeSizeGiB         int
	NfsRetainVolumeOnDestroy bool
	NfsSnapshotRetainDays    int
	// NfsVolumeID reattaches a kept data volume (last year's homes); NfsSnapshotID makes the data
	// volume from a snapshot. At most one is set.
	NfsVolumeID, NfsSnapshotID string
	// HomeQuotaGiB is each home folder's quota: camphub:homeQuotaGiB, or (0 there) the volume's
	// share for homes divided among the roster. HomeQuotaOvercommit lets quota × homes exceed it.
	HomeQuotaGiB        int
	HomeQuotaOvercommit bool

	AdminCidrs []netip.Prefix
	VpcCidr    netip.Prefix
	AmiID      string // empty: the latest Amazon Linux 2023 from the public SSM parameter
	// AmiKind is camphub:amiKind: provision.AMIECS (AWS's ECS-optimized Amazon Linux 2023, Docker
	// included) or provision.AMIAL2023 (plain Amazon Linux 2023, Docker installed at first boot).
	AmiKind string
	HubPort int
	Region  string // aws:region

	OAuthClientID     string
	OAuthClientSecret pulumi.StringOutput // always a secret
	AdminEmails       []string
	StudentEmails     []string
	HostedDomain      string
	// RosterFile is camphub:roster, the class as a CSV file in the repository ("" when the lists
	// camphub:adminEmails and camphub:studentEmails are used instead); its teachers and
	// students are in AdminEmails and StudentEmails, their display names in DisplayNames.
	RosterFile   string
	DisplayNames map[string]string

	// CourseDir is camphub:courseDir, a folder in the repository synced to the students' course
	// folder ("" for none); CourseDigest is its content's digest.
	CourseDir, CourseDigest string
	// Schedule is camphub:schedule, the class hours the workers run (nil: always on).
	Schedule *Schedule

	NotebookImage       string
	StudentMemLimit     string
	StudentMemGuarantee string
	// StudentMemGuaranteeBytes and StudentMemLimitBytes are the two in bytes.
	StudentMemGuaranteeBytes, StudentMemLimitBytes int64
	StudentCPULimit                                float64
	StudentCPUGuarantee                            float64
	IdleTimeoutMinutes                             int
}

// Load reads and validates the stack configuration. It reports every problem at once,
// each naming its key and the fix, before any resource is registered. stackKeys are all the
// configuration keys the stack sets (any namespace), so a misspelt camphub key is refused
// instead of silently falling back to its default.
func Load(ctx *pulumi.Context, stackKeys []string) (*Config, error) {
	l := &loader{ctx: ctx}
	l.unknownKeys(stackKeys)
	c := &Config{
		HubInstanceType:          l.instanceType("hubInstanceType"),
		WorkerInstanceType:       l.instanceType("workerInstanceType"),
		NfsInstanceType:          l.instanceType("nfsInstanceType"),
		WorkerCount:              l.integer("workerCount"),
		NfsVolumeSizeGiB:         l.integer("nfsVolumeSizeGiB"),
		NfsRetainVolumeOnDestroy: l.boolean("nfsRetainVolumeOnDestroy"),
		NfsSnapshotRetainDays:    l.integer("nfsSnapshotRetainDays"),
		HomeQuotaGiB:             l.integer("homeQuotaGiB"),
		HomeQuotaOvercommit:      l.boolean("homeQuotaOvercommit"),
		HubPort:                  l.integer("hubPort"),
		IdleTimeoutMinutes:       l.integer("idleTimeoutMinutes"),
		AmiID:                    l.str("amiId"),
		AmiKind:                  l.str("amiKind"),
		OAuthClientID:            l.str("oauthClientId"),
		AdminEmails:              l.emails("adminEmails"),
		StudentEmails:            l.emails("studentEmails"),
		RosterFile:               l.str("roster"),
		NfsVolumeID:              l.str("nfsVolumeId"),
		NfsSnapshotID:            l.str("nfsSnapshotId"),
		Schedule:                 l.schedule(),
		CourseDir:                l.str("courseDir"),
		HostedDomain:             strings.ToLower(l.str("hostedDomain")),
		NotebookImage:            l.str("notebookImage"),
		StudentCPULimit:          l.cpus("studentCpuLimit"),
		StudentCPUGuarantee:      l.cpus("studentCpuGuarantee"),
	}

	if r, err := pconfig.Try(ctx, "aws:region"); err != nil || strings.TrimSpace(r) == "" {
		l.errs = append(l.errs, errors.New("aws:region is not set; set it with `pulumi config set aws:region us-west-2` (the region of the camp)"))
	} else if c.Region, err = region(r); err != nil {
		l.errs = append(l.errs, err)
	}
	if name, ok := reservedPort[c.HubPort]; ok {
		l.fail("hubPort", "%d is used by %s inside the cluster; pick another port such as 8443", c.HubPort, name)
	}
	if c.AmiKind != provision.AMIECS && c.AmiKind != provision.AMIAL2023 {
		l.fail("amiKind", "is %q; set %s (AWS's ECS-optimized Amazon Linux 2023, which ships Docker: the faster boot) or %s (plain Amazon Linux 2023, Docker installed at first boot)", c.AmiKind, provision.AMIECS, provision.AMIAL2023)
	}
	if c.AmiID != "" && !amiRe.MatchString(c.AmiID) {
		l.fail("amiId", "%q is not an AMI id (ami- and 8 or 17 hex digits); leave it empty to use the latest Amazon Linux 2023", c.AmiID)
	}

	c.AdminCidrs = l.adminCidrs()
	c.VpcCidr = l.vpcCidr()
	l.people(c)
	l.homeQuota(c)
	l.notebooks(c)

	if err := Refuse(ctx.Stack(), l.errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Roster is who may use the hub, as the hub's roster step takes it.
func (c *Config) Roster() provision.Roster {
	return provision.Roster{Admins: c.AdminEmails, Students: c.StudentEmails, HostedDomain: c.HostedDomain, HomeQuotaGiB: c.HomeQuotaGiB}
}

// Hub is the hub's configuration for stack (the roster decides AllowAll, in components.Hub).
func (c *Config) Hub(stack string) provision.Hub {
	return provision.Hub{
		Stack: stack, Port: c.HubPort, ClientID: c.OAuthClientID, HostedDomain: c.HostedDomain,
		NotebookImage: c.NotebookImage, MemLimit: c.StudentMemLimit, MemGuarantee: c.StudentMemGuarantee,
		CPULimit: c.StudentCPULimit, CPUGuarantee: c.StudentCPUGuarantee, IdleTimeoutMinutes: c.IdleTimeoutMinutes,
		ClassHours: c.Schedule.ClassHours(), WorkersFrom: c.Schedule.WorkersFrom(),
	}
}

// Machines are the stack's instance types and counts, for preflight, by the key that sets each.
func (c *Config) Machines() []components.Machine {
	return []components.Machine{
		{Key: "camphub:hubInstanceType", Type: c.HubInstanceType, Count: 1},
		{Key: "camphub:nfsInstanceType", Type: c.NfsInstanceType, Count: 1},
		{Key: "camphub:workerInstanceType", Type: c.WorkerInstanceType, Count: c.WorkerCount},
	}
}
