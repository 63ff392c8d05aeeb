package components

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/provision"
)

// MaxWorkers bounds the pool: beyond it a single swarm manager on one hub is the wrong design.
const MaxWorkers = 50

// WorkerPoolArgs shape the pool.
type WorkerPoolArgs struct {
	Count int
	MachineArgs

	SSH      SSH // through the hub
	Image    string
	Hub      *Hub // provisioned: its bootstrap's join token and address
	NfsIP    pulumi.StringInput
	NfsReady pulumi.Resource
	VpcCidr  string // the containers' firewall keeps them out of it
}

// WorkerPool is the swarm workers that run the students' notebook containers.
type WorkerPool struct {
	pulumi.ResourceState

	Instances  []*ec2.Instance
	PrivateIPs pulumi.StringArrayOutput
	Images     []*remote.Command // per worker: the notebook image pulled (waits on nothing of the hub's)
	Joins      []*remote.Command // per worker: NFS mounted (Docker waits for it), swarm joined
	Labels     *remote.Command   // on the hub: every worker ready, holding the image, labelled
}

func (a *WorkerPoolArgs) validate() error {
	var errs []error
	if a.Count < 1 || a.Count > MaxWorkers {
		errs = append(errs, fmt.Errorf("count must be 1..%d, got %d", MaxWorkers, a.Count))
	}
	if err := a.MachineArgs.validate(); err != nil {
		errs = append(errs, err)
	}
	if a.SSH.PrivateKey == nil || a.SSH.JumpHost == nil || a.Hub == nil || a.Hub.Bootstrap == nil || a.NfsIP == nil || a.NfsReady == nil || a.Image == "" {
		errs = append(errs, errors.New("SSH (through the hub), a provisioned Hub, NfsIP, NfsReady and Image are required"))
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
	firewall, err := provision.NewFirewall(provision.RoleWorker, args.VpcCidr)
	if err != nil {
		return nil, fmt.Errorf("worker pool %q firewall: %w", name, err)
	}
	script := pulumi.All(args.Hub.PrivateIP, args.NfsIP).ApplyT(func(v []any) (string, error) {
		out, err := provision.WorkerSetupScript(provision.Worker{
			Stack: ctx.Stack(), HubIP: v[0].(string), NfsIP: v[1].(string), Firewall: firewall,
		})
		return provision.Command(out), err
	}).(pulumi.StringOutput)
	imageScript, err := provision.WorkerImageScript(ctx.Stack(), args.Image)
	if err != nil {
		return nil, fmt.Errorf("worker pool %q image step: %w", name, err)
	}
	joinToken := args.Hub.JoinToken.ApplyT(func(t string) string { return t + "\n" }).(pulumi.StringOutput)
	for i := range args.Count {
		// 50 GiB root: room for a few data-science images (5-6 GB each) and their layers.
		inst, err := newInstance(ctx, WorkerName(name, i), provision.RoleWorker, 50, args.MachineArgs, w)
		if err != nil {
			return nil, fmt.Errorf("worker pool %q: %w", name, err)
		}
		w.Instances = append(w.Instances, inst)
		ips[i] = inst.PrivateIp
		image, err := newStep(ctx, WorkerName(name, i)+"-image", step{
			host: inst.PrivateIp, ssh: args.SSH, script: pulumi.String(provision.Command(imageScript)).ToStringOutput(),
			machine: inst,
		}, w)
		if err != nil {
			return nil, fmt.Errorf("worker pool %q image step %d: %w", name, i, err)
		}
		w.Images = append(w.Images, image)
		join, err := newStep(ctx, WorkerName(name, i)+"-join", step{
			host: inst.PrivateIp, ssh: args.SSH, script: script, stdin: pulumi.ToSecret(joinToken).(pulumi.StringOutput),
			secret: true, machine: inst, after: []pulumi.Resource{args.Hub.Bootstrap, args.NfsReady},
		}, w)
		if err != nil {
			return nil, fmt.Errorf("worker pool %q join step %d: %w", name, i, err)
		}
		w.Joins = append(w.Joins, join)
	}
	w.PrivateIPs = ips.ToStringArrayOutput()

	labels := w.PrivateIPs.ApplyT(func(addrs []string) (string, error) {
		out, err := provision.LabelWorkersScript(ctx.Stack(), addrs)
		return provision.Command(out), err
	}).(pulumi.StringOutput)
	var after []pulumi.Resource
	for i := range w.Joins {
		after = append(after, w.Joins[i], w.Images[i])
	}
	hubSSH := args.SSH
	hubSSH.JumpHost = nil
	if w.Labels, err = newStep(ctx, name+"-labels", step{
		host: args.Hub.PublicIP, ssh: hubSSH, script: labels, machine: args.Hub.Instance, after: after,
	}, w); err != nil {
		return nil, fmt.Errorf("worker pool %q label step: %w", name, err)
	}
	return w, ctx.RegisterResourceOutputs(w, pulumi.Map{"privateIps": w.PrivateIPs})
}

// WorkerName is the resource name of worker i.
func WorkerName(pool string, i int) string {
	return fmt.Sprintf("%s-%02d", pool, i)
}
