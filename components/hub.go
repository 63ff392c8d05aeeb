package components

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ebs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/provision"
)

// certValidityHours is how long the hub's self-signed certificate is valid: 13 months, so a
// certificate made for one summer's camp still holds at the next year's rehearsal.
const certValidityHours = 13 * 30 * 24

// StateDeviceName is the device name the hub's state volume is attached as.
const StateDeviceName = "/dev/sdg"

// StateVolumeGiB is the size of the hub's state volume: its database, cookie secret and the
// swarm's state take megabytes.
const StateVolumeGiB = 2

// HubArgs shape the hub.
type HubArgs struct {
	MachineArgs
	Port             int
	AvailabilityZone pulumi.StringInput // the subnet's: the state volume lives there
	AddressReady     pulumi.Resource    // the reservation of MachineArgs.PrivateIP
}

// Hub is the JupyterHub machine with its stable address and TLS certificate.
type Hub struct {
	pulumi.ResourceState

	Instance    *ec2.Instance
	PublicIP    pulumi.StringOutput
	PublicDNS   pulumi.StringOutput
	PrivateIP   pulumi.StringOutput
	URL         pulumi.StringOutput // https://<public DNS>:<port>
	CallbackURL pulumi.StringOutput // the OAuth redirect URI for the Google console
	CertPEM     pulumi.StringOutput
	TLSKeyPEM   pulumi.StringOutput // secret
	// StateVolumeID is the volume holding the hub's and the swarm's state.
	StateVolumeID pulumi.IDOutput
	// Association makes the hub reachable at its public address (the jump host for SSH).
	Association *ec2.EipAssociation

	// Set by Provision.
	Image     *remote.Command     // hub image built, proxy image pulled
	Bootstrap *remote.Command     // swarm initialised, NFS mounted
	Config    *remote.Command     // proxy and hub running, healthy through the proxy
	Roster    *remote.Command     // the hub's users are the roster
	JoinToken pulumi.StringOutput // the swarm's worker join token, secret

	configScript pulumi.StringOutput // the config step's script, whose change re-runs the smoke probe
	rosterDigest string
}

func (a *HubArgs) validate() error {
	var errs []error
	if err := a.MachineArgs.validate(); err != nil {
		errs = append(errs, err)
	}
	if a.Port < 1 || a.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", a.Port))
	}
	if a.PrivateIP == "" || a.AvailabilityZone == nil {
		errs = append(errs, errors.New("PrivateIP and AvailabilityZone are required: a replaced hub is the same swarm manager at the same address, with its state volume"))
	}
	return errors.Join(errs...)
}

// NewHub makes the hub instance, an Elastic IP whose public DNS name is the hub's host name for
// good (it survives instance replacement), and a self-signed certificate for that name and IP.
func NewHub(ctx *pulumi.Context, name string, args *HubArgs, opts ...pulumi.ResourceOption) (*Hub, error) {
	h := &Hub{}
	parent, err := begin(ctx, "camphub:index:Hub", "hub", name, h, args.validate(), opts)
	if err != nil {
		return nil, err
	}
	wrap := wrapper("hub", name)

	inst, err := newInstance(ctx, name, provision.RoleHub, HubRootGiB, args.MachineArgs, h, args.AddressReady)
	if err != nil {
		return nil, wrap("instance", err)
	}
	// The hub's state (JupyterHub's database, cookie secret and proxy token; the swarm's raft
	// state) on a volume of its own that outlives the instance, attached by deleting the old
	// attachment first (an EBS volume cannot be attached twice).
	state, err := ebs.NewVolume(ctx, name+"-state", &ebs.VolumeArgs{
		AvailabilityZone: args.AvailabilityZone,
		Size:             pulumi.Int(StateVolumeGiB),
		Type:             pulumi.String("gp3"),
		Encrypted:        pulumi.Bool(true),
		Tags:             Tags(ctx, "hub", name+"-state"),
	}, parent)
	if err != nil {
		return nil, wrap("state volume", err)
	}
	if _, err := attachVolume(ctx, name+"-state", StateDeviceName, state.ID(), inst, h); err != nil {
		return nil, wrap("state volume attachment", err)
	}
	eip, err := ec2.NewEip(ctx, name+"-eip", &ec2.EipArgs{
		Domain: pulumi.String("vpc"),
		Tags:   Tags(ctx, "hub", name+"-eip"),
	}, parent)
	if err != nil {
		return nil, wrap("Elastic IP", err)
	}
	assoc, err := ec2.NewEipAssociation(ctx, name+"-eip", &ec2.EipAssociationArgs{
		AllocationId: eip.AllocationId,
		InstanceId:   inst.ID(),
	}, parent)
	if err != nil {
		return nil, wrap("Elastic IP association", err)
	}

	key, cert, err := hubCertificate(ctx, name, eip, parent)
	if err != nil {
		return nil, err
	}

	h.Instance = inst
	h.StateVolumeID = state.ID()
	h.Association = assoc
	h.PublicIP = eip.PublicIp
	h.PublicDNS = eip.PublicDns
	h.PrivateIP = inst.PrivateIp
	h.URL = pulumi.Sprintf("https://%s:%d", eip.PublicDns, args.Port)
	h.CallbackURL = pulumi.Sprintf("%s/hub/oauth_callback", h.URL)
	h.CertPEM = cert.CertPem
	h.TLSKeyPEM = pulumi.ToSecret(key.PrivateKeyPem).(pulumi.StringOutput)
	return h, ctx.RegisterResourceOutputs(h, pulumi.Map{
		"url":       h.URL,
		"publicIp":  h.PublicIP,
		"publicDns": h.PublicDNS,
		"privateIp": h.PrivateIP,
	})
}

