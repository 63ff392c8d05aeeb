package components

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MaxWorkers bounds the pool: beyond it a single swarm manager on one hub is the wrong design.
const MaxWorkers = 50

// WorkerPoolArgs shape the pool.
type WorkerPoolArgs struct {
	Count           int
	InstanceType    string
	AMI             string
	UserData        string
	SubnetID        pulumi.StringInput
	SecurityGroupID pulumi.StringInput
	KeyName         pulumi.StringInput
}

// WorkerPool is the swarm workers that run the students' notebook containers.
type WorkerPool struct {
	pulumi.ResourceState

	Instances  []*ec2.Instance
	PrivateIPs pulumi.StringArrayOutput
}

func (a *WorkerPoolArgs) validate() error {
	var errs []error
	if a.Count < 1 || a.Count > MaxWorkers {
		errs = append(errs, fmt.Errorf("Count must be 1..%d, got %d", MaxWorkers, a.Count))
	}
	if a.InstanceType == "" || a.AMI == "" {
		errs = append(errs, errors.New("InstanceType and AMI are required"))
	}
	if a.SubnetID == nil || a.SecurityGroupID == nil || a.KeyName == nil {
		errs = append(errs, errors.New("SubnetID, SecurityGroupID and KeyName are required"))
	}
	return errors.Join(errs...)
}

// NewWorkerPool makes Count workers named <name>-00, <name>-01, ...
func NewWorkerPool(ctx *pulumi.Context, name string, args *WorkerPoolArgs, opts ...pulumi.ResourceOption) (*WorkerPool, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("worker pool %q: %w", name, err)
	}
	w := &WorkerPool{}
	if err := ctx.RegisterComponentResource("camphub:index:WorkerPool", name, w, opts...); err != nil {
		return nil, err
	}
	ips := make(pulumi.StringArray, args.Count)
	for i := range args.Count {
		inst, err := newInstance(ctx, WorkerName(name, i), Machine{
			Role:             "worker",
			InstanceType:     args.InstanceType,
			AMI:              args.AMI,
			SubnetID:         args.SubnetID,
			SecurityGroupIDs: pulumi.StringArray{args.SecurityGroupID},
			KeyName:          args.KeyName,
			UserData:         args.UserData,
			// Room for a few data-science images (5-6 GB each) and their layers.
			RootVolumeGiB: 50,
		}, w)
		if err != nil {
			return nil, fmt.Errorf("worker pool %q: %w", name, err)
		}
		w.Instances = append(w.Instances, inst)
		ips[i] = inst.PrivateIp
	}
	w.PrivateIPs = ips.ToStringArrayOutput()
	return w, ctx.RegisterResourceOutputs(w, pulumi.Map{"privateIps": w.PrivateIPs})
}

// WorkerName is the resource name of worker i.
func WorkerName(pool string, i int) string {
	return fmt.Sprintf("%s-%02d", pool, i)
}
