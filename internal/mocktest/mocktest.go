// Package mocktest runs camphub's Pulumi program under pulumi.WithMocks and records what the
// program sent: every resource's inputs, parent, dependencies and options. Tests assert on
// those records, never on values the mock merely echoes back.
package mocktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// Resource is one registered resource as the program sent it.
type Resource struct {
	Type, Name, ID string
	Parent         string // URN of the parent
	Custom         bool
	Inputs         resource.PropertyMap
	Dependencies   []string
	RetainOnDelete bool
	Protect        bool
	IgnoreChanges  []string
	SecretOutputs  []string
	DeletedWith    string
	// DeleteBeforeReplace: a replacement deletes this first, then creates the new one.
	DeleteBeforeReplace bool
}

// Mocks records resources and answers the few invokes the program makes.
type Mocks struct {
	Region string
	// Quotas answers Service Quotas by code (defaults: 256 vCPUs, an account whose quota was
	// raised for the fifty-worker tests; 5 Elastic IPs, the default).
	Quotas map[string]float64
	// Volumes are the account's existing EBS volumes, by id (see Volume).
	Volumes map[string]Volume
	// Snapshots are the account's EBS snapshots, by id: the size of the volume each holds, GiB.
	Snapshots map[string]int
	// PricesUnavailable makes the Price List API refuse (a role without pricing:GetProducts).
	PricesUnavailable bool
	// AMIRootGiB overrides the root snapshot size DescribeImages answers for an AMI id (default:
	// 30 GiB for the ECS-optimized AMIs, 8 for the others); AMIArch its architecture (default:
	// the one its SSM parameter names, x86_64 for an id the SSM stand-in does not hand out).
	AMIRootGiB map[string]int
	AMIArch    map[string]string
	// Offerings answers, per availability zone, the instance types it offers (default: zones
	// a, b and c of the region offer every type of InstanceTypes).
	Offerings map[string][]string

	mu        sync.Mutex
	resources []*Resource
}

// New returns empty mocks for region.
func New(region string) *Mocks {
	all := make([]string, 0, len(InstanceTypes))
	for name := range InstanceTypes {
		all = append(all, name)
	}
	sort.Strings(all)
	return &Mocks{
		Region: region,
		Quotas: map[string]float64{"L-1216C47A": 256, "L-0263D0A3": 5},
		Offerings: map[string][]string{
			region + "a": all, region + "b": all, region + "c": all,
		},
	}
}

// Volume is what EC2's DescribeVolumes says of a volume.
type Volume struct {
	Zone      string
	SizeGiB   int
	Encrypted bool
}

// InstanceType is what EC2's DescribeInstanceTypes says of a type (the fields the program reads).
type InstanceType struct {
	VCPUs     int
	MemoryMiB int
	Arch      string
}

// InstanceTypes are real EC2 types with their published sizes; anything else does not exist.
var InstanceTypes = map[string]InstanceType{
	"t3.micro": {2, 1024, "x86_64"}, "t3.small": {2, 2048, "x86_64"}, "t3.medium": {2, 4096, "x86_64"},
	"t3.large": {2, 8192, "x86_64"}, "t3.xlarge": {4, 16384, "x86_64"}, "t3.2xlarge": {8, 32768, "x86_64"},
	"t3a.medium": {2, 4096, "x86_64"}, "t3a.xlarge": {4, 16384, "x86_64"}, "t3a.2xlarge": {8, 32768, "x86_64"},
	"m6i.large": {2, 8192, "x86_64"}, "m6i.xlarge": {4, 16384, "x86_64"}, "m6i.2xlarge": {8, 32768, "x86_64"},
	"r6i.xlarge": {4, 32768, "x86_64"}, "c6i.xlarge": {4, 8192, "x86_64"},
	"t4g.micro": {2, 1024, "arm64"}, "t4g.small": {2, 2048, "arm64"}, "t4g.medium": {2, 4096, "arm64"},
	"t4g.large": {2, 8192, "arm64"}, "t4g.xlarge": {4, 16384, "arm64"}, "t4g.2xlarge": {8, 32768, "arm64"},
	"a1.large": {2, 4096, "arm64"}, "m7g.large": {2, 8192, "arm64"},
	"mac2.metal": {12, 16384, "arm64_mac"},
}

// AMIs are what the mocked SSM answers for each public AMI parameter AWS publishes that camphub
// may read (docs/upstream.md A1: the ECS-optimized and the plain Amazon Linux 2023, for x86_64
// and arm64); any other name is refused as SSM refuses an unknown parameter.
var AMIs = map[string]string{
	"/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id":       "ami-0ec5000000000x860",
	"/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id": "ami-0ec5000000000a640",
	"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64":       "ami-0a12023000000x860",
	"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64":        "ami-0a12023000000a640",
}

