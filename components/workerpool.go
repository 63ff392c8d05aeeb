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

	SSH   SSH // through the hub
	Image string
	// Hours, when set, runs the workers only in class hours (see ClassHours).
	Hours *ClassHours
}

// WorkerJoinArgs are what the workers need to join the cluster (see Join).
type WorkerJoinArgs struct {
	Hub      *Hub // provisioned: its bootstrap's join token and address
	NfsIP    pulumi.StringInput
	NfsReady pulumi.Resource // exports live, listing every worker
	VpcCidr  string          // the containers' firewall keeps them out of it
}

// WorkerPool is the swarm workers that run the students' notebook containers.
type WorkerPool struct {
	pulumi.ResourceState

	name string
	ssh  SSH

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
	if a.SSH.PrivateKey == nil || a.SSH.JumpHost == nil || a.Image == "" {
		errs = append(errs, errors.New("SSH (through the hub) and Image are required"))
	}
	return errors.Join(errs...)
}

// NewWorkerPool makes Count workers named <name>-00, <name>-01, ..., and on each the step that
// pulls the notebook image, which needs nothing of the hub's. Join adds the rest.
func NewWorkerPool(ctx *pulumi.Context, name string, args *WorkerPoolArgs, opts ...pulumi.ResourceOption) (*WorkerPool, error) {
	w := &WorkerPool{name: name, ssh: args.SSH}
	if _, err := begin(ctx, "camphub:index:WorkerPool", "worker pool", name, w, args.validate(), opts); err != nil {
		return nil, err
	}
	imageScript, err := provision.WorkerImageScript(ctx.Stack(), args.Image)
	if err != nil {
		return nil, fmt.Errorf("worker pool %q image step: %w", name, err)
	}
	ips := make(pulumi.StringArray, args.Count)
	for i := range args.Count {
		inst, err := newInstance(ctx, WorkerName(name, i), provision.RoleWorker, WorkerRootGiB, args.MachineArgs, w)
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
	}
	w.PrivateIPs = ips.ToStringArrayOutput()
	if args.Hours != nil {
		if err := newClassSchedule(ctx, name, *args.Hours, w.Instances, w); err != nil {
			return nil, fmt.Errorf("worker pool %q: %w", name, err)
		}
	}
	return w, ctx.RegisterResourceOutputs(w, pulumi.Map{"privateIps": w.PrivateIPs})
}

// Join adds, per worker, the step that mounts NFS and joins the swarm, and on the hub the step
// that waits for every worker and labels it for notebooks.
func (w *WorkerPool) Join(ctx *pulumi.Context, args *WorkerJoinArgs) error {
	if args.Hub == nil || args.Hub.Bootstrap == nil || args.NfsIP == nil || args.NfsReady == nil {
		return fmt.Errorf("worker pool %q join: a provisioned Hub, NfsIP and NfsReady are required", w.name)
	}
	firewall, err := provision.NewFirewall(provision.RoleWorker, args.VpcCidr)
	if err != nil {
		return fmt.Errorf("worker pool %q firewall: %w", w.name, err)
	}
	script := pulumi.All(args.Hub.PrivateIP, args.NfsIP).ApplyT(func(v []any) (string, error) {
		out, err := provision.WorkerSetupScript(provision.Worker{
			Stack: ctx.Stack(), HubIP: v[0].(string), NfsIP: v[1].(string), Firewall: firewall,
		})
		return provision.Command(out), err
	}).(pulumi.StringOutput)
	joinToken := args.Hub.JoinToken.ApplyT(func(t string) string { return t + "\n" }).(pulumi.StringOutput)
	var labelsAfter []pulumi.Resource
	for i, inst := range w.Instances {
		join, err := newStep(ctx, WorkerName(w.name, i)+"-join", step{
			host: inst.PrivateIp, ssh: w.ssh, script: script, stdin: pulumi.ToSecret(joinToken).(pulumi.StringOutput),
			secret: true, machine: inst, after: []pulumi.Resource{args.Hub.Bootstrap, args.NfsReady},
		}, w)
		if err != nil {
			return fmt.Errorf("worker pool %q join step %d: %w", w.name, i, err)
		}
		w.Joins = append(w.Joins, join)
		labelsAfter = append(labelsAfter, join, w.Images[i])
	}
	labels := w.PrivateIPs.ApplyT(func(addrs []string) (string, error) {
		out, err := provision.LabelWorkersScript(ctx.Stack(), addrs)
		return provision.Command(out), err
	}).(pulumi.StringOutput)
	hubSSH := w.ssh
	hubSSH.JumpHost = nil
	if w.Labels, err = newStep(ctx, w.name+"-labels", step{
		host: args.Hub.PublicIP, ssh: hubSSH, script: labels, machine: args.Hub.Instance, after: labelsAfter,
	}, w); err != nil {
		return fmt.Errorf("worker pool %q label step: %w", w.name, err)
	}
	return nil
}

// WorkerName is the resource name of worker i.
func WorkerName(pool string, i int) string {
	return fmt.Sprintf("%s-%02d", pool, i)
}
