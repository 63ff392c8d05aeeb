package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

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

	AdminCidrs []netip.Prefix
	VpcCidr    netip.Prefix
	AmiID      string // empty: the latest Amazon Linux 2023 from the public SSM parameter
	HubPort    int
	Region     string // aws:region

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
	// StudentMemGuaranteeBytes is StudentMemGuarantee in bytes.
	StudentMemGuaranteeBytes int64
	StudentCPULimit          float64
	StudentCPUGuarantee      float64
	IdleTimeoutMinutes       int
}

var (
	// instanceTypeRe accepts the shape of EC2 type names (t3.medium, m7i-flex.large, c6in.24xlarge);
	// whether the type exists here and is x86_64 is EC2's answer (components.RunPreflight).
	instanceTypeRe = regexp.MustCompile(`^[a-z]+[0-9]+[a-z-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge|metal-[0-9]+xl)$`)
	amiRe          = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)
	volumeIDRe     = regexp.MustCompile(`^vol-[0-9a-f]{17}$`)
	snapshotIDRe   = regexp.MustCompile(`^snap-[0-9a-f]{17}$`)
	clientIDRe     = regexp.MustCompile(`^[0-9]+-[0-9a-z]+\.apps\.googleusercontent\.com$`)
	domainRe       = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	byteSizeRe     = regexp.MustCompile(`^([0-9]+)([KMGT])$`)
	imageRe        = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)
	reservedPort   = provision.ReservedPorts
)

// Longest e-mail address parts (RFC 5321 4.5.3.1): every address the config accepts must give
// a working notebook service name and home folder (provision's name tests use these bounds).
const (
	MaxLocalPart = 64
	MaxEmail     = 254
)

// loader collects every problem so one run reports them all.
type loader struct {
	ctx  *pulumi.Context
	errs []error
	keys map[string]bool
}

func (l *loader) fail(key, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s:%s %s", ns, key, fmt.Sprintf(format, args...)))
	if l.keys == nil {
		l.keys = map[string]bool{}
	}
	l.keys[key] = true
}

// failed tells whether key already has a problem reported (so no follow-on error is added).
func (l *loader) failed(key string) bool { return l.keys[key] }

// raw reads a key. A key missing from the stack and from Pulumi.yaml's defaults is an error:
// the Pulumi CLI fills every documented default, so a missing key means it has no default.
func (l *loader) raw(key string) (string, bool) {
	settingNamed(key) // every key read is in the table
	v, err := config.Try(l.ctx, ns+":"+key)
	if err != nil {
		l.fail(key, "is not set; set it with `pulumi config set %s:%s VALUE` (see README, \"Configuration\")", ns, key)
		return "", false
	}
	return v, true
}

func (l *loader) str(key string) string {
	v, _ := l.raw(key)
	return strings.TrimSpace(v)
}

