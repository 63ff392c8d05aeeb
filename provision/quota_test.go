package provision

// camphub-quota, the file server's keeper of home quotas, run as rendered on a real folder tree.
//
// What the stand-ins hide: this machine's kernel cannot mount an ext4 with project quotas (see
// diskquota_test.go), so chattr, lsattr and setquota are stand-ins here. They keep what the real
// ones would write in a side folder: a project id per inode (so a rename keeps it, as ext4
// does), and each setquota call. The test shows the script's decisions: which folder gets which
// project id and which limit, that links are never followed, that nothing is redone on a second
// run, and that a new quota reaches homes and slots but not the probes. That ext4 then inherits
// the project into new files (+P) and refuses a write past the limit is the kernel's part,
// proven on AWS by the smoke step (its probe must get "Disk quota exceeded").

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

const quotaStubTools = `#!/bin/bash
# Stand-ins for chattr/lsattr/setquota; state in $CAMPHUB_STUB_STATE.
set -euo pipefail
st=$CAMPHUB_STUB_STATE
mkdir -p "$st/proj"
echo "$(basename "$0") $*" >>"$st/calls"
case $(basename "$0") in
  chattr)
    proj="" paths=()
    while [ "$#" -gt 0 ]; do
      case $1 in
        -p) proj=$2; shift ;;
        -f | +P) ;;
        *) paths+=("$1") ;;
      esac
      shift
    done
    for p in "${paths[@]}"; do
      [ -L "$p" ] && { echo "chattr: stand-in refuses a link: $p" >&2; exit 1; }
      [ -n "$proj" ] && echo "$proj" >"$st/proj/$(stat -c %i "$p")"
    done ;;
  lsattr)
    p=${!#}
    printf '%5s ---------------------- %s\n' "$(cat "$st/proj/$(stat -c %i "$p")" 2>/dev/null || echo 0)" "$p" ;;
  setquota)
    echo "$2 $4" >>"$st/limits" ;;
esac
`

type quotaRun struct {
	t                 *testing.T
	homes, state, bin string
}