// AccountID is the mocked AWS account.
const AccountID = "123456789012"

// HubPrivateIP is the hub instance's mocked private address.
const HubPrivateIP = "10.42.0.21"

// HubIP is the mocked Elastic IP.
const HubIP = "203.0.113.10"

// HubDNS is the mocked Elastic IP's public DNS name.
func (m *Mocks) HubDNS() string {
	return fmt.Sprintf("ec2-%s.%s.compute.amazonaws.com", strings.ReplaceAll(HubIP, ".", "-"), m.Region)
}

// NewResource records the registration and computes the outputs AWS would.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Dependencies = rpc.GetDependencies()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.Protect = rpc.GetProtect()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.SecretOutputs = rpc.GetAdditionalSecretOutputs()
		r.DeletedWith = rpc.GetDeletedWith()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
	}
	m.resources = append(m.resources, r)

	state := args.Inputs.Copy()
	set := func(k string, v any) { state[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	id := args.Name + "-id"
	switch args.TypeToken {
	case "aws:ec2/instance:Instance":
		// Addresses and ids follow from the name, so two runs of the program agree.
		n := 0
		switch {
		case args.Name == "hub":
			n = 1
		case args.Name == "nfs":
			n = 2
		default:
			_, _ = fmt.Sscanf(args.Name[strings.LastIndexByte(args.Name, '-')+1:], "%d", &n)
			n += 10
		}
		// AWS picks addresses outside the subnet's explicit reservations; a pinned one is kept.
		set("privateIp", fmt.Sprintf("10.42.%d.%d", 2+n/200, 10+n%200))
		if ip, ok := args.Inputs["privateIp"]; ok && ip.IsString() {
			state["privateIp"] = ip
		}
		set("publicIp", fmt.Sprintf("198.51.100.%d", n%250))
		id = fmt.Sprintf("i-%017x", n)
		set("arn", fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", m.Region, AccountID, id))
	case "aws:ec2/eip:Eip":
		set("publicIp", HubIP)
		set("publicDns", m.HubDNS())
		set("allocationId", "eipalloc-0123456789")
	case "aws:ec2/subnet:Subnet":
		set("availabilityZone", m.Region+"a")
	case "aws:ec2/keyPair:KeyPair":
		set("keyName", args.Name+"-key")
	case "aws:ebs/volume:Volume":
		id = "vol-0123456789abcdef0" // the students' data
		if args.Name != "nfs-data" {
			id = "vol-0fedcba9876543210"
		}
	case "aws:iam/role:Role":
		set("arn", "arn:aws:iam::123456789012:role/"+args.Name)
		set("name", args.Name)
	case "tls:index/privateKey:PrivateKey":
		set("privateKeyOpenssh", PrivateKeySentinel)
		set("privateKeyPem", PrivateKeySentinel)
		set("publicKeyOpenssh", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockPublicKey camphub")
	case "command:remote:Command":
		// The hub bootstrap prints the swarm's join token; everything else prints nothing.
		if strings.HasSuffix(args.Name, "-bootstrap") {
			set("stdout", JoinTokenSentinel+"\n")
		} else {
			set("stdout", "")
		}
		set("stderr", "")
	case "tls:index/selfSignedCert:SelfSignedCert":
		set("certPem", "-----BEGIN CERTIFICATE-----\nMIIBmockcert\n-----END CERTIFICATE-----\n")
	}
	r.ID = id
	for _, k := range r.SecretOutputs {
		if v, ok := state[resource.PropertyKey(k)]; ok && !v.IsSecret() {
			state[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	return id, state, nil
}

// PrivateKeySentinel is the mocked private key material; it must only ever travel as a secret.
const PrivateKeySentinel = "-----BEGIN PRIVATE KEY----- SENTINEL-PRIVATE-KEY-7f3a -----END PRIVATE KEY-----"

// JoinTokenSentinel is the mocked swarm join token; it must only ever travel as a secret.
const JoinTokenSentinel = "SWMTKN-1-SENTINEL-join-token-0b7e"

// Call answers invokes.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:ssm/getParameter:getParameter":
		name := args.Args["name"].StringValue()
		ami, ok := AMIs[name]
		if !ok {
			return nil, fmt.Errorf("ParameterNotFound: %s", name)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"arn": "arn:aws:ssm:" + m.Region + "::parameter" + name, "id": name, "name": name,
			"type": "String", "value": ami, "insecureValue": ami, "version": 1,
		}), nil
	case "aws:ec2/getAmi:getAmi":
		return m.ami(filterValue(args, "image-id")), nil
	case "aws:ebs/getVolume:getVolume":
		id := filterValue(args, "volume-id")
		v, ok := m.Volumes[id]
		if !ok {
			return nil, fmt.Errorf("your query returned no results (volume %s)", id)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": id, "volumeId": id, "availabilityZone": v.Zone, "size": v.SizeGiB, "encrypted": v.Encrypted, "volumeType": "gp3",
		}), nil
	case "aws:ebs/getSnapshot:getSnapshot":
		id := args.Args["snapshotIds"].ArrayValue()[0].StringValue()
		size, ok := m.Snapshots[id]
		if !ok {
			return nil, fmt.Errorf("your query returned no results (snapshot %s)", id)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"id": id, "snapshotId": id, "volumeSize": size, "encrypted": true}), nil
	case "aws:pricing/getProduct:getProduct":
		return m.price(args)
	case "aws:index/getCallerIdentity:getCallerIdentity":
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": AccountID, "accountId": AccountID, "arn": "arn:aws:iam::" + AccountID + ":user/operator", "userId": "AIDAMOCK",
		}), nil
	case "aws:ec2/getInstanceType:getInstanceType":
		name := args.Args["instanceType"].StringValue()
		it, ok := InstanceTypes[name]
		if !ok {
			return nil, fmt.Errorf("reading EC2 Instance Type (%s): couldn't find resource", name)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": name, "instanceType": name, "defaultVcpus": it.VCPUs, "memorySize": it.MemoryMiB,
			"supportedArchitectures": []any{it.Arch},
		}), nil
	case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
		var want []string
		for _, f := range args.Args["filters"].ArrayValue() {
			if f.ObjectValue()["name"].StringValue() == "instance-type" {
				for _, v := range f.ObjectValue()["values"].ArrayValue() {
					want = append(want, v.StringValue())
				}
			}
		}
		var types, zones []any
		for zone, offered := range m.Offerings {
			for _, t := range offered {
				if slices.Contains(want, t) {
					types, zones = append(types, t), append(zones, zone)
				}
			}
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": m.Region, "instanceTypes": types, "locations": zones, "locationTypes": zones,
		}), nil
	case "aws:servicequotas/getServiceQuota:getServiceQuota":
		code := args.Args["quotaCode"].StringValue()
		v, ok := m.Quotas[code]
		if !ok {
			return nil, fmt.Errorf("getting Service Quota (%s): NoSuchResourceException", code)
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": code, "quotaCode": code, "serviceCode": "ec2", "value": v, "defaultValue": v,
		}), nil
	}
	return nil, fmt.Errorf("mocktest: unexpected invoke %s", args.Token)
}

