package provision

// The image steps (worker-image, hub-image) and the architecture of the machine they run on,
// with a stand-in docker: this machine has no registry to pull from. The stand-in answers as
// Docker does (docs/upstream.md P2): a pull for a platform the image is not published for fails
// with "no matching manifest for linux/arm64/v8 in the manifest list entries", and
// `docker image inspect -f {{.Os}}/{{.Architecture}}` tells what was pulled. What it hides: the
// registry and the real engine's pull; on AWS every worker-image and hub-image step pulls for
// real, on the machine's own architecture.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const imageStubDocker = `#!/bin/bash
# A stand-in for docker: STUB_PUBLISHED lists the platforms the image is published for;
# STUB_PULLED what "docker image inspect" finds (default: the platform pulled); STUB_SIZE its size.
log=$STUB_DIR/calls
echo "docker $*" >>"$log"
case $1 in
  pull)
    platform=$4
    case " $STUB_PUBLISHED " in
      *" $platform "*) echo "$platform" >"$STUB_DIR/pulled"; exit 0 ;;
    esac
    echo "Error response from daemon: no matching manifest for ${platform}/v8 in the manifest list entries" >&2
    exit 1 ;;
  image)
    if [ ! -f "$STUB_DIR/pulled" ] && [ -z "${STUB_PULLED:-}" ]; then
      echo "Error: No such image: $5" >&2; exit 1
    fi
    case $4 in
      *Size*) echo "${STUB_SIZE:-5368709120}" ;;
      *) echo "${STUB_PULLED:-$(cat "$STUB_DIR/pulled")}" ;;
    esac ;;
  *) exit 0 ;;
esac
`

// runImageStep runs script on a machine whose `uname -m` is machine, with the stand-in docker.
func runImageStep(t *testing.T, script, machine string, env ...string) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"docker": imageStubDocker, "uname": "#!/bin/sh\necho " + machine + "\n",
		"rpm": "#!/bin/sh\nexit 0\n", "systemctl": "#!/bin/sh\nexit 0\n", "sleep": "#!/bin/sh\nexit 0\n",
		"cloud-init": "#!/bin/sh\nexit 0\n", "install": "#!/bin/sh\nexit 0\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tool(t, "bash"), writeTemp(t, "step.sh", script))
	cmd.Env = append(os.Environ(), append([]string{"PATH=" + dir + ":" + os.Getenv("PATH"), "STUB_DIR=" + dir}, env...)...)
	out, err := cmd.CombinedOutput()
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return string(out), string(calls), err
}

// TestTheImageStepNamesTheImageAndTheArchitecture: an image not published for the worker's
// architecture stops the step at once (no retries), naming the image and the architecture; so
// does an image that arrives for another one; an image for the right one passes, saying how long
// the pull took.
func TestTheImageStepNamesTheImageAndTheArchitecture(t *testing.T) {
	const image = "quay.io/example/amd64-only:1"
	script, err := WorkerImageScript("camp", image)
	if err != nil {
		t.Fatal(err)
	}
	out, calls, err := runImageStep(t, script, "aarch64", "STUB_PUBLISHED=linux/amd64")
	if err == nil || !strings.Contains(out, image+" is not published for arm64 (linux/arm64), the architecture of this machine") {
		t.Errorf("an amd64-only image on an arm64 worker: %v\n%s", err, out)
	}
	if n := strings.Count(calls, "docker pull"); n != 1 {
		t.Errorf("the step pulled %d times; a missing architecture is not worth a retry", n)
	}
	out, _, err = runImageStep(t, script, "aarch64", "STUB_PUBLISHED=linux/arm64", "STUB_PULLED=linux/amd64")
	if err == nil || !strings.Contains(out, image+" here is linux/amd64, not linux/arm64 (arm64, this machine's architecture)") {
		t.Errorf("an image that arrived for the wrong architecture: %v\n%s", err, out)
	}
	out, calls, err = runImageStep(t, script, "aarch64", "STUB_PUBLISHED=linux/amd64 linux/arm64")
	if err != nil || !strings.Contains(out, image+" (linux/arm64) pulled in ") || !strings.Contains(calls, "pull -q --platform linux/arm64 "+image) {
		t.Errorf("a multi-architecture image on an arm64 worker: %v\n%s\n%s", err, out, calls)
	}
	out, _, err = runImageStep(t, script, "x86_64", "STUB_PUBLISHED=linux/amd64")
	if err != nil || !strings.Contains(out, "(linux/amd64) pulled in ") {
		t.Errorf("an amd64 image on an x86_64 worker: %v\n%s", err, out)
	}
	out, _, err = runImageStep(t, script, "x86_64", "STUB_PUBLISHED=linux/amd64", "STUB_SIZE=21474836480")
	if err == nil || !strings.Contains(out, image+" is 20 GiB extracted, more than the 16 GiB") || !strings.Contains(out, "camphub:notebookImage") {
		t.Errorf("an image too large for the worker's disk: %v\n%s", err, out)
	}
}

// TestTheHubImageStepNamesTheArchitecture: the hub's base image and the proxy's are pulled for
// the hub's architecture, and a missing one is named the same way.
func TestTheHubImageStepNamesTheArchitecture(t *testing.T) {
	script, err := HubImageScript("camp")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runImageStep(t, script, "aarch64", "STUB_PUBLISHED=linux/amd64")
	if err == nil || !strings.Contains(out, HubBaseImage+" is not published for arm64") {
		t.Errorf("a hub base image without arm64: %v\n%s", err, out)
	}
}
