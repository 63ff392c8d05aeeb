package components

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/dlm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/provision"
)

// DataDeviceName is the device name the data volume is attached as. On Nitro instances it
// appears as an NVMe device; the setup script finds it by the volume id instead.
const DataDeviceName = "/dev/sdf"

// SnapshotPolicyARN is AWS's managed policy for Data Lifecycle Manager: all the snapshot role may do.
const SnapshotPolicyARN = "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"

// NfsServerArgs shape the NFS server.
type NfsServerArgs struct {
	MachineArgs
	AvailabilityZone pulumi.StringInput // the subnet's, so the volume never moves
	VolumeSizeGiB    int
	// KeptVolumeID reattaches an existing data volume (of KeptVolumeGiB) instead of making one;
	// the stack then never deletes it. SnapshotID makes the new volume from a snapshot.
	KeptVolumeID  string
	KeptVolumeGiB int
	SnapshotID    string
	// RetainVolumeOnDestroy leaves the data volume in AWS when the stack is destroyed.
	RetainVolumeOnDestroy bool
	SnapshotRetainDays    int
	// HomeQuotaGiB is each home folder's quota; QuotaSlots how many empty, quota-bound folders
	// the file server keeps ready for new homes.
	HomeQuotaGiB, QuotaSlots int

	SSH          SSH                     // through the hub
	HubPrivateIP pulumi.StringInput      // may mount homes without root squashing (it creates them)
	WorkerIPs    pulumi.StringArrayInput // mount with root squashed; no other address may mount
	AddressReady pulumi.Resource         // the reservation of MachineArgs.PrivateIP
}

// NfsServer is the machine that exports students' home folders from a separate EBS volume.
type NfsServer struct {
	pulumi.ResourceState

	Instance  *ec2.Instance
	PrivateIP pulumi.StringOutput
	VolumeID  pulumi.IDOutput
	// Setup completes once the data disk is mounted and the exports are live.
	Setup *remote.Command
}

// The data volume's bounds (camphub:nfsVolumeSizeGiB, camphub:nfsSnapshotRetainDays read them
// here): gp3's smallest useful size and largest size, and what a camp needs of daily snapshots.
const (
	MinVolumeGiB          = 10
	MaxVolumeGiB          = 16384
	MaxSnapshotRetainDays = 35
)

// Home quotas (camphub:homeQuotaGiB): every home folder is an ext4 project with this hard limit,
// so one student cannot fill the disk for everyone.
const (
	// HomesPercent of the data volume is for home folders: 1 % stays reserved for root
	// (prepare-disk: the hub can still make a home on a full disk) and 10 % for course material,
	// the students' hand-back archives' room and the file system's own blocks.
	HomesPercent = 89
	// UnlistedHomes is how many homes a whole-domain stack (no student list) sizes the default
	// quota for.
	UnlistedHomes = 50
	// MinHomeQuotaGiB is the smallest quota a home gets by default: less and the course copy
	// and a data set no longer fit.
	MinHomeQuotaGiB = 1
	// SpareSlots are quota slots kept beyond the roster, for homes made between two runs of
	// the file server's camphub-quota.
	SpareSlots = 10
)

// HomesGiB is the part of a volumeGiB data volume home folders may use together.
func HomesGiB(volumeGiB int) int { return volumeGiB * HomesPercent / 100 }

// DefaultHomeQuotaGiB shares HomesGiB(volumeGiB) among homes folders (at least one), in whole
// GiB; 0 when that is under MinHomeQuotaGiB (the volume is too small for them).
func DefaultHomeQuotaGiB(volumeGiB, homes int) int {
	q := HomesGiB(volumeGiB) / max(homes, 1)
	if q < MinHomeQuotaGiB {
		return 0
	}
	return q
}

