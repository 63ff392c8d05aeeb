package components

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/provision"
)

// The ports every part of the cluster agrees on are provision's (provision/ports.go).
const (
	PortSSH         = provision.SSHPort
	PortNFS         = provision.NFSPort
	PortSwarmManage = provision.SwarmPort
	PortSwarmGossip = provision.SwarmGossipPort
	PortSwarmVXLAN  = provision.SwarmVXLANPort
	// ProtocolESP is IPsec ESP, which carries the encrypted overlay network's traffic.
	ProtocolESP = "50"
)

// Security groups, one per machine role. A rule's source is a CIDR block or one of these groups.
const (
	GroupHub    = provision.RoleHub
	GroupWorker = provision.RoleWorker
	GroupNfs    = provision.RoleNfs
)

// Ingress is one inbound rule: Group admits Protocol/Port from Source (a CIDR or a group).
type Ingress struct {
	Group       string
	Protocol    string
	Port        int
	Source      string
	Description string
}

// IngressRules is the cluster's complete inbound policy, the one place a port is opened.
// The hub port is the only one open to the internet; SSH reaches the hub from the admin CIDRs
// and everything else from the hub (the jump host); swarm and NFS stay between cluster nodes.
func IngressRules(hubPort int, adminCidrs []string) []Ingress {
	// IPv4 only: the VPC has no IPv6 block, so an IPv6 rule would admit nothing.
	rules := []Ingress{
		{GroupHub, "tcp", hubPort, "0.0.0.0/0", "JupyterHub HTTPS from anywhere"},
	}
	for _, c := range adminCidrs {
		rules = append(rules, Ingress{GroupHub, "tcp", PortSSH, c, "SSH from an admin network"})
	}
	// The overlay network is encrypted: its VXLAN packets travel inside IPsec ESP (IP protocol
	// 50, no ports), which the nodes must accept from each other.
	swarm := func(group, from string) []Ingress {
		return []Ingress{
			{group, "tcp", PortSwarmGossip, from, "swarm node gossip"},
			{group, "udp", PortSwarmGossip, from, "swarm node gossip"},
			{group, "udp", PortSwarmVXLAN, from, "swarm overlay network (VXLAN)"},
			{group, ProtocolESP, 0, from, "swarm overlay encryption (IPsec ESP)"},
		}
	}
	rules = append(rules, Ingress{GroupHub, "tcp", PortSwarmManage, GroupWorker, "swarm management from workers"})
	rules = append(rules, swarm(GroupHub, GroupWorker)...)
	rules = append(rules, Ingress{GroupWorker, "tcp", PortSSH, GroupHub, "SSH through the hub (jump host)"})
	rules = append(rules, swarm(GroupWorker, GroupHub)...)
	rules = append(rules, swarm(GroupWorker, GroupWorker)...)
	rules = append(rules,
		Ingress{GroupNfs, "tcp", PortSSH, GroupHub, "SSH through the hub (jump host)"},
		Ingress{GroupNfs, "tcp", PortNFS, GroupHub, "NFSv4 from the hub"},
		Ingress{GroupNfs, "tcp", PortNFS, GroupWorker, "NFSv4 from workers"},
	)
	return rules
}

// MinAdminPrefix is the widest block that may SSH to the hub: a /16 (65,536 addresses).
const MinAdminPrefix = 16

// NetworkArgs shape the network.
type NetworkArgs struct {
	// AvailabilityZone is the zone of the subnet (and so of every machine and volume): one that
	// offers every instance type of the stack (see RunPreflight).
	AvailabilityZone string
	VpcCidr          netip.Prefix
	AdminCidrs       []netip.Prefix
	HubPort          int
}

// Network is the VPC, its one public subnet, the security groups of the three roles and
// the SSH key pair every machine is provisioned with.
type Network struct {
	pulumi.ResourceState

	VpcID      pulumi.IDOutput
	SubnetID   pulumi.IDOutput
	SubnetCidr string
	VpcCidr    string
	// NfsPrivateIP is the NFS server's fixed address, in a block of the subnet that AWS never
	// hands out by itself (an explicit CIDR reservation), so a replacement server keeps it.
	NfsPrivateIP string
	// HubPrivateIP is the hub's fixed address, in the same block: a replaced hub is the same
	// swarm manager at the same address, restored from its state volume.
	HubPrivateIP string
	// Reservation must exist before an instance takes a reserved address.
	Reservation      pulumi.Resource
	AvailabilityZone pulumi.StringOutput
	SecurityGroupIDs map[string]pulumi.IDOutput // by GroupHub, GroupWorker, GroupNfs
	KeyName          pulumi.StringOutput
	SSHPrivateKey    pulumi.StringOutput // OpenSSH private key, secret
}

