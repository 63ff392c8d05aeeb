// Package components holds camphub's Pulumi component resources (camphub:index:Network, Hub,
// WorkerPool, NfsServer) and the helpers they share: machine defaults and SSH provisioning steps.
package components

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/provision"
)

// Root disk sizes, GiB: the hub's (its image and logs), the NFS server's, and a worker's: 30 GiB
// (the ECS-optimized AMI's root snapshot, as far as we know: docs/upstream.md A2), of which the
// system uses about 4: room for a notebook image of up to MaxImageGiB extracted, its download
// and the students' containers (worker-image checks the image it pulled against it).
const (
	HubRootGiB    = 30
	NfsRootGiB    = 16
	WorkerRootGiB = 30
)

// MaxImageGiB is the largest notebook image a worker keeps room for.
const MaxImageGiB = provision.MaxImageGiB

// SSHUser is the login user of Amazon Linux 2023.
var SSHUser = provision.Layout.SSHUser

// Architectures, as EC2 names them (DescribeInstanceTypes' SupportedArchitectures).
const (
	ArchX86 = "x86_64"
	ArchArm = "arm64"
)

// AMIParameters are the public SSM parameters holding the latest AWS-maintained Amazon Linux 2023
// AMIs, by kind (provision.AMIECS: the ECS-optimized one, Docker included; provision.AMIAL2023:
// the plain one) and architecture (docs/upstream.md A1).
var AMIParameters = map[string]map[string]string{
	provision.AMIECS: {
		ArchX86: "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
		ArchArm: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
	},
	provision.AMIAL2023: {
		ArchX86: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
		ArchArm: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
	},
}

// LookupAMI returns pinned when set, else the latest AMI of that kind and architecture.
// Instances ignore later changes of this value, so a new AMI release never replaces a machine.
func LookupAMI(ctx *pulumi.Context, pinned, kind, arch string) (string, error) {
	if pinned != "" {
		return pinned, nil
	}
	name, ok := AMIParameters[kind][arch]
	if !ok {
		return "", fmt.Errorf("no Amazon Linux 2023 AMI of kind %q for %s", kind, arch)
	}
	p, err := ssm.LookupParameter(ctx, &ssm.LookupParameterArgs{Name: name})
	if err != nil {
		return "", fmt.Errorf("looking up the Amazon Linux 2023 AMI in SSM parameter %s: %w", name, err)
	}
	return p.InsecureValue, nil
}

// AMI is what camphub reads of an image before booting a machine from it.
type AMI struct {
	ID, Arch string
	// RootGiB is the size of its root volume's snapshot: the least a root volume made from it may be.
	RootGiB int
}

// DescribeAMI reads an image's architecture and root snapshot size (EC2 DescribeImages).
func DescribeAMI(ctx *pulumi.Context, id string) (AMI, error) {
	img, err := ec2.LookupAmi(ctx, &ec2.LookupAmiArgs{
		Filters:           []ec2.GetAmiFilter{{Name: "image-id", Values: []string{id}}},
		IncludeDeprecated: pulumi.BoolRef(true),
	})
	if err != nil {
		return AMI{}, fmt.Errorf("reading AMI %s: %w", id, err)
	}
	a := AMI{ID: id, Arch: img.Architecture}
	for _, m := range img.BlockDeviceMappings {
		if m.DeviceName == img.RootDeviceName {
			a.RootGiB, _ = strconv.Atoi(m.Ebs["volume_size"])
		}
	}
	return a, nil
}

// Tags are put on every AWS resource the program makes, so the operator can find and cost them.
func Tags(ctx *pulumi.Context, role, name string) pulumi.StringMap {
	return pulumi.StringMap{
		"Name":    pulumi.String(fmt.Sprintf("%s-%s-%s", ctx.Project(), ctx.Stack(), name)),
		"Project": pulumi.String(ctx.Project()),
		"Stack":   pulumi.String(ctx.Stack()),
		"Role":    pulumi.String(role),
	}
}

// MachineArgs are what every role's instance is made from.
type MachineArgs struct {
	InstanceType    string
	AMI             string
	UserData        string // cloud-config; never holds a secret
	SubnetID        pulumi.StringInput
	SecurityGroupID pulumi.StringInput
	KeyName         pulumi.StringInput
	// PrivateIP pins the instance's address in the subnet ("" lets AWS choose). A pinned
	// instance is replaced by deleting it first (its address cannot be in use twice).
	PrivateIP string
	// MinRootGiB is the AMI's root snapshot size: the root volume is at least that, even where
	// the role's own size is smaller.
	MinRootGiB int
}

