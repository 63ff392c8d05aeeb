package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
	"github.com/camphub/camphub/provision"
)

// dnsLabel is what a swarm service name must be: the hub and the proxy reach a notebook by it.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// TestEveryAcceptedAddressGetsAServiceName runs the rendered configuration's own escape
// function (as JupyterHub loads it) on addresses the config accepts, up to the longest: every
// one gives a service name that is a DNS label of at most 63 characters, no two collide, and a
// name short enough keeps dockerspawner's default escape (homes keep their names).
func TestEveryAcceptedAddressGetsAServiceName(t *testing.T) {
	emails := []string{
		"ada@example.org",
		"maria.fernandez-garcia@students.lincoln-high.org", // 68 characters as the default name
		strings.Repeat("a-", 32) + "@example.org",          // 64-character local part, all escapes
		longEmailWith(strings.Repeat("a.", 31)+"ab", 254),  // the longest address
		longEmailWith(strings.Repeat("a.", 31)+"ac", 254),  // differs only in its last local character
	}
	for i := range 20 {
		emails = append(emails, fmt.Sprintf("%s%02d@students.lincoln-high.org", strings.Repeat("q-", 20), i))
	}
	list, _ := json.Marshal(emails)
	if r := runProgram(t, "camp", stackConfig(t, "camp", map[string]string{"camphub:studentEmails": string(list)})); r.err != nil {
		t.Fatalf("the config refused the test's addresses: %v", r.err)
	}

	files, err := provision.RenderHub(provision.Hub{
		Stack: "camp", Port: 8443, PublicDNS: "ec2-203-0-113-10.us-west-2.compute.amazonaws.com",
		ClientID: "123-abc.apps.googleusercontent.com", NotebookImage: "quay.io/jupyter/scipy-notebook:2025-12-31",
		MemLimit: "4G", MemGuarantee: "2G", CPULimit: 2, CPUGuarantee: 0.5, IdleTimeoutMinutes: 60,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []struct{ Name, Escaped, Service, Default string }
	testtool.HubConfig(t, files.HubDirFiles(), map[string]any{"op": "escape", "names": emails}, &got)
	if len(got) != len(emails) {
		t.Fatalf("%d answers for %d addresses", len(got), len(emails))
	}
	seen := map[string]string{}
	for _, g := range got {
		if !dnsLabel.MatchString(g.Service) {
			t.Errorf("%s: service name %q (%d characters) is not a DNS label of at most 63", g.Name, g.Service, len(g.Service))
		}
		if other, dup := seen[g.Service]; dup {
			t.Errorf("%s and %s get the same service %q", other, g.Name, g.Service)
		}
		seen[g.Service] = g.Name
		if len(g.Default) <= provision.Layout.NameMax && g.Escaped != g.Default {
			t.Errorf("%s: escaped %q, want dockerspawner's default %q (it fits)", g.Name, g.Escaped, g.Default)
		}
		if g.Service != provision.Layout.ServicePrefix+"-"+g.Escaped {
			t.Errorf("%s: service %q is not %s-<escaped name>", g.Name, g.Service, provision.Layout.ServicePrefix)
		}
	}
	if long := got[1]; len(long.Default) <= provision.Layout.NameMax {
		t.Errorf("the test's long address %s does not need shortening (%d); the test proves nothing", long.Name, len(long.Default))
	}
}

// longEmailWith is local@<domain of 63-character labels>, n characters in all.
func longEmailWith(local string, n int) string {
	e := longEmail(n)
	return local + e[strings.IndexByte(e, '@'):]
}