func (a *NetworkArgs) validate() error {
	var errs []error
	if !a.VpcCidr.IsValid() || !a.VpcCidr.Addr().Is4() || a.VpcCidr.Bits() > 24 {
		errs = append(errs, fmt.Errorf("VpcCidr %v must be an IPv4 block of /24 or larger", a.VpcCidr))
	}
	if len(a.AdminCidrs) == 0 {
		errs = append(errs, errors.New("AdminCidrs must not be empty: SSH provisioning needs a way in"))
	}
	if a.AvailabilityZone == "" {
		errs = append(errs, errors.New("AvailabilityZone is required: one that offers every instance type of the stack"))
	}
	for _, c := range a.AdminCidrs {
		if !c.Addr().Is4() || c.Bits() < MinAdminPrefix {
			errs = append(errs, fmt.Errorf("AdminCidrs %v must be an IPv4 block of /%d or narrower", c, MinAdminPrefix))
		}
	}
	if a.HubPort < 1 || a.HubPort > 65535 {
		errs = append(errs, fmt.Errorf("HubPort %d out of range", a.HubPort))
	} else if used, ok := provision.ReservedPorts[a.HubPort]; ok {
		errs = append(errs, fmt.Errorf("HubPort %d is the cluster's own port (%s): it must never face the internet", a.HubPort, used))
	}
	return errors.Join(errs...)
}

// NewNetwork builds the network. Nothing inbound is allowed but IngressRules.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{SecurityGroupIDs: map[string]pulumi.IDOutput{}}
	parent, err := begin(ctx, "camphub:index:Network", "network", name, n, args.validate(), opts)
	if err != nil {
		return nil, err
	}

	v, subnet, err := n.vpc(ctx, name, args, parent)
	if err != nil {
		return nil, err
	}
	if err := n.securityGroups(ctx, name, args, v.ID(), parent); err != nil {
		return nil, err
	}
	kp, key, err := sshKey(ctx, name, parent)
	if err != nil {
		return nil, err
	}

	n.VpcCidr = args.VpcCidr.String()
	n.VpcID = v.ID()
	n.SubnetID = subnet.ID()
	n.AvailabilityZone = subnet.AvailabilityZone
	n.KeyName = kp.KeyName
	n.SSHPrivateKey = pulumi.ToSecret(key.PrivateKeyOpenssh).(pulumi.StringOutput)
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":    n.VpcID,
		"subnetId": n.SubnetID,
		"keyName":  n.KeyName,
	})
}

// vpc makes the VPC, its internet gateway, the one public subnet (the first half of the block)
// with the explicit reservation that holds the fixed addresses, and its route to the internet.
func (n *Network) vpc(ctx *pulumi.Context, name string, args *NetworkArgs, parent pulumi.ResourceOption) (*ec2.Vpc, *ec2.Subnet, error) {
	wrap := wrapper("network", name)
	v, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock: pulumi.String(args.VpcCidr.String()),
		// Without DNS hostnames the Elastic IP has no public DNS name, and Google refuses
		// OAuth callbacks to a bare IP address.
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               Tags(ctx, "network", name+"-vpc"),
	}, parent)
	if err != nil {
		return nil, nil, wrap("VPC", err)
	}
	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: v.ID(),
		Tags:  Tags(ctx, "network", name+"-igw"),
	}, parent)
	if err != nil {
		return nil, nil, wrap("internet gateway", err)
	}
	// The one public subnet takes the first half of the VPC block.
	n.SubnetCidr = netip.PrefixFrom(args.VpcCidr.Addr(), args.VpcCidr.Bits()+1).String()
	subnet, err := ec2.NewSubnet(ctx, name+"-public", &ec2.SubnetArgs{
		VpcId:               v.ID(),
		CidrBlock:           pulumi.String(n.SubnetCidr),
		AvailabilityZone:    pulumi.String(args.AvailabilityZone),
		MapPublicIpOnLaunch: pulumi.Bool(true),
		Tags:                Tags(ctx, "network", name+"-public"),
	}, parent)
	if err != nil {
		return nil, nil, wrap("subnet", err)
	}
	reserved := netip.PrefixFrom(nthAddr(args.VpcCidr.Addr(), 16), 28)
	resv, err := ec2.NewSubnetCidrReservation(ctx, name+"-fixed", &ec2.SubnetCidrReservationArgs{
		SubnetId:        subnet.ID(),
		CidrBlock:       pulumi.String(reserved.String()),
		ReservationType: pulumi.String("explicit"),
		Description:     pulumi.String("camphub fixed addresses (the hub and the NFS server)"),
	}, parent)
	if err != nil {
		return nil, nil, wrap("address reservation", err)
	}
	n.NfsPrivateIP = nthAddr(reserved.Addr(), 4).String()
	n.HubPrivateIP = nthAddr(reserved.Addr(), 5).String()
	n.Reservation = resv
	rt, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId: v.ID(),
		Routes: ec2.RouteTableRouteArray{
			&ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()},
		},
		Tags: Tags(ctx, "network", name+"-public"),
	}, parent)
	if err != nil {
		return nil, nil, wrap("route table", err)
	}
	if _, err := ec2.NewRouteTableAssociation(ctx, name+"-public", &ec2.RouteTableAssociationArgs{
		SubnetId:     subnet.ID(),
		RouteTableId: rt.ID(),
	}, parent); err != nil {
		return nil, nil, wrap("route table association", err)
	}

	return v, subnet, nil
}