func (a *NfsServerArgs) validate() error {
	var errs []error
	if err := a.MachineArgs.validate(); err != nil {
		errs = append(errs, err)
	}
	if a.AvailabilityZone == nil {
		errs = append(errs, errors.New("AvailabilityZone is required"))
	}
	if a.VolumeSizeGiB < MinVolumeGiB || a.VolumeSizeGiB > MaxVolumeGiB {
		errs = append(errs, fmt.Errorf("VolumeSizeGiB must be %d..%d, got %d", MinVolumeGiB, MaxVolumeGiB, a.VolumeSizeGiB))
	}
	if a.HomeQuotaGiB < 1 || a.HomeQuotaGiB > a.VolumeSizeGiB || a.QuotaSlots < 1 {
		errs = append(errs, fmt.Errorf("HomeQuotaGiB must be 1..VolumeSizeGiB (got %d) and QuotaSlots at least 1 (got %d)", a.HomeQuotaGiB, a.QuotaSlots))
	}
	if a.SSH.PrivateKey == nil || a.SSH.JumpHost == nil || a.HubPrivateIP == nil || a.WorkerIPs == nil {
		errs = append(errs, errors.New("SSH (with the hub as jump host), HubPrivateIP and WorkerIPs are required"))
	}
	if a.PrivateIP == "" {
		errs = append(errs, errors.New("PrivateIP is required: every node's fstab names the NFS server by address, which must survive a replacement"))
	}
	if a.SnapshotRetainDays < 1 || a.SnapshotRetainDays > MaxSnapshotRetainDays {
		errs = append(errs, fmt.Errorf("SnapshotRetainDays must be 1..%d, got %d", MaxSnapshotRetainDays, a.SnapshotRetainDays))
	}
	return errors.Join(errs...)
}

// NewNfsServer makes the NFS instance and the student data volume. The volume is a resource of
// its own: replacing or deleting the instance detaches it and never deletes it. It is encrypted,
// snapshotted daily, snapshotted once more before any deletion, and kept on `pulumi destroy`
// when RetainVolumeOnDestroy is set.
func NewNfsServer(ctx *pulumi.Context, name string, args *NfsServerArgs, opts ...pulumi.ResourceOption) (*NfsServer, error) {
	s := &NfsServer{}
	parent, err := begin(ctx, "camphub:index:NfsServer", "nfs server", name, s, args.validate(), opts)
	if err != nil {
		return nil, err
	}
	wrap := wrapper("nfs server", name)

	inst, err := newInstance(ctx, name, provision.RoleNfs, NfsRootGiB, args.MachineArgs, s, args.AddressReady)
	if err != nil {
		return nil, wrap("instance", err)
	}

	snapshotTag := fmt.Sprintf("%s-%s", ctx.Project(), ctx.Stack())
	volumeID, sizeGiB, err := dataVolume(ctx, name, args, snapshotTag, parent)
	if err != nil {
		return nil, err
	}
	att, err := attachVolume(ctx, name+"-data", DataDeviceName, volumeID, inst, s)
	if err != nil {
		return nil, wrap("data volume attachment", err)
	}

	if err := dailySnapshots(ctx, name, args.SnapshotRetainDays, snapshotTag, parent); err != nil {
		return nil, err
	}

	script := pulumi.All(volumeID, args.HubPrivateIP, args.WorkerIPs).ApplyT(func(v []any) (string, error) {
		out, err := provision.NfsSetupScript(provision.Nfs{
			Stack: ctx.Stack(), VolumeID: string(v[0].(pulumi.ID)), DeviceName: DataDeviceName,
			HubIP: v[1].(string), WorkerIPs: v[2].([]string), SizeGiB: sizeGiB,
			HomeQuotaGiB: args.HomeQuotaGiB, Slots: args.QuotaSlots,
		})
		return provision.Command(out), err
	}).(pulumi.StringOutput)
	setup, err := newStep(ctx, name+"-setup", step{
		host: inst.PrivateIp, ssh: args.SSH, script: script,
		machine: inst, after: []pulumi.Resource{att},
	}, s)
	if err != nil {
		return nil, wrap("setup step", err)
	}

	s.Instance = inst
	s.PrivateIP = inst.PrivateIp
	s.VolumeID = volumeID
	s.Setup = setup
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{
		"privateIp": s.PrivateIP,
		"volumeId":  s.VolumeID,
	})
}

