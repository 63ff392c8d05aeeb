package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/camphub/camphub/components"
	"github.com/camphub/camphub/internal/mocktest"
)

// TestPreflightStopsWhatWouldFailHalfWay: each problem AWS would only report in the middle of
// `pulumi up` is found before anything is made, naming the setting and the fix.
// students is a studentEmails list of n addresses.
func students(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"s` + string(rune('a'+i/26)) + string(rune('a'+i%26)) + `@example.org"`)
	}
	return b.String() + "]"
}

func TestPreflightStopsWhatWouldFailHalfWay(t *testing.T) {
	for name, tc := range map[string]struct {
		account   func(*mocktest.Mocks)
		overrides map[string]string
		want      []string
	}{
		"a new account's vCPU quota": {func(m *mocktest.Mocks) { m.Quotas[components.QuotaStandardVCPUs] = 16 }, nil, []string{
			"the stack needs 24 on-demand vCPUs", "quota \"Running On-Demand Standard instances\" (L-1216C47A) in us-west-2 is 16", "Request increase",
		}},
		"no Elastic IP allowed": {func(m *mocktest.Mocks) { m.Quotas[components.QuotaElasticIPs] = 0 }, nil, []string{
			"may hold no Elastic IP", "L-0263D0A3",
		}},
		"an instance type that does not exist": {nil, map[string]string{"camphub:workerInstanceType": "t3.4xlarge"}, []string{
			`camphub:workerInstanceType "t3.4xlarge" is not an instance type EC2 offers in us-west-2`,
		}},
		"an x86_64 machine among arm64 ones": {nil, map[string]string{"camphub:nfsInstanceType": "t3.small"}, []string{
			"the instance types mix architectures (arm64: camphub:hubInstanceType t4g.medium, camphub:workerInstanceType t4g.xlarge; x86_64: camphub:nfsInstanceType t3.small)",
		}},
		"a type missing in every zone": {func(m *mocktest.Mocks) {
			for z := range m.Offerings {
				m.Offerings[z] = []string{"t4g.medium", "t4g.small"}
			}
		}, nil, []string{"no availability zone of us-west-2 offers all of", "us-west-2a lacks t4g.xlarge"}},
		"a guarantee larger than a worker": {nil, map[string]string{"camphub:studentMemGuarantee": "20G", "camphub:studentMemLimit": "24G"}, []string{
			"camphub:studentMemGuarantee of 20 GiB", "do not fit one t4g.xlarge", "lower the guarantees",
		}},
		"seats below the roster": {nil, map[string]string{"camphub:workerCount": "1", "camphub:studentEmails": students(10)}, []string{
			"1 workers (t4g.xlarge) seat 7 students (7 each", "the roster has 11", "raise camphub:workerCount to 2",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			r := runProgramOn(t, tc.account, "camp", stackConfig(t, "camp", tc.overrides))
			if r.err == nil {
				t.Fatal("the stack was accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, r.err)
				}
			}
			for _, res := range r.mocks.Resources() {
				t.Errorf("%s %s was registered before the preflight failed", res.Type, res.Name)
			}
		})
	}
}

// TestPreflightPicksAZoneOfferingEverything: the subnet (and so every machine and volume) goes
// to the first zone that offers all the stack's types, not to whichever AWS would choose.
func TestPreflightPicksAZoneOfferingEverything(t *testing.T) {
	r := runProgramOn(t, func(m *mocktest.Mocks) {
		m.Offerings["us-west-2a"] = []string{"t4g.medium", "t4g.small"}
	}, "camp", stackConfig(t, "camp", nil))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if az := str(r.mocks.Named("aws:ec2/subnet:Subnet", "network-public"), "availabilityZone"); az != "us-west-2b" {
		t.Errorf("subnet in %q, want us-west-2b (us-west-2a lacks t4g.xlarge)", az)
	}
}

// TestSeatsAtTheBoundary: one t4g.xlarge worker seats 7 (2 GiB guaranteed each): a class of 7
// (6 students and the teacher) is accepted, a class of 8 is refused before anything is made;
// with two workers 14 fit and 15 do not. The dress rehearsal is told the same seats.
func TestSeatsAtTheBoundary(t *testing.T) {
	for _, tc := range []struct {
		workers, students int
		ok                bool
	}{{1, 6, true}, {1, 7, false}, {2, 13, true}, {2, 14, false}} {
		r := runProgramOn(t, nil, "camp", stackConfig(t, "camp", map[string]string{
			"camphub:workerCount": fmt.Sprint(tc.workers), "camphub:studentEmails": students(tc.students),
		}))
		if ok := r.err == nil; ok != tc.ok {
			t.Errorf("%d workers, %d students and a teacher: accepted %v, want %v (%v)", tc.workers, tc.students, ok, tc.ok, r.err)
		}
		if tc.ok {
			want := fmt.Sprintf("CAMPHUB_SEATS=%d camphub-smoke %d", 7*tc.workers, tc.students)
			if got := fmt.Sprint(r.outputs["dressRehearsalCommand"].V); !strings.Contains(got, want) {
				t.Errorf("the dress rehearsal is told %q; want %q", got, want)
			}
		}
	}
}
