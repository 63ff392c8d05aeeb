package deploy

import (
	"testing"

	"github.com/camphub/camphub/components"
)

// TestTheRolesMayReadEveryAMIParameter: the deploy and the preview role may read each public AMI
// parameter the program asks for (the ECS-optimized and the plain Amazon Linux 2023, x86_64 and
// arm64), and no other parameter.
func TestTheRolesMayReadEveryAMIParameter(t *testing.T) {
	for _, path := range []string{"iam-policy.json", "iam-preview-policy.json"} {
		d := readPolicy(t, path)
		for kind, byArch := range components.AMIParameters {
			for arch, name := range byArch {
				if !allowed(d, newRequest("ssm:GetParameter", "arn:aws:ssm:us-west-2::parameter"+name, nil, nil)) {
					t.Errorf("%s does not let the program read %s (%s, %s)", path, name, kind, arch)
				}
			}
		}
		if allowed(d, newRequest("ssm:GetParameter", "arn:aws:ssm:us-west-2:123456789012:parameter/camp/db-password", nil, nil)) {
			t.Errorf("%s lets the role read the account's own parameters", path)
		}
	}
}
