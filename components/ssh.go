package components

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SSH is how Pulumi reaches the machines to provision them.
type SSH struct {
	PrivateKey pulumi.StringInput // OpenSSH private key, secret
	// JumpHost is the hub's public address; SSH reaches workers and the NFS server only through
	// it. Nil for steps that run on the hub itself.
	JumpHost pulumi.StringInput
	// JumpReady is what must exist before the jump host answers (the Elastic IP association).
	JumpReady pulumi.Resource
}

func (s SSH) connection(host pulumi.StringInput) *remote.ConnectionArgs {
	c := &remote.ConnectionArgs{
		Host:       host,
		User:       pulumi.String(SSHUser),
		PrivateKey: s.PrivateKey,
		// Machines may still be booting: keep dialling for about ten minutes.
		DialErrorLimit: pulumi.Int(40),
		PerDialTimeout: pulumi.Int(15),
	}
	if s.JumpHost != nil {
		c.Proxy = &remote.ProxyConnectionArgs{
			Host:           s.JumpHost,
			User:           pulumi.String(SSHUser),
			PrivateKey:     s.PrivateKey,
			DialErrorLimit: pulumi.Int(40),
			PerDialTimeout: pulumi.Int(15),
		}
	}
	return c
}

// step is one provisioning command run over SSH on a machine.
type step struct {
	host    pulumi.StringInput
	ssh     SSH
	script  pulumi.StringOutput   // the command line, from provision.Command; never secret
	stdin   pulumi.StringPtrInput // secrets travel here, and only here
	secret  bool                  // stdin carries secrets, or stdout does: log nothing, hide output
	machine pulumi.CustomResource // runs there (or, for hub-side steps, is deleted with it)
	after   []pulumi.Resource     // explicit ordering
	// extraTriggers re-run the step when something it reads from standard input changes.
	extraTriggers pulumi.Array
}

// digest is the hex SHA-256 of s.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newStep makes a remote command parented to its component. It runs again in place whenever
// its script or its machine changes (both are triggers), and is deleted with its machine.
func newStep(ctx *pulumi.Context, name string, s step, parent pulumi.Resource) (*remote.Command, error) {
	logging := remote.LoggingStdoutAndStderr
	opts := []pulumi.ResourceOption{
		pulumi.Parent(parent),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: "30m", Update: "30m"}),
	}
	opts = append(opts, pulumi.DeletedWith(s.machine))
	after := s.after
	if s.ssh.JumpReady != nil {
		after = append(after, s.ssh.JumpReady)
	}
	if len(after) > 0 {
		opts = append(opts, pulumi.DependsOn(after))
	}
	if s.secret {
		logging = remote.LoggingNone
		opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"stdout", "stderr"}))
	}
	scriptDigest := s.script.ApplyT(digest).(pulumi.StringOutput)
	return remote.NewCommand(ctx, name, &remote.CommandArgs{
		Connection: s.ssh.connection(s.host),
		Create:     s.script,
		Stdin:      s.stdin,
		Logging:    logging,
		Triggers:   append(pulumi.Array{s.machine.ID(), scriptDigest}, s.extraTriggers...),
	}, opts...)
}