func (m MachineArgs) validate() error {
	var errs []error
	if m.InstanceType == "" || m.AMI == "" {
		errs = append(errs, errors.New("InstanceType and AMI are required"))
	}
	if m.SubnetID == nil || m.SecurityGroupID == nil || m.KeyName == nil {
		errs = append(errs, errors.New("SubnetID, SecurityGroupID and KeyName are required"))
	}
	return errors.Join(errs...)
}

// newInstance makes an EC2 instance with the hardening every role needs: IMDSv2 only with a hop
// limit of 1 (so containers cannot reach the instance's credentials), an encrypted gp3 root volume,
// and no replacement when a newer AMI appears or the user data is edited.
func newInstance(ctx *pulumi.Context, name, role string, rootGiB int, m MachineArgs, parent pulumi.Resource, after ...pulumi.Resource) (*ec2.Instance, error) {
	tags := Tags(ctx, role, name)
	rootGiB = max(rootGiB, m.MinRootGiB)
	opts := []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.IgnoreChanges([]string{"ami", "userData"})}
	if len(after) > 0 && after[0] != nil {
		opts = append(opts, pulumi.DependsOn(after))
	}
	var privateIP pulumi.StringPtrInput
	if m.PrivateIP != "" {
		privateIP = pulumi.StringPtr(m.PrivateIP)
		opts = append(opts, pulumi.DeleteBeforeReplace(true))
	}
	inst, err := ec2.NewInstance(ctx, name, &ec2.InstanceArgs{
		PrivateIp:                privateIP,
		Ami:                      pulumi.String(m.AMI),
		InstanceType:             pulumi.String(m.InstanceType),
		SubnetId:                 m.SubnetID,
		VpcSecurityGroupIds:      pulumi.StringArray{m.SecurityGroupID},
		KeyName:                  m.KeyName,
		AssociatePublicIpAddress: pulumi.Bool(true),
		UserData:                 pulumi.String(m.UserData),
		UserDataReplaceOnChange:  pulumi.Bool(false),
		MetadataOptions: &ec2.InstanceMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		RootBlockDevice: &ec2.InstanceRootBlockDeviceArgs{
			VolumeType:          pulumi.String("gp3"),
			VolumeSize:          pulumi.Int(rootGiB),
			Encrypted:           pulumi.Bool(true),
			DeleteOnTermination: pulumi.Bool(true),
			// Not VolumeTags: those would also retag the NFS data volume attached later.
			Tags: tags,
		},
		Tags: tags,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s instance %q: %w", role, name, err)
	}
	return inst, nil
}

// attachVolume attaches an EBS volume to an instance so that a replaced instance gets it back:
// the old attachment is deleted first (an EBS volume cannot be attached to two instances,
// pulumi-aws issue 2769), with the old instance stopped so its file system is clean.
func attachVolume(ctx *pulumi.Context, name, device string, volume pulumi.IDInput, inst *ec2.Instance, parent pulumi.Resource) (*ec2.VolumeAttachment, error) {
	return ec2.NewVolumeAttachment(ctx, name, &ec2.VolumeAttachmentArgs{
		DeviceName:                  pulumi.String(device),
		VolumeId:                    volume,
		InstanceId:                  inst.ID(),
		StopInstanceBeforeDetaching: pulumi.Bool(true),
	}, pulumi.Parent(parent), pulumi.DeleteBeforeReplace(true))
}

// wrapper names a component's errors: `<kind> "<name>" <what>: <err>`.
func wrapper(kind, name string) func(what string, err error) error {
	return func(what string, err error) error { return fmt.Errorf("%s %q %s: %w", kind, name, what, err) }
}

// begin checks a component's arguments (valid is what their validate said), registers the
// component under its type token and returns the option that parents its children.
func begin(ctx *pulumi.Context, token, kind, name string, comp pulumi.ComponentResource, valid error, opts []pulumi.ResourceOption) (pulumi.ResourceOption, error) {
	if valid != nil {
		return nil, fmt.Errorf("%s %q: %w", kind, name, valid)
	}
	if err := ctx.RegisterComponentResource(token, name, comp, opts...); err != nil {
		return nil, err
	}
	return pulumi.Parent(comp), nil
}