// adminCidrs reads the blocks that may SSH to the hub: public IPv4, at most a /16 each, no
// repeats, at least one.
func (l *loader) adminCidrs() []netip.Prefix {
	var out []netip.Prefix
	seenCidr := map[netip.Prefix]bool{}
	for _, raw := range l.list("adminCidrs") {
		p, ok := l.cidr("adminCidrs", strings.TrimSpace(raw))
		if !ok {
			continue
		}
		switch {
		case p.Bits() == 0:
			l.fail("adminCidrs", "%q opens SSH to the whole internet; list only the addresses you run `pulumi up` from (e.g. your.ip/32)", raw)
		case !p.Addr().Is4():
			l.fail("adminCidrs", "%q is IPv6, but the VPC has no IPv6 and the hub is reached over IPv4 only; list your public IPv4 address (e.g. from https://checkip.amazonaws.com) as a /32", raw)
		case p.Bits() < components.MinAdminPrefix:
			l.fail("adminCidrs", "%q admits %s addresses to SSH; list a block of /%d or narrower (your address as a /32 is best)", raw, humanCount(p), components.MinAdminPrefix)
		case !p.Addr().IsGlobalUnicast() || p.Addr().IsPrivate() || p.Addr().IsLoopback():
			l.fail("adminCidrs", "%q is a private or local address; SSH reaches the hub over the internet, so list the public address you run `pulumi up` from (e.g. from https://checkip.amazonaws.com)", raw)
		case seenCidr[p]:
			l.fail("adminCidrs", "lists %q twice; remove the duplicate", raw)
		default:
			seenCidr[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 && !l.failed("adminCidrs") {
		l.fail("adminCidrs", "must list at least one CIDR that may SSH to the hub: Pulumi provisions the machines over SSH from where `pulumi up` runs (e.g. [\"203.0.113.7/32\"])")
	}

	return out
}

// vpcCidr reads the VPC's private IPv4 block (/16../24); the zero prefix when it is not set.
func (l *loader) vpcCidr() netip.Prefix {
	if v := l.str("vpcCidr"); v != "" {
		if p, ok := l.cidr("vpcCidr", v); ok {
			switch {
			case !p.Addr().Is4():
				l.fail("vpcCidr", "%q must be an IPv4 block", v)
			case p.Bits() < 16 || p.Bits() > 24:
				l.fail("vpcCidr", "%q must be between /16 and /24 (AWS allows no larger VPC; smaller ones leave no room)", v)
			case !p.Addr().IsPrivate():
				l.fail("vpcCidr", "%q must be a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)", v)
			default:
				return p
			}
		}
	}

	return netip.Prefix{}
}

// people reads who logs in: the OAuth client, the roster (lists or file), the hosted domain,
// and where last year's homes come from.
func (l *loader) people(c *Config) {
	if c.OAuthClientID != "" && !clientIDRe.MatchString(c.OAuthClientID) {
		l.fail("oauthClientId", "%q is not a Google OAuth client id (NNNN-xxxx.apps.googleusercontent.com, from the Google console's Credentials page)", c.OAuthClientID)
	} else if c.OAuthClientID == "" {
		l.fail("oauthClientId", "is empty; create an OAuth client in the Google console and set its id with `pulumi config set %s:oauthClientId ID`", ns)
	}
	c.OAuthClientSecret = l.oauthSecret()

	if c.RosterFile != "" {
		if len(c.AdminEmails) > 0 || len(c.StudentEmails) > 0 {
			l.fail("roster", "and camphub:adminEmails/studentEmails both list the class; keep one source: move the addresses into %s and remove the lists (`pulumi config rm camphub:studentEmails`)", c.RosterFile)
		}
		c.AdminEmails, c.StudentEmails, c.DisplayNames = l.rosterFile(c.RosterFile)
	}
	switch {
	case c.NfsVolumeID != "" && c.NfsSnapshotID != "":
		l.fail("nfsVolumeId", "and camphub:nfsSnapshotId are both set; set one: the kept volume itself (nfsVolumeId) or a new volume from a snapshot (nfsSnapshotId)")
	case c.NfsVolumeID != "" && !volumeIDRe.MatchString(c.NfsVolumeID):
		l.fail("nfsVolumeId", "%q is not an EBS volume id (vol- and 17 hex digits, from `aws ec2 describe-volumes --filters Name=tag:Project,Values=camphub`)", c.NfsVolumeID)
	case c.NfsSnapshotID != "" && !snapshotIDRe.MatchString(c.NfsSnapshotID):
		l.fail("nfsSnapshotId", "%q is not an EBS snapshot id (snap- and 17 hex digits, from `aws ec2 describe-snapshots --owner-ids self`)", c.NfsSnapshotID)
	}
	if c.CourseDir != "" {
		c.CourseDigest = l.courseDir(c.CourseDir)
	}
	if len(c.AdminEmails) == 0 && !l.failed("adminEmails") && !l.failed("roster") {
		l.fail("adminEmails", "must list at least one teacher's Google e-mail address: admins manage the hub from its admin page")
	}
	if c.HostedDomain != "" {
		if !domainRe.MatchString(c.HostedDomain) {
			l.fail("hostedDomain", "%q is not a domain name such as example.edu", c.HostedDomain)
		} else if consumerDomains[c.HostedDomain] {
			l.fail("hostedDomain", "%q is Google's consumer mail, whose accounts carry no hosted domain, so nobody could log in; leave hostedDomain empty and list the students' addresses in camphub:studentEmails", c.HostedDomain)
		} else {
			l.inDomain("adminEmails", c.AdminEmails, c.HostedDomain)
			l.inDomain("studentEmails", c.StudentEmails, c.HostedDomain)
		}
	}
	if len(c.StudentEmails) == 0 && c.HostedDomain == "" && !l.failed("studentEmails") && !l.failed("roster") {
		l.fail("studentEmails", "is empty and camphub:hostedDomain is not set, so no student could log in; list the students' e-mails or set hostedDomain to admit a whole Google Workspace domain")
	}

}

// notebooks reads the students' servers: the image and the memory and CPU limits and guarantees.
func (l *loader) notebooks(c *Config) {
	switch {
	case c.NotebookImage == "":
		l.fail("notebookImage", "must name a notebook image with a pinned tag, e.g. quay.io/jupyter/scipy-notebook:2025-12-31")
	case !imageRe.MatchString(c.NotebookImage):
		l.fail("notebookImage", "%q is not a valid image reference", c.NotebookImage)
	case !imageHasTag(c.NotebookImage):
		l.fail("notebookImage", "%q has no tag; pin a dated tag (e.g. :2025-12-31) so every worker runs the same image", c.NotebookImage)
	case strings.HasSuffix(c.NotebookImage, ":latest"):
		l.fail("notebookImage", "%q uses :latest; pin a dated tag so every worker runs the same image", c.NotebookImage)
	}

	var limit, guarantee int64
	c.StudentMemLimit, limit = l.byteSize("studentMemLimit")
	c.StudentMemGuarantee, guarantee = l.byteSize("studentMemGuarantee")
	c.StudentMemGuaranteeBytes = guarantee
	if limit > 0 && guarantee > limit {
		l.fail("studentMemGuarantee", "%s is more than camphub:studentMemLimit %s; the guarantee must not exceed the limit", c.StudentMemGuarantee, c.StudentMemLimit)
	}
	if c.StudentCPULimit > 0 && c.StudentCPUGuarantee > c.StudentCPULimit {
		l.fail("studentCpuGuarantee", "%g is more than camphub:studentCpuLimit %g; the guarantee must not exceed the limit", c.StudentCPUGuarantee, c.StudentCPULimit)
	}

}

// integer reads an integer key within its bounds (the key table's).
func (l *loader) integer(key string) int {
	lo, hi := settingNamed(key).Min, settingNamed(key).Max
	v, ok := l.raw(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		l.fail(key, "must be a whole number from %d to %d, got %q", lo, hi, v)
		return 0
	}
	if n < lo || n > hi {
		l.fail(key, "must be %d..%d, got %d", lo, hi, n)
	}
	return n
}

func (l *loader) boolean(key string) bool {
	v, ok := l.raw(key)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		l.fail(key, "must be true or false, got %q", v)
	}
	return b
}

// list decodes a YAML list from the stack file (the CLI hands it over as JSON), strictly:
// only strings are accepted.
func (l *loader) list(key string) []string {
	v, ok := l.raw(key)
	if !ok {
		return nil
	}
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var out []string
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		l.fail(key, "must be a YAML list of strings in Pulumi.<stack>.yaml (or `pulumi config set --path '%s:%s[0]' VALUE`), got %q", ns, key, v)
		return nil
	}
	return out
}

func (l *loader) instanceType(key string) string {
	v := l.str(key)
	switch {
	case v == "":
		l.fail(key, "must name an EC2 instance type such as t3.medium")
	case !instanceTypeRe.MatchString(v):
		l.fail(key, "%q is not an EC2 instance type (family.size, e.g. t3.medium, m7i-flex.large)", v)
	}
	return v
}

// email checks one Google e-mail address; at, when not empty, says where it was found (a
// roster file's line) and starts every message.
func (l *loader) email(key, at, v string) (string, bool) {
	if at != "" {
		at += ": "
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || addr.Name != "" {
		l.fail(key, "%s%q is not a plain e-mail address (write it as name@example.org)", at, v)
		return "", false
	}
	sep := strings.LastIndexByte(v, '@')
	if sep > MaxLocalPart || len(v) > MaxEmail {
		l.fail(key, "%s%q is longer than an e-mail address can be (at most %d characters before the @, %d in all)", at, v, MaxLocalPart, MaxEmail)
		return "", false
	}
	if !domainRe.MatchString(strings.ToLower(v[sep+1:])) {
		l.fail(key, "%s%q has no valid domain after the @", at, v)
		return "", false
	}
	if v != strings.ToLower(v) {
		l.fail(key, "%s%q must be lower case: Google reports addresses in lower case, and JupyterHub user names are case-sensitive", at, v)
		return "", false
	}
	if strings.HasPrefix(v, provision.ProbePrefix) {
		l.fail(key, "%s%q starts with %q, which camphub keeps for its smoke probes' users; this account cannot be on the roster", at, v, provision.ProbePrefix)
		return "", false
	}
	return v, true
}

func (l *loader) emails(key string) []string {
	var out []string
	seen := map[string]bool{}
	for _, raw := range l.list(key) {
		v, ok := l.email(key, "", strings.TrimSpace(raw))
		if !ok {
			continue
		}
		if seen[v] {
			l.fail(key, "lists %q twice; remove the duplicate", v)
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

func (l *loader) byteSize(key string) (string, int64) {
	v := l.str(key)
	m := byteSizeRe.FindStringSubmatch(v)
	if m == nil {
		l.fail(key, "must be a size such as 512M or 2G (a whole number and K, M, G or T), got %q", v)
		return v, 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
	b := n << shift
	if b < 256<<20 {
		l.fail(key, "must be at least 256M (a notebook server does not start in less), got %q", v)
	}
	return v, b
}

func (l *loader) cpus(key string) float64 {
	v := l.str(key)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f > 64 {
		l.fail(key, "must be a number of CPUs greater than 0 and at most 64, such as \"0.5\" or \"2\", got %q", v)
		return 0
	}
	return f
}

func (l *loader) cidr(key, v string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		l.fail(key, "%q is not a CIDR block (write it as 203.0.113.7/32 or 2001:db8::/48)", v)
		return p, false
	}
	if p.Masked() != p {
		l.fail(key, "%q has host bits set; did you mean %s?", v, p.Masked())
		return p, false
	}
	return p, true
}

// setting is one key of the camphub namespace, declared once. Load reads every key through
// its entry (its type and bounds; bounds that a component enforces are the component's own
// constants), the misspelt-key check and its hint know the keys by these names, and Pulumi.yaml
// documents exactly these keys with the same type and default, its description being the key's
// doc line (TestPulumiYamlMatchesTheKeyTable).
type setting struct {
	Name     string
	Type     string // as Pulumi.yaml declares it: string, integer, boolean, array
	Default  any    // Pulumi.yaml's default; nil when every stack must set it
	Min, Max int    // an integer's bounds
	Secret   bool
}

var settings = []setting{
	{Name: "hubInstanceType", Type: "string", Default: "t3.medium"},
	{Name: "workerInstanceType", Type: "string", Default: "t3.xlarge"},
	{Name: "nfsInstanceType", Type: "string", Default: "t3.small"},
	{Name: "workerCount", Type: "integer", Default: 2, Min: 1, Max: components.MaxWorkers},
	{Name: "nfsVolumeSizeGiB", Type: "integer", Default: 100, Min: components.MinVolumeGiB, Max: components.MaxVolumeGiB},
	{Name: "nfsRetainVolumeOnDestroy", Type: "boolean", Default: true},
	{Name: "nfsSnapshotRetainDays", Type: "integer", Default: 7, Min: 1, Max: components.MaxSnapshotRetainDays},
	{Name: "nfsVolumeId", Type: "string", Default: ""},
	{Name: "nfsSnapshotId", Type: "string", Default: ""},
	{Name: "adminCidrs", Type: "array"},
	{Name: "vpcCidr", Type: "string", Default: "10.42.0.0/16"},
	{Name: "amiId", Type: "string", Default: ""},
	{Name: "hubPort", Type: "integer", Default: 8443, Min: 1, Max: 65535},
	{Name: "oauthClientId", Type: "string"},
	{Name: "oauthClientSecret", Type: "string", Secret: true},
	{Name: "adminEmails", Type: "array", Default: []any{}},
	{Name: "roster", Type: "string", Default: ""},
	{Name: "studentEmails", Type: "array", Default: []any{}},
	{Name: "hostedDomain", Type: "string", Default: ""},
	{Name: "courseDir", Type: "string", Default: ""},
	{Name: "schedule", Type: "string", Default: ""},
	{Name: "notebookImage", Type: "string", Default: "quay.io/jupyter/scipy-notebook:2025-12-31"},
	{Name: "studentMemLimit", Type: "string", Default: "4G"},
	{Name: "studentMemGuarantee", Type: "string", Default: "2G"},
	{Name: "studentCpuLimit", Type: "string", Default: "2"},
	{Name: "studentCpuGuarantee", Type: "string", Default: "0.5"},
	{Name: "idleTimeoutMinutes", Type: "integer", Default: 60, Min: 10, Max: 24 * 60},
}

// settingNamed is the table's entry for key; reading a key the table lacks is a program error.
func settingNamed(key string) setting {
	for _, s := range settings {
		if s.Name == key {
			return s
		}
	}
	panic("camphub: the key table has no " + key)
}

// consumerDomains are Google's own mail domains: their accounts carry no hosted-domain claim.
var consumerDomains = map[string]bool{"gmail.com": true, "googlemail.com": true}

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
		HubPort:                  l.integer("hubPort"),
		IdleTimeoutMinutes:       l.integer("idleTimeoutMinutes"),
		AmiID:                    l.str("amiId"),
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

	if r, err := config.Try(ctx, "aws:region"); err != nil || strings.TrimSpace(r) == "" {
		l.errs = append(l.errs, errors.New("aws:region is not set; set it with `pulumi config set aws:region us-west-2` (the region of the camp)"))
	} else {
		c.Region = strings.TrimSpace(r)
	}
	if name, ok := reservedPort[c.HubPort]; ok {
		l.fail("hubPort", "%d is used by %s inside the cluster; pick another port such as 8443", c.HubPort, name)
	}
	if c.AmiID != "" && !amiRe.MatchString(c.AmiID) {
		l.fail("amiId", "%q is not an AMI id (ami- and 8 or 17 hex digits); leave it empty to use the latest Amazon Linux 2023", c.AmiID)
	}

	c.AdminCidrs = l.adminCidrs()
	c.VpcCidr = l.vpcCidr()
	l.people(c)
	l.notebooks(c)

	if err := errors.Join(l.errs...); err != nil {
		return nil, fmt.Errorf("stack %q configuration is invalid:\n%w", ctx.Stack(), err)
	}
	return c, nil
}

// Schedule is the class hours: the workers start before class and stop after it, on the days.
type Schedule struct {
	Days     string // cron days of the week: MON-FRI, or MON,WED,FRI
	Start    string // HH:MM, the class starts (workers start WorkerLeadMinutes earlier)
	End      string // HH:MM, the class ends (workers stop WorkerTailMinutes later)
	TimeZone string // IANA zone of the times, e.g. America/Denver
	// StartMinute and EndMinute are Start and End as minutes after midnight.
	StartMinute, EndMinute int
}

// Workers start this long before class (boot, Docker, NFS, rejoin) and stop this long after it.
const (
	WorkerLeadMinutes = 20
	WorkerTailMinutes = 15
)

var (
	dayRe   = regexp.MustCompile(`^(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?(,(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?)*$`)
	clockRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// schedule reads camphub:schedule, "DAYS START-END TIMEZONE" (e.g. "MON-FRI 08:30-16:30
// America/Denver"); empty means the workers run all the time.
func (l *loader) schedule() *Schedule {
	const key = "schedule"
	v := l.str(key)
	if v == "" {
		return nil
	}
	fields := strings.Fields(v)
	times := []string{"", ""}
	if len(fields) == 3 {
		if before, after, ok := strings.Cut(fields[1], "-"); ok {
			times = []string{before, after}
		}
	}
	if len(fields) != 3 || times[0] == "" {
		l.fail(key, "must be \"DAYS START-END TIMEZONE\" such as \"MON-FRI 08:30-16:30 America/Denver\", got %q", v)
		return nil
	}
	s := Schedule{Days: fields[0], Start: times[0], End: times[1], TimeZone: fields[2]}
	bad := false
	if !dayRe.MatchString(s.Days) {
		l.fail(key, "days %q must be days of the week such as MON-FRI or MON,WED,FRI", s.Days)
		bad = true
	}
	clock := func(name, t string) int {
		m := clockRe.FindStringSubmatch(t)
		if m == nil {
			l.fail(key, "%s %q must be a 24-hour time HH:MM such as 08:30", name, t)
			bad = true
			return 0
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		return h*60 + mi
	}
	s.StartMinute, s.EndMinute = clock("start", s.Start), clock("end", s.End)
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		l.fail(key, "timeZone %q is not an IANA time zone such as America/Denver or Europe/Berlin", s.TimeZone)
		bad = true
	}
	if bad {
		return nil
	}
	switch {
	case s.StartMinute < WorkerLeadMinutes:
		l.fail(key, "start %s is too early: the workers start %d minutes before class, on the same day; start at %02d:%02d or later", s.Start, WorkerLeadMinutes, WorkerLeadMinutes/60, WorkerLeadMinutes%60)
	case s.EndMinute+WorkerTailMinutes >= 24*60:
		l.fail(key, "end %s is too late: the workers stop %d minutes after class, on the same day", s.End, WorkerTailMinutes)
	case s.EndMinute-s.StartMinute < 60:
		l.fail(key, "end %s must be at least an hour after start %s", s.End, s.Start)
	default:
		return &s
	}
	return nil
}

// courseDir checks camphub:courseDir and returns its content's digest.
func (l *loader) courseDir(path string) string {
	const key = "courseDir"
	clean := filepath.Clean(path)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") || clean == "." {
		l.fail(key, "%q must be a folder inside the repository (relative to Pulumi.yaml), such as course", path)
		return ""
	}
	if st, err := os.Stat(clean); err != nil || !st.IsDir() {
		l.fail(key, "%q is not a folder in the repository; create it with the course material or clear the setting", path)
		return ""
	}
	d, err := provision.CourseDigest(clean)
	if err != nil {
		l.fail(key, "%v", err)
	}
	return d
}

// rosterFile reads the class from a CSV file in the repository: a header line
// "email,role,name", then one person a line: a Google e-mail address, "student" or "teacher",
// and an optional display name. Every problem names its line.
func (l *loader) rosterFile(path string) (admins, students []string, names map[string]string) {
	const key = "roster"
	clean := filepath.Clean(path)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		l.fail(key, "%q must be a path inside the repository (relative to Pulumi.yaml), such as roster/camp.csv", path)
		return nil, nil, nil
	}
	f, err := os.Open(clean)
	if err != nil {
		l.fail(key, "cannot read %s: %v; create it (see README, \"Deploy\") or fix the path", path, err)
		return nil, nil, nil
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	type record struct {
		fields []string
		line   int
	}
	var rows []record
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.fail(key, "%s is not a CSV file: %v", path, err)
			return nil, nil, nil
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, record{fields, line})
	}
	if len(rows) == 0 || !slices.Equal(lower(rows[0].fields[:min(len(rows[0].fields), 2)]), []string{"email", "role"}) {
		l.fail(key, "%s must start with the header line \"email,role,name\"", path)
		return nil, nil, nil
	}
	names = map[string]string{}
	seen := map[string]int{}
	for _, rec := range rows[1:] {
		row, n := rec.fields, rec.line
		at := fmt.Sprintf("%s line %d", path, n)
		if len(row) < 2 || len(row) > 3 {
			l.fail(key, "%s: want \"email,role\" or \"email,role,name\", got %d fields", at, len(row))
			continue
		}
		email, ok := l.email(key, at, strings.TrimSpace(row[0]))
		if !ok {
			continue
		}
		if first, dup := seen[email]; dup {
			l.fail(key, "%s: %q is already on line %d; remove one", at, email, first)
			continue
		}
		seen[email] = n
		switch strings.ToLower(strings.TrimSpace(row[1])) {
		case "teacher":
			admins = append(admins, email)
		case "student":
			students = append(students, email)
		default:
			l.fail(key, "%s: role %q must be student or teacher", at, row[1])
			continue
		}
		if len(row) == 3 && strings.TrimSpace(row[2]) != "" {
			names[email] = strings.TrimSpace(row[2])
		}
	}
	if len(admins) == 0 && !l.failed(key) {
		l.fail(key, "%s lists no teacher; give at least one line the role teacher (teachers are the hub's admins)", path)
	}
	return admins, students, names
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}

// unknownKeys refuses keys of the camphub namespace that the program does not read, naming the
// closest known key.
func (l *loader) unknownKeys(stackKeys []string) {
	for _, full := range stackKeys {
		key, ok := strings.CutPrefix(full, ns+":")
		if !ok || slices.ContainsFunc(settings, func(s setting) bool { return s.Name == key }) {
			continue
		}
		best, bestDist := "", 1<<30
		for _, s := range settings {
			if d := editDistance(strings.ToLower(key), strings.ToLower(s.Name)); d < bestDist {
				best, bestDist = s.Name, d
			}
		}
		l.errs = append(l.errs, fmt.Errorf("%s is not a camphub setting; did you mean %s:%s? (remove it with `pulumi config rm %s`; Pulumi.yaml lists every setting)", full, ns, best, full))
	}
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// StackKeys lists the configuration keys the Pulumi engine handed the program
// (the PULUMI_CONFIG environment variable holds them as a JSON object).
func StackKeys(envConfig string) ([]string, error) {
	if strings.TrimSpace(envConfig) == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(envConfig), &m); err != nil {
		return nil, fmt.Errorf("reading the stack's configuration keys: %w", err)
	}
	return slices.Sorted(maps.Keys(m)), nil
}

// inDomain refuses addresses that Google login restricted to domain would turn away.
func (l *loader) inDomain(key string, emails []string, domain string) {
	for _, e := range emails {
		if !strings.HasSuffix(e, "@"+domain) {
			l.fail(key, "%q is outside camphub:hostedDomain %s and could never log in; remove it or clear hostedDomain", e, domain)
		}
	}
}

// oauthSecret reads the OAuth client secret, which must have been set with --secret:
// a plaintext value in Pulumi.<stack>.yaml would end up in git.
func (l *loader) oauthSecret() pulumi.StringOutput {
	const key = "oauthClientSecret"
	fix := fmt.Sprintf("`pulumi config set --secret %s:%s` with the secret from the Google console", ns, key)
	v, err := config.TrySecret(l.ctx, ns+":"+key)
	if err != nil {
		l.fail(key, "is not set; set it with %s", fix)
		return v
	}
	if !l.ctx.IsConfigSecret(ns + ":" + key) {
		l.fail(key, "is stored in plain text; remove it (`pulumi config rm %s:%s`) and set it again with %s", ns, key, fix)
	}
	plain, _ := l.ctx.GetConfig(ns + ":" + key)
	switch plain = strings.TrimSpace(plain); {
	case plain == "":
		l.fail(key, "is empty; set it with %s", fix)
	case clientIDRe.MatchString(plain):
		l.fail(key, "holds an OAuth client id, not the client secret; copy the secret (not the id) from the Google console and set it with %s", fix)
	case len(plain) < 16 || strings.ContainsAny(plain, " \t\n"):
		l.fail(key, "does not look like a Google OAuth client secret (%d characters, or spaces in it); copy it again from the Google console and set it with %s", len(plain), fix)
	}
	return v
}

// humanCount is how many addresses a block holds, for messages.
func humanCount(p netip.Prefix) string {
	n := uint64(1) << (32 - p.Bits())
	return strconv.FormatUint(n, 10)
}

// imageHasTag reports whether an image reference names a tag or digest (a registry port is no tag).
func imageHasTag(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	last := ref[strings.LastIndexByte(ref, '/')+1:]
	return strings.Contains(last, ":")
}

// Roster is who may use the hub, as the hub's roster step takes it.
func (c *Config) Roster() provision.Roster {
	return provision.Roster{Admins: c.AdminEmails, Students: c.StudentEmails, HostedDomain: c.HostedDomain}
}

// Hub is the hub's configuration for stack (the roster decides AllowAll, in components.Hub).
func (c *Config) Hub(stack string) provision.Hub {
	return provision.Hub{
		Stack: stack, Port: c.HubPort, ClientID: c.OAuthClientID, HostedDomain: c.HostedDomain,
		NotebookImage: c.NotebookImage, MemLimit: c.StudentMemLimit, MemGuarantee: c.StudentMemGuarantee,
		CPULimit: c.StudentCPULimit, CPUGuarantee: c.StudentCPUGuarantee, IdleTimeoutMinutes: c.IdleTimeoutMinutes,
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

// WorkerHours are the workers' hours: the class hours with the lead and tail (nil: always on).
func (s *Schedule) WorkerHours(accountID string) *components.ClassHours {
	if s == nil {
		return nil
	}
	return &components.ClassHours{
		Days: s.Days, TimeZone: s.TimeZone, AccountID: accountID,
		StartMinute: s.StartMinute - WorkerLeadMinutes, StopMinute: s.EndMinute + WorkerTailMinutes,
	}
}
