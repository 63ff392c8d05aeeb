package components

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicequotas"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Quotas the preflight checks (Service Quotas codes).
const (
	// QuotaStandardVCPUs is "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
	// counted in vCPUs.
	QuotaStandardVCPUs = "L-1216C47A"
	// QuotaElasticIPs is "EC2-VPC Elastic IPs".
	QuotaElasticIPs = "L-0263D0A3"
)

// dockerMemoryShare is the part of an instance's memory Docker reports as the node's total (the
// kernel and firmware keep the rest): the swarm places reservations against that. A t3.xlarge's
// 16 GiB shows as about 15.4 GiB.
const dockerMemoryShare = 0.96

// Machine is one role's instance type, named by the config key that sets it.
type Machine struct {
	Key   string // the config key, e.g. "camphub:workerInstanceType"
	Type  string
	Count int
}

// PreflightArgs is what the preflight checks.
type PreflightArgs struct {
	Region   string
	Machines []Machine // hub, NFS server, workers
	// WorkerKey names the workers' Machine; the seats are counted on it.
	WorkerKey string
	// Per student: the memory (bytes) and CPUs the swarm reserves, by config key.
	MemGuarantee    int64
	MemGuaranteeKey string
	CPUGuarantee    float64
	CPUGuaranteeKey string
	// Per student: the most memory (bytes) and CPUs a server may use, by config key.
	MemLimit    int64
	MemLimitKey string
	CPULimit    float64
	CPULimitKey string
	// Students who need a seat at once (0: unknown, e.g. a whole domain admitted).
	Students int
	// DataVolumeID, when set, is a kept volume to reattach: the machines go to its zone.
	DataVolumeID string
	// DataSnapshotID, when set, is the snapshot the data volume is made from; DataSizeGiB
	// (its config key DataSizeKey) must hold it.
	DataSnapshotID string
	DataSizeGiB    int
	DataSizeKey    string
}

// Preflight is what the account and the region answered.
type Preflight struct {
	AvailabilityZone string
	// DataVolumeGiB is the kept volume's size, when one is reattached.
	DataVolumeGiB  int
	VCPUs          int // the stack's on-demand vCPUs
	SeatsPerWorker int
	Seats          int
	// Arch is the stack's architecture (ArchX86 or ArchArm), every instance type's.
	Arch  string
	Types map[string]*ec2.GetInstanceTypeResult
}

// SeatsPerWorker is how many students' reservations fit one worker: memory and CPU both bound
// it (Docker Swarm places a task only where its reservations fit).
func SeatsPerWorker(memMiB, vcpus int, memGuarantee int64, cpuGuarantee float64) int {
	if memGuarantee <= 0 || cpuGuarantee <= 0 {
		return 0
	}
	byMem := int(float64(memMiB) * dockerMemoryShare * (1 << 20) / float64(memGuarantee))
	byCPU := int(float64(vcpus)/cpuGuarantee + 1e-9)
	return min(byMem, byCPU)
}

