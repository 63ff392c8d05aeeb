package main

import (
	"maps"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/camphub/camphub/internal/mocktest"
)

// OAuthSecretSentinel stands for the Google client secret; it must only ever travel as a secret.
const OAuthSecretSentinel = "GOCSPX-SENTINEL-oauth-secret-51d2"

// site holds the per-operator settings that the shipped stack files deliberately leave out.
func site() map[string]string {
	return map[string]string{
		"camphub:adminCidrs":        `["198.51.100.0/24","203.0.113.7/32"]`,
		"camphub:oauthClientId":     "123456789012-abcdefghijklmnop.apps.googleusercontent.com",
		"camphub:oauthClientSecret": OAuthSecretSentinel,
		"camphub:adminEmails":       `["teacher@example.org"]`,
		"camphub:studentEmails":     `["ada@example.org","grace@example.net","alan.t@example.com"]`,
	}
}

// stackConfig is what the CLI would hand the program for a shipped stack, plus site settings
// and overrides (an override of "" deletes the key).
func stackConfig(t testing.TB, stack string, overrides map[string]string) map[string]string {
	t.Helper()
	cfg, err := mocktest.StackConfig(".", stack)
	if err != nil {
		t.Fatalf("loading the shipped %s stack: %v", stack, err)
	}
	maps.Copy(cfg, site())
	for k, v := range overrides {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

// run is one `pulumi up` of the whole program against the mocks.
type run struct {
	mocks   *mocktest.Mocks
	outputs map[string]mocktest.Value
	err     error
}

func runProgram(t testing.TB, stack string, cfg map[string]string, secretKeys ...string) run {
	t.Helper()
	return runProgramOn(t, nil, stack, cfg, secretKeys...)
}

// runProgramOn runs the program with mocks adjusted by account (quotas, offerings) first.
func runProgramOn(t testing.TB, account func(*mocktest.Mocks), stack string, cfg map[string]string, secretKeys ...string) run {
	t.Helper()
	if secretKeys == nil {
		secretKeys = []string{"camphub:oauthClientSecret"}
	}
	region := cfg["aws:region"]
	if region == "" {
		region = "us-west-2"
	}
	r := run{mocks: mocktest.New(region), outputs: map[string]mocktest.Value{}}
	if account != nil {
		account(r.mocks)
	}
	r.err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		outs, err := program(ctx, slices.Sorted(maps.Keys(cfg)))
		if err != nil {
			return err
		}
		for k, v := range outs {
			r.outputs[k] = mocktest.Await(v)
		}
		return nil
	}, pulumi.WithMocks("camphub", stack, r.mocks), mocktest.WithConfig(cfg, secretKeys...))
	return r
}

// deployStack runs a shipped stack and fails the test if the program fails.
func deployStack(t testing.TB, stack string, overrides map[string]string) run {
	t.Helper()
	r := runProgram(t, stack, stackConfig(t, stack, overrides))
	if r.err != nil {
		t.Fatalf("%s: program failed: %v", stack, r.err)
	}
	return r
}