// dataVolume is the student data volume: a kept one (only tagged for the snapshots) or a new,
// encrypted gp3 volume, empty or from a snapshot, with a final snapshot before any deletion.
// It returns the volume's id and size.
func dataVolume(ctx *pulumi.Context, name string, args *NfsServerArgs, snapshotTag string, parent pulumi.ResourceOption) (pulumi.IDOutput, int, error) {
	wrap := wrapper("nfs server", name)
	volTags := Tags(ctx, "nfs", name+"-data")
	volTags["camphub-snapshots"] = pulumi.String(snapshotTag)
	var volumeID pulumi.IDOutput
	sizeGiB := args.VolumeSizeGiB
	if args.KeptVolumeID != "" {
		// Last year's homes: the volume stays outside the stack (nothing here deletes it); it
		// only gets the tag the daily snapshot policy looks for.
		volumeID = pulumi.ID(args.KeptVolumeID).ToIDOutput()
		sizeGiB = args.KeptVolumeGiB
		if _, err := ec2.NewTag(ctx, name+"-data-snapshots", &ec2.TagArgs{
			ResourceId: pulumi.String(args.KeptVolumeID), Key: pulumi.String("camphub-snapshots"), Value: pulumi.String(snapshotTag),
		}, parent); err != nil {
			return pulumi.IDOutput{}, 0, wrap("kept data volume tag", err)
		}
	} else {
		var snapshot pulumi.StringPtrInput
		if args.SnapshotID != "" {
			snapshot = pulumi.StringPtr(args.SnapshotID)
		}
		vol, err := ebs.NewVolume(ctx, name+"-data", &ebs.VolumeArgs{
			AvailabilityZone: args.AvailabilityZone,
			Size:             pulumi.Int(args.VolumeSizeGiB),
			SnapshotId:       snapshot,
			Type:             pulumi.String("gp3"),
			Encrypted:        pulumi.Bool(true),
			FinalSnapshot:    pulumi.Bool(true),
			Tags:             volTags,
		}, parent, pulumi.RetainOnDelete(args.RetainVolumeOnDestroy))
		if err != nil {
			return pulumi.IDOutput{}, 0, wrap("data volume", err)
		}
		volumeID = vol.ID()
	}
	return volumeID, sizeGiB, nil
}

// dailySnapshots is the Data Lifecycle Manager policy that snapshots the tagged data volume
// every day and keeps retainDays of them, with the role it runs as.
func dailySnapshots(ctx *pulumi.Context, name string, retainDays int, snapshotTag string, parent pulumi.ResourceOption) error {
	wrap := wrapper("nfs server", name)
	// The role can never do more than take snapshots: the snapshot policy is also its
	// permissions boundary, which the deploy policy (deploy/iam-policy.json) requires of any
	// role it creates.
	role, err := iam.NewRole(ctx, name+"-snapshots", &iam.RoleArgs{
		AssumeRolePolicy:    pulumi.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"dlm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		PermissionsBoundary: pulumi.String(SnapshotPolicyARN),
		Tags:                Tags(ctx, "nfs", name+"-snapshots"),
	}, parent)
	if err != nil {
		return wrap("snapshot role", err)
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, name+"-snapshots", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String(SnapshotPolicyARN),
	}, parent); err != nil {
		return wrap("snapshot role policy", err)
	}
	if _, err := dlm.NewLifecyclePolicy(ctx, name+"-snapshots", &dlm.LifecyclePolicyArgs{
		Description:      pulumi.String(fmt.Sprintf("camphub %s student data, daily", ctx.Stack())),
		ExecutionRoleArn: role.Arn,
		State:            pulumi.String("ENABLED"),
		PolicyDetails: &dlm.LifecyclePolicyPolicyDetailsArgs{
			ResourceTypes: pulumi.StringArray{pulumi.String("VOLUME")},
			TargetTags:    pulumi.StringMap{"camphub-snapshots": pulumi.String(snapshotTag)},
			Schedules: dlm.LifecyclePolicyPolicyDetailsScheduleArray{
				&dlm.LifecyclePolicyPolicyDetailsScheduleArgs{
					Name:     pulumi.String("daily"),
					CopyTags: pulumi.Bool(true),
					CreateRule: &dlm.LifecyclePolicyPolicyDetailsScheduleCreateRuleArgs{
						Interval:     pulumi.Int(24),
						IntervalUnit: pulumi.String("HOURS"),
						Times:        pulumi.String("06:00"),
					},
					RetainRule: &dlm.LifecyclePolicyPolicyDetailsScheduleRetainRuleArgs{
						Count: pulumi.Int(retainDays),
					},
				},
			},
		},
		Tags: Tags(ctx, "nfs", name+"-snapshots"),
	}, parent); err != nil {
		return wrap("snapshot policy", err)
	}

	return nil
}