// hubCertificate is the hub's self-signed certificate (ECDSA P-256) for the Elastic IP's DNS
// name and address, valid 13 months and renewed only in its last 30 days.
func hubCertificate(ctx *pulumi.Context, name string, eip *ec2.Eip, parent pulumi.ResourceOption) (*tls.PrivateKey, *tls.SelfSignedCert, error) {
	wrap := wrapper("hub", name)
	key, err := tls.NewPrivateKey(ctx, name+"-tls", &tls.PrivateKeyArgs{
		Algorithm:  pulumi.String("ECDSA"),
		EcdsaCurve: pulumi.String("P256"),
	}, parent)
	if err != nil {
		return nil, nil, wrap("TLS key", err)
	}
	cert, err := tls.NewSelfSignedCert(ctx, name+"-tls", &tls.SelfSignedCertArgs{
		PrivateKeyPem: key.PrivateKeyPem,
		Subject: &tls.SelfSignedCertSubjectArgs{
			CommonName:   eip.PublicDns,
			Organization: pulumi.String(fmt.Sprintf("camphub %s", ctx.Stack())),
		},
		DnsNames:            pulumi.StringArray{eip.PublicDns},
		IpAddresses:         pulumi.StringArray{eip.PublicIp},
		ValidityPeriodHours: pulumi.Int(certValidityHours),
		EarlyRenewalHours:   pulumi.Int(30 * 24),
		AllowedUses:         pulumi.StringArray{pulumi.String("digital_signature"), pulumi.String("key_encipherment"), pulumi.String("server_auth")},
	}, parent)
	if err != nil {
		return nil, nil, wrap("TLS certificate", err)
	}

	return key, cert, nil
}

// HubProvisionArgs are what the hub's provisioning needs beyond the machine itself.
type HubProvisionArgs struct {
	SSH               SSH // no JumpHost: the hub is reached directly
	NfsIP             pulumi.StringInput
	NfsReady          pulumi.Resource // the NFS server's exports are live
	VpcCidr           string          // the containers' firewall keeps them out of it
	OAuthClientSecret pulumi.StringInput
	// Config is the hub's JupyterHub configuration; its PublicDNS and CertPEM are filled in here.
	Config provision.Hub
	// Roster is applied to the running hub by its own step; it travels as a secret (personal
	// data stays out of previews and logs).
	Roster provision.Roster
	// Course, when its Source is set, is copied to the hub and synced into the course folder.
	Course provision.Course
}