// filterValue is the first value of an invoke's filter called name ("" without one).
func filterValue(args pulumi.MockCallArgs, name string) string {
	for _, f := range args.Args["filters"].ArrayValue() {
		if f.ObjectValue()["name"].StringValue() == name {
			return f.ObjectValue()["values"].ArrayValue()[0].StringValue()
		}
	}
	return ""
}

// ami answers DescribeImages for id: the ECS-optimized AMIs' root snapshot is 30 GiB, the
// others' 8 (Amazon Linux 2023's); the architecture is the one its SSM parameter names (x86_64
// for an id the SSM stand-in does not hand out); AMIRootGiB and AMIArch override both. What this
// hides: the real snapshot size (docs/upstream.md A2), read from DescribeImages on every deploy.
func (m *Mocks) ami(id string) resource.PropertyMap {
	root, arch := 8, "x86_64"
	for name, ami := range AMIs {
		if ami == id {
			if strings.Contains(name, "/ecs/") {
				root = 30
			}
			if strings.Contains(name, "arm64") {
				arch = "arm64"
			}
		}
	}
	if v, ok := m.AMIRootGiB[id]; ok {
		root = v
	}
	if v, ok := m.AMIArch[id]; ok {
		arch = v
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"id": id, "imageId": id, "architecture": arch, "rootDeviceName": "/dev/xvda",
		"blockDeviceMappings": []any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{"volume_size": strconv.Itoa(root)}}},
	})
}