// RunPreflight asks AWS, before anything is made, whether the stack can be built here: every
// instance type exists, all of one architecture (x86_64 or arm64), one availability zone offers
// them all, the account's vCPU and Elastic IP quotas cover the stack, and the workers seat the
// class. Every problem names the config key and the fix.
func RunPreflight(ctx *pulumi.Context, a PreflightArgs) (*Preflight, error) {
	p := &Preflight{Types: map[string]*ec2.GetInstanceTypeResult{}}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	types := p.instanceTypes(ctx, a, fail)
	p.zone(ctx, a, types, fail)
	p.snapshot(ctx, a, fail)
	p.quotas(ctx, a, fail)
	p.seats(a, fail)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// archOf is the architecture camphub runs a type with: arm64 (Graviton) or x86_64; "" for neither.
func archOf(supported []string) string {
	for _, a := range []string{ArchArm, ArchX86} {
		if slices.Contains(supported, a) {
			return a
		}
	}
	return ""
}

// instanceTypes looks every type up (it must exist, run x86_64 or arm64, and all of them the
// same) and counts the vCPUs; it returns the types found.
func (p *Preflight) instanceTypes(ctx *pulumi.Context, a PreflightArgs, fail func(string, ...any)) []string {
	var types []string
	archs := map[string][]string{} // architecture: the keys whose types run it
	for _, m := range a.Machines {
		if _, done := p.Types[m.Type]; done {
			continue
		}
		it, err := ec2.GetInstanceType(ctx, &ec2.GetInstanceTypeArgs{InstanceType: m.Type})
		if err != nil {
			fail("%s %q is not an instance type EC2 offers in %s (%v); pick one from `aws ec2 describe-instance-types`, e.g. t3.medium", m.Key, m.Type, a.Region, firstLine(err))
			continue
		}
		arch := archOf(it.SupportedArchitectures)
		if arch == "" {
			fail("%s %q runs %s, but the machines run Amazon Linux 2023 for x86_64 or arm64; pick a type such as t4g.medium (arm64) or t3.medium (x86_64)", m.Key, m.Type, strings.Join(it.SupportedArchitectures, "/"))
			continue
		}
		p.Types[m.Type] = it
		types = append(types, m.Type)
	}
	for _, m := range a.Machines {
		if it := p.Types[m.Type]; it != nil {
			p.VCPUs += it.DefaultVcpus * m.Count
			arch := archOf(it.SupportedArchitectures)
			archs[arch] = append(archs[arch], m.Key+" "+m.Type)
		}
	}
	switch len(archs) {
	case 1:
		for arch := range archs {
			p.Arch = arch
		}
	case 2:
		fail("the instance types mix architectures (arm64: %s; x86_64: %s); a stack runs one architecture (one AMI family for every machine, every image pulled for it): choose arm64 types for all (t4g.medium, t4g.small, t4g.xlarge) or x86_64 types for all (t3.medium, t3.small, t3.xlarge)",
			strings.Join(archs[ArchArm], ", "), strings.Join(archs[ArchX86], ", "))
	}

	return types
}

// zone picks the first availability zone that offers every type, or the kept data volume's zone when it does.
func (p *Preflight) zone(ctx *pulumi.Context, a PreflightArgs, types []string, fail func(string, ...any)) {
	if len(types) > 0 {
		loc := "availability-zone"
		off, err := ec2.GetInstanceTypeOfferings(ctx, &ec2.GetInstanceTypeOfferingsArgs{
			LocationType: &loc,
			Filters:      []ec2.GetInstanceTypeOfferingsFilter{{Name: "instance-type", Values: types}},
		})
		if err != nil {
			fail("asking EC2 which availability zones of %s offer %s: %v", a.Region, strings.Join(types, ", "), firstLine(err))
		} else if az, missing := zoneOfferingAll(types, off.InstanceTypes, off.Locations); az == "" {
			fail("no availability zone of %s offers all of %s (%s); choose other instance types or another aws:region", a.Region, strings.Join(types, ", "), missing)
		} else {
			p.AvailabilityZone = az
			if a.DataVolumeID != "" {
				p.AvailabilityZone = ""
				vol, err := ebs.LookupVolume(ctx, &ebs.LookupVolumeArgs{Filters: []ebs.GetVolumeFilter{{Name: "volume-id", Values: []string{a.DataVolumeID}}}})
				switch {
				case err != nil:
					fail("camphub:nfsVolumeId %s is not a volume in %s (%v); find the kept one with `aws ec2 describe-volumes --filters Name=tag:Project,Values=camphub`", a.DataVolumeID, a.Region, firstLine(err))
				case !vol.Encrypted:
					fail("camphub:nfsVolumeId %s is not encrypted; make an encrypted copy (snapshot it and set camphub:nfsSnapshotId instead)", a.DataVolumeID)
				default:
					zt, zz := filterZone(off.InstanceTypes, off.Locations, vol.AvailabilityZone)
					if z, _ := zoneOfferingAll(types, zt, zz); z == "" {
						fail("camphub:nfsVolumeId %s is in %s, which does not offer all of %s; snapshot it and set camphub:nfsSnapshotId instead", a.DataVolumeID, vol.AvailabilityZone, strings.Join(types, ", "))
					} else {
						p.AvailabilityZone, p.DataVolumeGiB = vol.AvailabilityZone, vol.Size
					}
				}
			}
		}
	}
}

// snapshot checks the snapshot the data volume is made from: usable here, and no larger than the volume.
func (p *Preflight) snapshot(ctx *pulumi.Context, a PreflightArgs, fail func(string, ...any)) {
	if a.DataSnapshotID != "" {
		snap, err := ebs.LookupSnapshot(ctx, &ebs.LookupSnapshotArgs{SnapshotIds: []string{a.DataSnapshotID}})
		switch {
		case err != nil:
			fail("camphub:nfsSnapshotId %s is not a snapshot this account can use in %s (%v); list them with `aws ec2 describe-snapshots --owner-ids self`", a.DataSnapshotID, a.Region, firstLine(err))
		case snap.VolumeSize > a.DataSizeGiB:
			fail("%s is %d GiB but camphub:nfsSnapshotId %s holds a %d GiB volume; set %s to at least %d", a.DataSizeKey, a.DataSizeGiB, a.DataSnapshotID, snap.VolumeSize, a.DataSizeKey, snap.VolumeSize)
		}
	}

}

// quotas checks the account's vCPU and Elastic IP quotas against the stack.
func (p *Preflight) quotas(ctx *pulumi.Context, a PreflightArgs, fail func(string, ...any)) {
	if q, err := quota(ctx, QuotaStandardVCPUs); err != nil {
		fail("reading the account's vCPU quota (Service Quotas %s): %v; the deploying role needs servicequotas:GetServiceQuota", QuotaStandardVCPUs, firstLine(err))
	} else if p.VCPUs > int(q) {
		fail("the stack needs %d on-demand vCPUs but the account's quota \"Running On-Demand Standard instances\" (%s) in %s is %d; ask AWS to raise it (Service Quotas console → Amazon EC2 → %s → Request increase) or choose smaller instance types or fewer camphub:workerCount",
			p.VCPUs, QuotaStandardVCPUs, a.Region, int(q), QuotaStandardVCPUs)
	}
	if q, err := quota(ctx, QuotaElasticIPs); err != nil {
		fail("reading the account's Elastic IP quota (Service Quotas %s): %v", QuotaElasticIPs, firstLine(err))
	} else if q < 1 {
		fail("the account may hold no Elastic IP in %s (quota %s is %d); the hub needs one: request an increase in the Service Quotas console", a.Region, QuotaElasticIPs, int(q))
	}

}

// seats counts the seats the workers offer and refuses a class that does not fit.
func (p *Preflight) seats(a PreflightArgs, fail func(string, ...any)) {
	for _, m := range a.Machines {
		it := p.Types[m.Type]
		if m.Key != a.WorkerKey || it == nil {
			continue
		}
		p.limits(a, m.Type, it, fail)
		p.SeatsPerWorker = SeatsPerWorker(it.MemorySize, it.DefaultVcpus, a.MemGuarantee, a.CPUGuarantee)
		p.Seats = p.SeatsPerWorker * m.Count
		switch {
		case p.SeatsPerWorker == 0:
			fail("%s of %.4g GiB and %s of %g CPUs do not fit one %s (%d MiB, %d vCPUs, of which Docker offers about %.0f %% of the memory); lower the guarantees or choose a larger %s",
				a.MemGuaranteeKey, float64(a.MemGuarantee)/(1<<30), a.CPUGuaranteeKey, a.CPUGuarantee, m.Type, it.MemorySize, it.DefaultVcpus, dockerMemoryShare*100, a.WorkerKey)
		case a.Students > p.Seats:
			fail("%d workers (%s) seat %d students (%d each: memory and CPU guarantees), but the roster has %d; raise camphub:workerCount to %d or choose a larger %s",
				m.Count, m.Type, p.Seats, p.SeatsPerWorker, a.Students, (a.Students+p.SeatsPerWorker-1)/p.SeatsPerWorker, a.WorkerKey)
		}
	}
}

// limits refuses a student's limit that no worker of the type can give: Docker refuses every
// server whose CPU limit is above its machine's CPUs ("Range of CPUs is from 0.01 to N", the
// engine's check at container create), and a memory limit above what Docker offers would be
// promised to every student and held by none.
func (p *Preflight) limits(a PreflightArgs, typ string, it *ec2.GetInstanceTypeResult, fail func(string, ...any)) {
	if a.CPULimit > float64(it.DefaultVcpus) {
		fail("%s %g is more than the %d vCPUs of one %s, and Docker refuses a server whose CPU limit is above its machine's CPUs; set it to %d or less, or choose a larger %s",
			a.CPULimitKey, a.CPULimit, it.DefaultVcpus, typ, it.DefaultVcpus, a.WorkerKey)
	}
	if avail := int64(float64(it.MemorySize)*dockerMemoryShare) << 20; a.MemLimit > avail {
		fail("%s %.4g GiB is more than one %s can give a server (%d MiB, of which Docker offers about %.0f %%); set it to %dM or less, or choose a larger %s",
			a.MemLimitKey, float64(a.MemLimit)/(1<<30), typ, it.MemorySize, dockerMemoryShare*100, avail>>20, a.WorkerKey)
	}
}

func quota(ctx *pulumi.Context, code string) (float64, error) {
	q, err := servicequotas.LookupServiceQuota(ctx, &servicequotas.LookupServiceQuotaArgs{ServiceCode: "ec2", QuotaCode: &code})
	if err != nil {
		return 0, err
	}
	return q.Value, nil
}

// filterZone keeps the offerings of one zone (parallel slices, as EC2 answers).
func filterZone(types, zones []string, zone string) ([]string, []string) {
	var t, z []string
	for i := range zones {
		if zones[i] == zone {
			t, z = append(t, types[i]), append(z, zones[i])
		}
	}
	return t, z
}

// zoneOfferingAll returns the first zone (by name) that offers every type, or "" and what each
// zone lacks. offeredTypes and zones are parallel, as EC2 answers.
func zoneOfferingAll(types, offeredTypes, zones []string) (string, string) {
	byZone := map[string][]string{}
	for i, z := range zones {
		byZone[z] = append(byZone[z], offeredTypes[i])
	}
	names := make([]string, 0, len(byZone))
	for z := range byZone {
		names = append(names, z)
	}
	sort.Strings(names)
	var lacks []string
	for _, z := range names {
		var missing []string
		for _, t := range types {
			if !slices.Contains(byZone[z], t) {
				missing = append(missing, t)
			}
		}
		if len(missing) == 0 {
			return z, ""
		}
		lacks = append(lacks, z+" lacks "+strings.Join(missing, ", "))
	}
	if len(lacks) == 0 {
		return "", "no zone offers any of them"
	}
	return "", strings.Join(lacks, "; ")
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
