package provision

// The shared fragments on their own, as tests run them: the fragment's functions and a small
// dispatch, never installed on a machine (the steps carry the same fragments).

import (
	"strconv"
	"strings"
	"testing"
)

func standalone(t *testing.T, usage, call string, fragments ...string) (string, error) {
	t.Helper()
	body, err := Fragments(fragments...)
	n := len(strings.Fields(usage))
	return "#!/usr/bin/env bash\nset -euo pipefail\n" + body + `if [ "$#" -ne ` + strconv.Itoa(n) + ` ]; then
  echo "usage: $0 ` + usage + `" >&2
  exit 2
fi
` + call + "\n", err
}

// PrepareDiskScript is the data-disk preparation on its own: prepare-disk.sh DEVICE MOUNT_POINT.
func PrepareDiskScript(t *testing.T) (string, error) {
	return standalone(t, "DEVICE MOUNT_POINT", `prepare_disk "$1" "$2"`, "prepare-disk")
}

// PrepareQuotaDiskScript is the NFS server's data-disk preparation on its own (project quotas
// on): prepare-quota-disk.sh DEVICE MOUNT_POINT.
func PrepareQuotaDiskScript(t *testing.T) (string, error) {
	return standalone(t, "DEVICE MOUNT_POINT", `prepare_disk "$1" "$2" prjquota`, "prepare-disk")
}

// CourseSyncScript is the hub-course step's sync on its own: course-sync.sh SOURCE TARGET PLACED.
func CourseSyncScript(t *testing.T) (string, error) {
	return standalone(t, "SOURCE TARGET PLACED", `sync_course "$1" "$2" "$3"`, "course-sync")
}
