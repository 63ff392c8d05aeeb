package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/provision"
)

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
	v, err := pconfig.Try(l.ctx, ns+":"+key)
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
				l.fail("vpcCidr", "%q must be an IPv4 block such as 10.42.0.0/16", v)
			case p.Bits() < 16 || p.Bits() > 24:
				l.fail("vpcCidr", "%q must be between /16 and /24 (AWS allows no larger VPC; smaller ones leave no room)", v)
			case !p.Addr().IsPrivate():
				l.fail("vpcCidr", "%q must be a private range; pick a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, such as 10.42.0.0/16", v)
			default:
				return p
			}
		}
	}

	return netip.Prefix{}
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
		l.fail(key, "must be a whole number from %d to %d, got %q; write it in digits: `pulumi config set %s:%s %d`", lo, hi, v, ns, key, clamp(settingNamed(key).Default, lo))
		return 0
	}
	if n < lo || n > hi {
		l.fail(key, "must be %d..%d, got %d; set it with `pulumi config set %s:%s %d`", lo, hi, n, ns, key, max(lo, min(n, hi)))
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
		l.fail(key, "must be true or false, got %q; set it with `pulumi config set %s:%s true` (or false)", v, ns, key)
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
		l.fail(key, "%q is not an EC2 instance type; write family.size, e.g. t3.medium or m7i-flex.large", v)
	}
	return v
}

func (l *loader) byteSize(key string) (string, int64) {
	v := l.str(key)
	m := byteSizeRe.FindStringSubmatch(v)
	if m == nil {
		l.fail(key, "must be a size such as 512M or 2G (a whole number and K, M, G or T), got %q; write it that way: `pulumi config set %s:%s 2G`", v, ns, key)
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
		l.fail(key, "must be a number of CPUs greater than 0 and at most 64, got %q; write it in digits: `pulumi config set %s:%s 0.5`", v, ns, key)
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

// humanCount is how many addresses a block holds, for messages.
func humanCount(p netip.Prefix) string {
	n := uint64(1) << (32 - p.Bits())
	return strconv.FormatUint(n, 10)
}

// clamp is an integer key's default for an example, or lo when it has none.
func clamp(def any, lo int) int {
	if d, ok := def.(int); ok {
		return d
	}
	return lo
}