// Provision adds the hub's SSH steps:
//   - image: Docker, the hub image built and the proxy image pulled. It needs only the machine,
//     so it runs while the NFS server is being set up.
//   - bootstrap (after the NFS server's setup): the NFS mounts, swarm init and the overlay
//     network. Its only output is the swarm's worker join token, a secret.
//   - config (after both): the TLS key, the OAuth env file (both from standard input, mode
//     0600), the proxy's and the hub's files and services; succeeds once /hub/health answers
//     through the proxy.
//   - roster (after config): the roster file, applied by the hub's camphub-roster service
//     through the REST API. A roster change re-runs only this step; nothing restarts.
func (h *Hub) Provision(ctx *pulumi.Context, name string, args *HubProvisionArgs) error {
	if args.SSH.PrivateKey == nil || args.NfsIP == nil || args.NfsReady == nil || args.OAuthClientSecret == nil {
		return fmt.Errorf("hub %q provision: SSH key, NFS address, NFS readiness and OAuth secret are required", name)
	}
	rosterJSON, err := args.Roster.JSON()
	if err != nil {
		return fmt.Errorf("hub %q roster: %w", name, err)
	}
	rosterDigest := digest(rosterJSON)
	wrap := wrapper("hub", name)
	ssh := args.SSH
	ssh.JumpHost, ssh.JumpReady = nil, h.Association

	imageScript, err := provision.HubImageScript(ctx.Stack())
	if err != nil {
		return wrap("image step", err)
	}
	image, err := newStep(ctx, name+"-image", step{
		host: h.PublicIP, ssh: ssh, script: pulumi.String(provision.Command(imageScript)).ToStringOutput(),
		machine: h.Instance,
	}, h)
	if err != nil {
		return wrap("image step", err)
	}

	boot, err := h.bootstrap(ctx, name, ssh, args)
	if err != nil {
		return err
	}

	cfg := args.Config
	cfg.AllowAll = args.Roster.AdmitsDomain() // the roster decides who may log in
	script := pulumi.All(h.PublicDNS, h.CertPEM).ApplyT(func(v []any) (string, error) {
		c := cfg
		c.PublicDNS, c.CertPEM = v[0].(string), v[1].(string)
		f, err := provision.RenderHub(c)
		return provision.Command(f.ConfigScript), err
	}).(pulumi.StringOutput)
	stdin := pulumi.All(args.OAuthClientSecret, h.TLSKeyPEM).ApplyT(func(v []any) string {
		return v[0].(string) + "\n" + base64.StdEncoding.EncodeToString([]byte(v[1].(string))) + "\n"
	}).(pulumi.StringOutput)
	config, err := newStep(ctx, name+"-config", step{
		host: h.PublicIP, ssh: ssh, script: script, stdin: pulumi.ToSecret(stdin).(pulumi.StringOutput), secret: true,
		machine: h.Instance, after: []pulumi.Resource{boot, image},
	}, h)
	if err != nil {
		return wrap("config step", err)
	}

	rosterScript, err := provision.HubRosterScript(ctx.Stack())
	if err != nil {
		return wrap("roster step", err)
	}
	roster, err := newStep(ctx, name+"-roster", step{
		host: h.PublicIP, ssh: ssh, script: pulumi.String(provision.Command(rosterScript)).ToStringOutput(),
		stdin:  pulumi.ToSecret(pulumi.String(rosterJSON)).(pulumi.StringOutput),
		secret: true, machine: h.Instance, after: []pulumi.Resource{config},
		// The script does not change with the roster: the roster's digest (secret) re-runs it.
		extraTriggers: pulumi.Array{pulumi.ToSecret(pulumi.String(rosterDigest))},
	}, h)
	if err != nil {
		return wrap("roster step", err)
	}

	if args.Course.Source != "" {
		if err := h.course(ctx, name, ssh, args.Course, boot); err != nil {
			return err
		}
	}

	h.configScript, h.rosterDigest = script, rosterDigest
	h.Image, h.Bootstrap, h.Config, h.Roster = image, boot, config, roster
	h.JoinToken = pulumi.ToSecret(boot.Stdout.ApplyT(strings.TrimSpace)).(pulumi.StringOutput)
	return nil
}

