// Package testtool finds the real tools camphub's tests check artifacts with. Outside CI a
// missing tool skips the test; under CI=true (set by .ci/run) it fails it, so nothing is skipped
// silently where it counts.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of a tool on PATH.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed; .ci/run must install it")
	}
	return p
}

// NeedRoot stops a test that needs root (loop devices, mounts, namespaces, Docker engines).
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "this test needs root (loop devices, mounts, namespaces, Docker engines)")
	}
}

// Missing fails the test in CI and skips it elsewhere.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