// Prices are on-demand us-west-2 list prices seen in a public catalog (docs/upstream.md, "Prices"), per hour
// by instance type and per GB-month for gp3, which the mocked Price List API answers with.
var Prices = map[string]float64{
	"t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832,
	"t3.xlarge": 0.1664, "t3.2xlarge": 0.3328, "t3a.medium": 0.0376, "t3a.xlarge": 0.1504,
	"t3a.2xlarge": 0.3008, "m6i.large": 0.096, "m6i.xlarge": 0.192, "gp3": 0.08,
	"t4g.micro": 0.0084, "t4g.small": 0.0168, "t4g.medium": 0.0336, "t4g.large": 0.0672,
	"t4g.xlarge": 0.1344, "t4g.2xlarge": 0.2688,
}

// price answers pricing.GetProduct with a product document shaped like the Price List API's.
func (m *Mocks) price(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.PricesUnavailable {
		return nil, fmt.Errorf("AccessDeniedException: not authorized to perform: pricing:GetProducts")
	}
	filters := map[string]string{}
	for _, f := range args.Args["filters"].ArrayValue() {
		filters[f.ObjectValue()["field"].StringValue()] = f.ObjectValue()["value"].StringValue()
	}
	key, unit := filters["instanceType"], "Hrs"
	if filters["volumeApiName"] == "gp3" {
		key, unit = "gp3", "GB-Mo"
	}
	p, ok := Prices[key]
	if !ok || filters["regionCode"] != m.Region {
		return nil, fmt.Errorf("no product matches the filters %v", filters)
	}
	doc := fmt.Sprintf(`{"product":{"sku":"MOCKSKU"},"terms":{"OnDemand":{"MOCKSKU.JRTCKXETXF":{"priceDimensions":{"MOCKSKU.JRTCKXETXF.6YS6EN2CT7":{"unit":%q,"pricePerUnit":{"USD":"%.10f"}}}}}}}`, unit, p)
	return resource.NewPropertyMapFromMap(map[string]any{"id": key, "serviceCode": args.Args["serviceCode"].StringValue(), "result": doc}), nil
}

// Resources returns what was registered, in registration order.
func (m *Mocks) Resources() []*Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Resource(nil), m.resources...)
}

// OfType returns the registered resources of one type token, sorted by name.
func (m *Mocks) OfType(token string) []*Resource {
	var out []*Resource
	for _, r := range m.Resources() {
		if r.Type == token {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Named returns the resource of a type and name, or nil.
func (m *Mocks) Named(token, name string) *Resource {
	for _, r := range m.Resources() {
		if r.Type == token && r.Name == name {
			return r
		}
	}
	return nil
}

// ParentType is the type token of the resource's parent ("" for the stack itself).
func (r *Resource) ParentType() string {
	u := resource.URN(r.Parent)
	if !u.IsValid() || u.QualifiedType() == resource.RootStackType {
		return ""
	}
	return string(u.Type())
}

// ParentName is the name of the resource's parent.
func (r *Resource) ParentName() string {
	u := resource.URN(r.Parent)
	if !u.IsValid() {
		return ""
	}
	return u.Name()
}

// StackConfig is what the Pulumi CLI hands the program for a stack: Pulumi.yaml's defaults
// overlaid by Pulumi.<stack>.yaml, keys fully qualified, lists as JSON.
func StackConfig(dir, stack string) (map[string]string, error) {
	var project struct {
		Name   string `yaml:"name"`
		Config map[string]struct {
			Default any  `yaml:"default"`
			Secret  bool `yaml:"secret"`
		} `yaml:"config"`
	}
	if err := readYAML(filepath.Join(dir, "Pulumi.yaml"), &project); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range project.Config {
		if v.Default == nil {
			continue
		}
		s, err := configString(v.Default)
		if err != nil {
			return nil, fmt.Errorf("default of %s in Pulumi.yaml: %w", k, err)
		}
		out[project.Name+":"+k] = s
	}
	var st struct {
		Config map[string]any `yaml:"config"`
	}
	if err := readYAML(filepath.Join(dir, "Pulumi."+stack+".yaml"), &st); err != nil {
		return nil, err
	}
	for k, v := range st.Config {
		s, err := configString(v)
		if err != nil {
			return nil, fmt.Errorf("%s in Pulumi.%s.yaml: %w", k, stack, err)
		}
		out[k] = s
	}
	return out, nil
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func configString(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case []any, map[string]any:
		b, err := json.Marshal(t)
		return string(b), err
	default:
		return fmt.Sprint(t), nil
	}
}

// WithConfig sets the stack configuration and which keys are secret.
func WithConfig(cfg map[string]string, secretKeys ...string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = cfg
		info.ConfigSecretKeys = secretKeys
	}
}
