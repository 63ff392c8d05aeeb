package components

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// certValidityHours is how long the hub's self-signed certificate is valid: 13 months, so a
// certificate made for one summer's camp still holds at the next year's rehearsal.
const certValidityHours = 13 * 30 * 24

// HubArgs shape the hub.
type HubArgs struct {
	InstanceType    string
	AMI             string
	UserData        string
	SubnetID        pulumi.StringInput
	SecurityGroupID pulumi.StringInput
	KeyName         pulumi.StringInput
	Port            int
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
}

func (a *HubArgs) validate() error {
	var errs []error
	if a.InstanceType == "" || a.AMI == "" {
		errs = append(errs, errors.New("InstanceType and AMI are required"))
	}
	if a.SubnetID == nil || a.SecurityGroupID == nil || a.KeyName == nil {
		errs = append(errs, errors.New("SubnetID, SecurityGroupID and KeyName are required"))
	}
	if a.Port < 1 || a.Port > 65535 {
		errs = append(errs, fmt.Errorf("Port %d out of range", a.Port))
	}
	return errors.Join(errs...)
}

// NewHub makes the hub instance, an Elastic IP whose public DNS name is the hub's host name for
// good (it survives instance replacement), and a self-signed certificate for that name and IP.
func NewHub(ctx *pulumi.Context, name string, args *HubArgs, opts ...pulumi.ResourceOption) (*Hub, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("hub %q: %w", name, err)
	}
	h := &Hub{}
	if err := ctx.RegisterComponentResource("camphub:index:Hub", name, h, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(h)
	wrap := func(what string, err error) error { return fmt.Errorf("hub %q %s: %w", name, what, err) }

	inst, err := newInstance(ctx, name, Machine{
		Role:             "hub",
		InstanceType:     args.InstanceType,
		AMI:              args.AMI,
		SubnetID:         args.SubnetID,
		SecurityGroupIDs: pulumi.StringArray{args.SecurityGroupID},
		KeyName:          args.KeyName,
		UserData:         args.UserData,
		RootVolumeGiB:    30,
	}, h)
	if err != nil {
		return nil, wrap("instance", err)
	}
	eip, err := ec2.NewEip(ctx, name+"-eip", &ec2.EipArgs{
		Domain: pulumi.String("vpc"),
		Tags:   Tags(ctx, "hub", name+"-eip"),
	}, parent)
	if err != nil {
		return nil, wrap("Elastic IP", err)
	}
	if _, err := ec2.NewEipAssociation(ctx, name+"-eip", &ec2.EipAssociationArgs{
		AllocationId: eip.AllocationId,
		InstanceId:   inst.ID(),
	}, parent); err != nil {
		return nil, wrap("Elastic IP association", err)
	}

	key, err := tls.NewPrivateKey(ctx, name+"-tls", &tls.PrivateKeyArgs{
		Algorithm:  pulumi.String("ECDSA"),
		EcdsaCurve: pulumi.String("P256"),
	}, parent)
	if err != nil {
		return nil, wrap("TLS key", err)
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
		return nil, wrap("TLS certificate", err)
	}

	h.Instance = inst
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