// bootstrap is the hub's bootstrap step: the state volume, NFS mount, firewall, swarm and
// overlay network; its only output is the worker join token.
func (h *Hub) bootstrap(ctx *pulumi.Context, name string, ssh SSH, args *HubProvisionArgs) (*remote.Command, error) {
	wrap := wrapper("hub", name)
	firewall, err := provision.NewFirewall(provision.RoleHub, args.VpcCidr)
	if err != nil {
		return nil, wrap("firewall", err)
	}
	bootstrap := pulumi.All(h.PrivateIP, args.NfsIP, h.StateVolumeID).ApplyT(func(v []any) (string, error) {
		s, err := provision.HubBootstrapScript(provision.Bootstrap{
			Stack: ctx.Stack(), HubIP: v[0].(string), NfsIP: v[1].(string), Firewall: firewall,
			StateVolumeID: string(v[2].(pulumi.ID)), StateDeviceName: StateDeviceName,
		})
		return provision.Command(s), err
	}).(pulumi.StringOutput)
	boot, err := newStep(ctx, name+"-bootstrap", step{
		host: h.PublicIP, ssh: ssh, script: bootstrap, secret: true,
		machine: h.Instance, after: []pulumi.Resource{args.NfsReady},
	}, h)
	if err != nil {
		return nil, wrap("bootstrap step", err)
	}

	return boot, nil
}

// course copies the repository's course folder to the hub (a new folder per content digest) and
// syncs it into the NFS course folder; both run again only when the content changes.
func (h *Hub) course(ctx *pulumi.Context, name string, ssh SSH, c provision.Course, boot pulumi.Resource) error {
	script, err := provision.HubCourseScript(c)
	if err != nil {
		return fmt.Errorf("hub %q course step: %w", name, err)
	}
	copied, err := remote.NewCopyToRemote(ctx, name+"-course-copy", &remote.CopyToRemoteArgs{
		Connection: ssh.connection(h.PublicIP),
		Source:     pulumi.NewFileArchive(c.Source),
		RemotePath: pulumi.String(c.StagingPath()),
		Triggers:   pulumi.Array{h.Instance.ID(), pulumi.String(c.Digest)},
	}, pulumi.Parent(h), pulumi.DependsOn([]pulumi.Resource{h.Association}), pulumi.DeletedWith(h.Instance))
	if err != nil {
		return fmt.Errorf("hub %q course copy: %w", name, err)
	}
	if _, err := newStep(ctx, name+"-course", step{
		host: h.PublicIP, ssh: ssh, script: pulumi.String(provision.Command(script)).ToStringOutput(),
		machine: h.Instance, after: []pulumi.Resource{boot, copied},
	}, h); err != nil {
		return fmt.Errorf("hub %q course step: %w", name, err)
	}
	return nil
}

// Smoke adds the last step of `pulumi up`: one probe student's server started on a worker,
// written to through the proxy and read back from NFS, then removed (camphub-smoke, installed
// by the config step; its service token is made on the hub and never leaves it). It waits for
// every worker (labels) and the roster, and runs again whenever the hub's configuration, the
// roster, the notebook image or the set of workers changes. A failure fails `pulumi up`.
func (h *Hub) Smoke(ctx *pulumi.Context, name string, ssh SSH, image string, workers *WorkerPool) error {
	if h.Config == nil || h.Roster == nil || workers == nil || workers.Labels == nil {
		return fmt.Errorf("hub %q smoke: a provisioned hub and joined workers are required", name)
	}
	script, err := provision.SmokeStepScript(ctx.Stack())
	if err != nil {
		return fmt.Errorf("hub %q smoke step: %w", name, err)
	}
	ssh.JumpHost, ssh.JumpReady = nil, h.Association
	triggers := pulumi.Array{
		h.configScript.ApplyT(digest),
		pulumi.ToSecret(pulumi.String(h.rosterDigest)),
		pulumi.String(image),
	}
	for _, inst := range workers.Instances {
		triggers = append(triggers, inst.ID())
	}
	_, err = newStep(ctx, name+"-smoke", step{
		host: h.PublicIP, ssh: ssh, script: pulumi.String(provision.Command(script)).ToStringOutput(),
		machine: h.Instance, after: []pulumi.Resource{h.Config, h.Roster, workers.Labels},
		extraTriggers: triggers,
	}, h)
	if err != nil {
		return fmt.Errorf("hub %q smoke step: %w", name, err)
	}
	return nil
}