// securityGroups makes the three roles' groups, all outbound traffic allowed, and the cluster's
// inbound policy (IngressRules), one rule per resource.
func (n *Network) securityGroups(ctx *pulumi.Context, name string, args *NetworkArgs, vpcID pulumi.IDInput, parent pulumi.ResourceOption) error {
	wrap := wrapper("network", name)
	for _, g := range []string{GroupHub, GroupWorker, GroupNfs} {
		sg, err := ec2.NewSecurityGroup(ctx, name+"-"+g, &ec2.SecurityGroupArgs{
			VpcId:       vpcID,
			Description: pulumi.String(fmt.Sprintf("camphub %s %s", ctx.Stack(), g)),
			Tags:        Tags(ctx, g, name+"-"+g),
		}, parent)
		if err != nil {
			return wrap(g+" security group", err)
		}
		n.SecurityGroupIDs[g] = sg.ID()
		// Machines fetch packages and images, so all outbound traffic is allowed.
		if _, err := vpc.NewSecurityGroupEgressRule(ctx, name+"-"+g+"-out", &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId: sg.ID(),
			IpProtocol:      pulumi.String("-1"),
			CidrIpv4:        pulumi.String("0.0.0.0/0"),
			Description:     pulumi.String("all outbound (packages, images)"),
		}, parent); err != nil {
			return wrap(g+" egress rule", err)
		}
	}
	admin := make([]string, len(args.AdminCidrs))
	for i, c := range args.AdminCidrs {
		admin[i] = c.String()
	}
	for _, r := range IngressRules(args.HubPort, admin) {
		ruleArgs := &vpc.SecurityGroupIngressRuleArgs{
			SecurityGroupId: n.SecurityGroupIDs[r.Group],
			IpProtocol:      pulumi.String(r.Protocol),
			Description:     pulumi.String(r.Description),
		}
		if r.Protocol == "tcp" || r.Protocol == "udp" {
			ruleArgs.FromPort, ruleArgs.ToPort = pulumi.Int(r.Port), pulumi.Int(r.Port)
		}
		if sg, ok := n.SecurityGroupIDs[r.Source]; ok {
			ruleArgs.ReferencedSecurityGroupId = sg
		} else {
			ruleArgs.CidrIpv4 = pulumi.String(r.Source)
		}
		ruleName := fmt.Sprintf("%s-%s-in-%s-%d-from-%s", name, r.Group, r.Protocol, r.Port, resourceSafe(r.Source))
		if _, err := vpc.NewSecurityGroupIngressRule(ctx, ruleName, ruleArgs, parent); err != nil {
			return wrap("ingress rule "+ruleName, err)
		}
	}

	return nil
}

// sshKey is the ED25519 key every machine is provisioned with, and its EC2 key pair.
func sshKey(ctx *pulumi.Context, name string, parent pulumi.ResourceOption) (*ec2.KeyPair, *tls.PrivateKey, error) {
	wrap := wrapper("network", name)
	key, err := tls.NewPrivateKey(ctx, name+"-ssh", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")}, parent)
	if err != nil {
		return nil, nil, wrap("SSH key", err)
	}
	kp, err := ec2.NewKeyPair(ctx, name+"-ssh", &ec2.KeyPairArgs{
		PublicKey: key.PublicKeyOpenssh,
		Tags:      Tags(ctx, "network", name+"-ssh"),
	}, parent)
	if err != nil {
		return nil, nil, wrap("EC2 key pair", err)
	}

	return kp, key, nil
}

// nthAddr is the address n after a.
func nthAddr(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// resourceSafe turns a CIDR into a part of a resource name.
func resourceSafe(s string) string {
	return strings.NewReplacer("/", "_", ":", "-", ".", "-").Replace(s)
}