func newQuotaRun(t *testing.T) *quotaRun {
	t.Helper()
	testtool.NeedRoot(t) // the script makes root's slot folders, as on the file server
	root := t.TempDir()
	r := &quotaRun{t: t, homes: filepath.Join(root, "home"), state: filepath.Join(root, "stub"), bin: filepath.Join(root, "bin")}
	for _, d := range []string{r.homes, r.state, r.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"chattr", "lsattr", "setquota"} {
		if err := os.WriteFile(filepath.Join(r.bin, name), []byte(quotaStubTools), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// run renders camphub-quota for a home quota of gib GiB and slots slots, and runs it.
func (r *quotaRun) run(gib, slots int) string {
	r.t.Helper()
	script, err := QuotaScript(Nfs{Stack: "dev", HomeQuotaGiB: gib, Slots: slots})
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(tool(r.t, "bash"), writeTemp(r.t, "camphub-quota", script))
	cmd.Env = append(os.Environ(), "PATH="+r.bin+":"+os.Getenv("PATH"), "CAMPHUB_STUB_STATE="+r.state,
		"CAMPHUB_DATA_ROOT="+filepath.Dir(r.homes), "CAMPHUB_HOMES="+r.homes,
		"CAMPHUB_QUOTA_STATE="+filepath.Join(filepath.Dir(r.homes), "applied"), "CAMPHUB_QUOTA_LOCK="+filepath.Join(r.state, "lock"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("camphub-quota: %v\n%s", err, out)
	}
	return string(out)
}

func inode(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(st.Ino, 10)
}

// project is the project id the stand-in chattr gave path ("" for none).
func (r *quotaRun) project(path string) string {
	b, err := os.ReadFile(filepath.Join(r.state, "proj", inode(r.t, path)))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// limits is the last limit set per project id, in KiB.
func (r *quotaRun) limits() map[string]int {
	out := map[string]int{}
	b, _ := os.ReadFile(filepath.Join(r.state, "limits"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[0]], _ = strconv.Atoi(f[1])
		}
	}
	return out
}

func (r *quotaRun) calls() int {
	b, _ := os.ReadFile(filepath.Join(r.state, "calls"))
	return strings.Count(string(b), "\n")
}

func (r *quotaRun) slots(pool string) []string {
	entries, err := os.ReadDir(filepath.Join(r.homes, pool))
	if err != nil {
		r.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEveryHomeGetsItsOwnProjectAndLimit: homes from a volume older than quotas (a restored one)
// get a project each, their whole tree with them, links not followed; slots are made to the
// count, each its own project named by it; a probe's home and the probe slots get the probes'
// small limit.
func TestEveryHomeGetsItsOwnProjectAndLimit(t *testing.T) {
	r := newQuotaRun(t)
	ada := filepath.Join(r.homes, "ada-40example-2eorg")
	write(t, filepath.Join(ada, "week1", "lesson1.ipynb"), "work")
	write(t, filepath.Join(ada, "data.csv"), "1,2")
	outside := filepath.Join(filepath.Dir(r.homes), "outside.txt")
	write(t, outside, "not a student's")
	if err := os.Symlink(outside, filepath.Join(ada, "link")); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(r.homes, "camphub-2dprobe-2d1a2b1")
	write(t, filepath.Join(probe, "camphub-probe.txt"), "nonce")
	write(t, filepath.Join(r.homes, Layout.NamesDir, "camphub-2dprobe-2d1a2b1"), Layout.ProbePrefix+"1a2b1\n")
	write(t, filepath.Join(r.homes, Layout.NamesDir, "ada-40example-2eorg"), "ada@example.org\n")

	out := r.run(3, 4)
	home, probeKiB := 3<<20, Layout.ProbeQuotaMiB<<10
	id := inode(t, ada)
	for _, p := range []string{ada, filepath.Join(ada, "week1"), filepath.Join(ada, "week1", "lesson1.ipynb"), filepath.Join(ada, "data.csv")} {
		if got := r.project(p); got != id {
			t.Errorf("%s is in project %q, want Ada's home's %s", p, got, id)
		}
	}
	if got := r.project(outside); got != "" {
		t.Errorf("a file outside the homes, reached by a student's link, was given project %s", got)
	}
	if got := r.project(filepath.Join(r.homes, Layout.NamesDir)); got != "" {
		t.Errorf("the hub's manifest folder was given project %s: it is no home", got)
	}
	lim := r.limits()
	if lim[id] != home || lim[inode(t, probe)] != probeKiB {
		t.Errorf("limits %v: want Ada's %s at %d KiB and the probe's at %d KiB\n%s", lim, id, home, probeKiB, out)
	}
	slots := r.slots(Layout.SlotsDir)
	if len(slots) != 4 {
		t.Fatalf("slots %v, want 4", slots)
	}
	for _, s := range slots {
		if p := filepath.Join(r.homes, Layout.SlotsDir, s); r.project(p) != s || s != inode(t, p) || lim[s] != home {
			t.Errorf("slot %s: project %q, inode %s, limit %d; want all its own inode and %d KiB", s, r.project(p), inode(t, p), lim[s], home)
		}
	}
	for _, s := range r.slots(Layout.ProbeSlotsDir) {
		if lim[s] != probeKiB {
			t.Errorf("probe slot %s is limited to %d KiB, want %d", s, lim[s], probeKiB)
		}
	}
	if n := len(r.slots(Layout.ProbeSlotsDir)); n != 2 {
		t.Errorf("%d probe slots, want 2", n)
	}

	// Again: nothing to do, and nothing touched: the path unit watches these folders, and any
	// change of theirs (even a chmod to the same mode) would start the script again, forever.
	watched := []string{r.homes, filepath.Join(r.homes, Layout.SlotsDir), filepath.Join(r.homes, Layout.ProbeSlotsDir)}
	ctimes := func() []int64 {
		var out []int64
		for _, w := range append(watched, ada) {
			var st syscall.Stat_t
			if err := syscall.Stat(w, &st); err != nil {
				t.Fatal(err)
			}
			out = append(out, st.Ctim.Nano())
		}
		return out
	}
	before, beforeTimes := r.calls(), ctimes()
	r.run(3, 4)
	if got := r.calls() - before; got != 2 {
		t.Errorf("a second run with nothing new made %d tool calls, want 2 (reading the two homes' projects)", got)
	}
	if after := ctimes(); fmt.Sprint(after) != fmt.Sprint(beforeTimes) {
		t.Errorf("a second run with nothing new changed the watched folders (ctime %v -> %v): the path unit would run it again and again", beforeTimes, after)
	}
}

// TestATakenSlotIsReplacedAndANewQuotaReachesEveryHome: the hub renames a slot into place as a
// home (it keeps its project); the next run makes a slot in its stead. A new quota (camphub:
// homeQuotaGiB) reaches every home and every slot, not the probes.
func TestATakenSlotIsReplacedAndANewQuotaReachesEveryHome(t *testing.T) {
	r := newQuotaRun(t)
	r.run(2, 3)
	slot := r.slots(Layout.SlotsDir)[0]
	home := filepath.Join(r.homes, "bo-40example-2eorg")
	if err := os.Rename(filepath.Join(r.homes, Layout.SlotsDir, slot), home); err != nil { // as camphub_hub.take_slot
		t.Fatal(err)
	}
	probe := filepath.Join(r.homes, "camphub-2dprobe-2d9z1")
	if err := os.Rename(filepath.Join(r.homes, Layout.ProbeSlotsDir, r.slots(Layout.ProbeSlotsDir)[0]), probe); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(r.homes, Layout.NamesDir, "camphub-2dprobe-2d9z1"), Layout.ProbePrefix+"9z1\n")
	r.run(2, 3)
	if got := r.project(home); got != slot {
		t.Errorf("the home made from slot %s is in project %q", slot, got)
	}
	if n := len(r.slots(Layout.SlotsDir)); n != 3 {
		t.Errorf("after a slot was taken: %d slots, want 3 again", n)
	}
	probeID := r.project(probe)
	probeLimit := r.limits()[probeID]

	out := r.run(5, 3)
	lim := r.limits()
	if lim[slot] != 5<<20 {
		t.Errorf("Bo's home is limited to %d KiB after the quota became 5 GiB, want %d\n%s", lim[slot], 5<<20, out)
	}
	for _, s := range r.slots(Layout.SlotsDir) {
		if lim[s] != 5<<20 {
			t.Errorf("slot %s is limited to %d KiB, want the new %d", s, lim[s], 5<<20)
		}
	}
	if lim[probeID] != probeLimit {
		t.Errorf("the probe's limit went from %d to %d KiB with the home quota", probeLimit, lim[probeID])
	}
	if !strings.Contains(out, "the home quota changed from 2048 MiB to 5120 MiB") {
		t.Errorf("the change is not reported:\n%s", out)
	}
}
