package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/internal/mocktest"
	"github.com/camphub/camphub/provision"
)

const (
	tInstance   = "aws:ec2/instance:Instance"
	tIngress    = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tEgress     = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	tSG         = "aws:ec2/securityGroup:SecurityGroup"
	tVolume     = "aws:ebs/volume:Volume"
	tAttachment = "aws:ec2/volumeAttachment:VolumeAttachment"
	tCert       = "tls:index/selfSignedCert:SelfSignedCert"
	tDLM        = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
)

func str(r *mocktest.Resource, key string) string {
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok {
		return ""
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return fmt.Sprint(v.V)
}

func TestShippedStacksDeploy(t *testing.T) {
	for _, tc := range []struct {
		stack   string
		workers int
	}{{"dev", 1}, {"camp", 5}} {
		t.Run(tc.stack, func(t *testing.T) {
			r := deployStack(t, tc.stack, nil)
			counts := map[string]int{}
			for _, res := range r.mocks.Resources() {
				counts[res.Type]++
			}
			want := map[string]int{
				"camphub:index:Network":    1,
				"camphub:index:Hub":        1,
				"camphub:index:NfsServer":  1,
				"camphub:index:WorkerPool": 1,
				tInstance:                  2 + tc.workers,
				"aws:ec2/vpc:Vpc":          1,
				"aws:ec2/subnet:Subnet":    1,
				tSG:                        3,
				tEgress:                    3,
				tIngress:                   20, // 1 hub port + 2 admin SSH + 17 cluster rules
				"aws:ec2/eip:Eip":          1,
				tVolume:                    2, // students' data, the hub's state
				tAttachment:                2,
				tCert:                      1,
				tDLM:                       1,
				"aws:ec2/keyPair:KeyPair":  1,
			}
			for typ, n := range want {
				if counts[typ] != n {
					t.Errorf("%s: %d of %s, want %d", tc.stack, counts[typ], typ, n)
				}
			}
			var names []string
			for _, w := range r.mocks.OfType(tInstance) {
				names = append(names, w.Name)
			}
			wantNames := []string{"hub", "nfs"}
			for i := range tc.workers {
				wantNames = append(wantNames, fmt.Sprintf("worker-%02d", i))
			}
			sort.Strings(wantNames)
			if !slices.Equal(names, wantNames) {
				t.Errorf("instances %v, want %v", names, wantNames)
			}

			dns := r.mocks.HubDNS()
			for key, want := range map[string]string{
				"hubUrl":                "https://" + dns + ":8443",
				"oauthCallbackUrl":      "https://" + dns + ":8443/hub/oauth_callback",
				"oauthJavascriptOrigin": "https://" + dns + ":8443",
				"hubPublicDns":          dns,
				"hubPublicIp":           mocktest.HubIP,
				"sshUser":               "ec2-user",
			} {
				if got := r.outputs[key]; got.V != want || got.Secret {
					t.Errorf("output %s = %v (secret %v), want plain %q", key, got.V, got.Secret, want)
				}
			}
			if cmd, _ := r.outputs["sshCommand"].V.(string); !strings.Contains(cmd, "ec2-user@"+dns) || !strings.Contains(cmd, "chmod 600") {
				t.Errorf("sshCommand %q does not ssh to ec2-user@%s with a private key file", cmd, dns)
			}
			if ips, _ := r.outputs["workerPrivateIps"].V.([]string); len(ips) != tc.workers {
				t.Errorf("workerPrivateIps %v, want %d addresses", r.outputs["workerPrivateIps"].V, tc.workers)
			}
			if ip, _ := r.outputs["nfsPrivateIp"].V.(string); !strings.HasPrefix(ip, "10.") {
				t.Errorf("nfsPrivateIp = %q", ip)
			}
		})
	}
}

// sgNames maps a security group's id to its role, from what the program registered.
func sgNames(m *mocktest.Mocks) map[string]string {
	out := map[string]string{}
	for _, sg := range m.OfType(tSG) {
		out[sg.Name+"-id"] = strings.TrimPrefix(sg.Name, "network-")
	}
	return out
}

func TestIngressIsExactlyThePolicy(t *testing.T) {
	r := deployStack(t, "camp", map[string]string{"camphub:hubPort": "9443"})
	groups := sgNames(r.mocks)
	var got []string
	for _, rule := range r.mocks.OfType(tIngress) {
		from := str(rule, "cidrIpv4") + str(rule, "cidrIpv6")
		if ref := str(rule, "referencedSecurityGroupId"); ref != "" {
			from = "sg:" + groups[ref]
		}
		if str(rule, "fromPort") != str(rule, "toPort") {
			t.Errorf("rule %s opens a port range %s-%s", rule.Name, str(rule, "fromPort"), str(rule, "toPort"))
		}
		what := str(rule, "fromPort") + "/" + str(rule, "ipProtocol")
		switch proto := str(rule, "ipProtocol"); proto {
		case "tcp", "udp":
		case "50":
			what = "esp"
			if _, hasPort := rule.Inputs["fromPort"]; hasPort {
				t.Errorf("ESP rule %s names a port", rule.Name)
			}
		default:
			t.Errorf("rule %s admits protocol %q", rule.Name, proto)
		}
		got = append(got, fmt.Sprintf("%s %s from %s", groups[str(rule, "securityGroupId")], what, from))
	}
	want := []string{
		"hub 9443/tcp from 0.0.0.0/0",
		"hub 22/tcp from 198.51.100.0/24",
		"hub 22/tcp from 203.0.113.7/32",
		"hub 2377/tcp from sg:worker",
		"hub 7946/tcp from sg:worker",
		"hub 7946/udp from sg:worker",
		"hub 4789/udp from sg:worker",
		"hub esp from sg:worker",
		"worker 22/tcp from sg:hub",
		"worker 7946/tcp from sg:hub",
		"worker 7946/udp from sg:hub",
		"worker 4789/udp from sg:hub",
		"worker esp from sg:hub",
		"worker 7946/tcp from sg:worker",
		"worker 7946/udp from sg:worker",
		"worker 4789/udp from sg:worker",
		"worker esp from sg:worker",
		"nfs 22/tcp from sg:hub",
		"nfs 2049/tcp from sg:hub",
		"nfs 2049/tcp from sg:worker",
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("ingress rules differ from the policy\n got: %q\nwant: %q", got, want)
	}
	for _, s := range got {
		if strings.Contains(s, "0.0.0.0/0") && !strings.HasPrefix(s, "hub 9443/tcp") {
			t.Errorf("world-open rule other than the hub port: %s", s)
		}
	}
	// No inline rules that would bypass the table above.
	for _, sg := range r.mocks.OfType(tSG) {
		if v, ok := sg.Inputs["ingress"]; ok && v.IsArray() && len(v.ArrayValue()) > 0 {
			t.Errorf("security group %s has inline ingress rules", sg.Name)
		}
	}
}

func TestEveryResourceHangsUnderItsComponent(t *testing.T) {
	r := deployStack(t, "dev", nil)
	for _, res := range r.mocks.Resources() {
		if strings.HasPrefix(res.Type, "pulumi:providers:") {
			continue // the Price List API's us-east-1 provider belongs to the stack
		}
		if !res.Custom {
			if res.ParentType() != "" {
				t.Errorf("component %s %s is nested under %s", res.Type, res.Name, res.ParentType())
			}
			continue
		}
		component := strings.SplitN(res.Name, "-", 2)[0]
		want := map[string]string{
			"network": "camphub:index:Network", "hub": "camphub:index:Hub",
			"nfs": "camphub:index:NfsServer", "worker": "camphub:index:WorkerPool",
		}[component]
		if want == "" || res.ParentType() != want || res.ParentName() != component {
			t.Errorf("%s %s: parent %s %s, want %s %s", res.Type, res.Name, res.ParentType(), res.ParentName(), want, component)
		}
	}
}

func TestInstancesAreHardened(t *testing.T) {
	r := deployStack(t, "camp", nil)
	for _, inst := range r.mocks.OfType(tInstance) {
		md := inst.Inputs["metadataOptions"].ObjectValue()
		if md["httpTokens"].StringValue() != "required" || md["httpPutResponseHopLimit"].NumberValue() != 1 {
			t.Errorf("%s: metadata options %v, want IMDSv2 required with hop limit 1", inst.Name, md)
		}
		root := inst.Inputs["rootBlockDevice"].ObjectValue()
		if !root["encrypted"].BoolValue() || root["volumeType"].StringValue() != "gp3" {
			t.Errorf("%s: root volume %v, want encrypted gp3", inst.Name, root)
		}
		// The camp stack runs arm64: the hub and workers boot the ECS-optimized AMI (Docker
		// included), the NFS server plain Amazon Linux 2023 (TestEachRoleBootsItsAMI).
		want := mocktest.AMIs[components.AMIParameters[provision.RoleKind(role(inst.Name), provision.AMIECS)][components.ArchArm]]
		if str(inst, "ami") != want {
			t.Errorf("%s: ami %q, want %q", inst.Name, str(inst, "ami"), want)
		}
		// A newer AMI release or an edited cloud-init must not replace a machine: hub state and
		// the NFS exports live on them, and a worker replacement mid-class kills notebooks.
		if !slices.Contains(inst.IgnoreChanges, "ami") || !slices.Contains(inst.IgnoreChanges, "userData") {
			t.Errorf("%s: ignoreChanges %v, want ami and userData", inst.Name, inst.IgnoreChanges)
		}
		tags := inst.Inputs["tags"].ObjectValue()
		role := role(inst.Name)
		if tags["Project"].StringValue() != "camphub" || tags["Stack"].StringValue() != "camp" || tags["Role"].StringValue() != role {
			t.Errorf("%s: tags %v, want Project/Stack/Role", inst.Name, tags)
		}
		ud := str(inst, "userData")
		if !strings.HasPrefix(ud, "#cloud-config\n") {
			t.Errorf("%s: user data is not a cloud-config: %.40q", inst.Name, ud)
		}
	}
}

func TestInstanceTypesFollowConfig(t *testing.T) {
	r := deployStack(t, "camp", nil)
	for name, want := range map[string]string{"hub": "t4g.medium", "nfs": "t4g.small", "worker-04": "t4g.xlarge"} {
		if got := str(r.mocks.Named(tInstance, name), "instanceType"); got != want {
			t.Errorf("%s instance type %q, want %q", name, got, want)
		}
	}
	pinned := deployStack(t, "dev", map[string]string{"camphub:amiId": "ami-0fedcba9876543210"})
	for _, inst := range pinned.mocks.OfType(tInstance) {
		if str(inst, "ami") != "ami-0fedcba9876543210" {
			t.Errorf("%s ignores the pinned AMI: %q", inst.Name, str(inst, "ami"))
		}
	}
}

func TestStudentDataVolumeSurvives(t *testing.T) {
	for _, tc := range []struct {
		stack     string
		overrides map[string]string
		retain    bool
		size      float64
	}{
		{"camp", nil, true, 100},
		{"camp", map[string]string{"camphub:nfsRetainVolumeOnDestroy": "false"}, false, 100},
		{"dev", nil, false, 10},
	} {
		r := deployStack(t, tc.stack, tc.overrides)
		vol := r.mocks.Named(tVolume, "nfs-data")
		if vol == nil {
			t.Fatalf("%s: no data volume", tc.stack)
		}
		if !vol.Inputs["encrypted"].BoolValue() || str(vol, "type") != "gp3" || vol.Inputs["size"].NumberValue() != tc.size {
			t.Errorf("%s: data volume %v, want encrypted gp3 of %v GiB", tc.stack, vol.Inputs, tc.size)
		}
		if !vol.Inputs["finalSnapshot"].BoolValue() {
			t.Errorf("%s: data volume is deleted without a final snapshot", tc.stack)
		}
		if vol.RetainOnDelete != tc.retain {
			t.Errorf("%s %v: retainOnDelete %v, want %v", tc.stack, tc.overrides, vol.RetainOnDelete, tc.retain)
		}
		// The volume must not depend on the instance: replacing the NFS machine must leave it be.
		for _, dep := range vol.Dependencies {
			if strings.Contains(dep, "Instance") {
				t.Errorf("%s: data volume depends on %s; an instance replacement would replace it", tc.stack, dep)
			}
		}
		if str(vol, "availabilityZone") != "us-west-2a" {
			t.Errorf("%s: data volume AZ %q, want the subnet's", tc.stack, str(vol, "availabilityZone"))
		}
		att := r.mocks.Named(tAttachment, "nfs-data")
		if str(att, "volumeId") != "vol-0123456789abcdef0" || !att.Inputs["stopInstanceBeforeDetaching"].BoolValue() {
			t.Errorf("%s: attachment %v, want the data volume detached only from a stopped instance", tc.stack, att.Inputs)
		}
		policy := r.mocks.OfType(tDLM)[0].Inputs["policyDetails"].ObjectValue()
		target := policy["targetTags"].ObjectValue()["camphub-snapshots"].StringValue()
		if vol.Inputs["tags"].ObjectValue()["camphub-snapshots"].StringValue() != target || target != "camphub-"+tc.stack {
			t.Errorf("%s: snapshot policy targets %q, which is not the data volume's tag", tc.stack, target)
		}
	}
}

func TestCertificateCoversTheHubName(t *testing.T) {
	r := deployStack(t, "camp", nil)
	cert := r.mocks.OfType(tCert)[0]
	dns := cert.Inputs["dnsNames"].ArrayValue()
	ips := cert.Inputs["ipAddresses"].ArrayValue()
	if len(dns) != 1 || dns[0].StringValue() != r.mocks.HubDNS() || len(ips) != 1 || ips[0].StringValue() != mocktest.HubIP {
		t.Errorf("certificate SANs %v %v, want the Elastic IP's DNS name and address", dns, ips)
	}
	if h := cert.Inputs["validityPeriodHours"].NumberValue(); h < 365*24 {
		t.Errorf("certificate valid %v hours, want at least a year", h)
	}
}

func TestSecretsStaySecret(t *testing.T) {
	r := deployStack(t, "camp", nil)
	for _, res := range r.mocks.Resources() {
		for _, needle := range []string{OAuthSecretSentinel, mocktest.PrivateKeySentinel} {
			if where := res.PlainContains(needle); len(where) > 0 {
				t.Errorf("%s %s carries a secret in plain inputs at %v", res.Type, res.Name, where)
			}
		}
	}
	for _, inst := range r.mocks.OfType(tInstance) {
		if ud := str(inst, "userData"); strings.Contains(ud, OAuthSecretSentinel) || strings.Contains(ud, "PRIVATE KEY") {
			t.Errorf("%s: user data holds a secret", inst.Name)
		}
	}
	for k, v := range r.outputs {
		s := fmt.Sprint(v.V)
		leaks := strings.Contains(s, OAuthSecretSentinel) || strings.Contains(s, mocktest.PrivateKeySentinel)
		if leaks && !v.Secret {
			t.Errorf("stack output %s exposes a secret in plain text", k)
		}
	}
	if key := r.outputs["sshPrivateKey"]; !key.Secret || key.V != mocktest.PrivateKeySentinel {
		t.Errorf("sshPrivateKey output: secret=%v value=%v, want the key, as a secret", key.Secret, key.V)
	}
}
