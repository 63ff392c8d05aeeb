package provision

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// watchScript feeds the rendered camphub_spawner.py's Watch a sequence of polls (task lists at
// given times) and prints, per poll, "running", "wait" or the message it ends the start with.
// dockerspawner cannot be installed here: a bare stand-in module takes its place, and Watch
// needs nothing of it (the start loop around Watch is rehearsed with the swarm in
// rehearsal/spawn_test.go).
const watchScript = `import json, sys, types
stub = types.ModuleType("dockerspawner"); stub.SwarmSpawner = object; sys.modules["dockerspawner"] = stub
sys.path.insert(0, sys.argv[1])
import camphub_spawner
req = json.load(sys.stdin)
w = camphub_spawner.Watch(req["mem"], req["cpu"])
out = []
for poll in req["polls"]:
    try:
        out.append("running" if w.check(poll["tasks"], poll["t"]) else "wait")
    except RuntimeError as e:
        out.append(str(e))
        break
print(json.dumps(out))
`

func task(state, err string) map[string]any {
	return map[string]any{"CreatedAt": "2026-12-05T08:00:00Z", "Status": map[string]any{"State": state, "Err": err}}
}

func watch(t *testing.T, polls []map[string]any) []string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "camphub_spawner.py"), []byte(renderAll(t, "camp")["camphub_spawner.py"]), 0o644); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{"mem": 2 << 30, "cpu": 0.5, "polls": polls})
	cmd := exec.Command(tool(t, "python3"), "-c", watchScript, dir)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Watch: %v\n%s", err, out)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("Watch answered %q", out)
	}
	return got
}

const noRoom = "no suitable node (insufficient resources on 1 node; scheduling constraints not satisfied on 1 node)"

// TestClassFullEndsTheStartWithinTwentySeconds: a task pending because no worker has room ends
// the start once it has waited CLASS_FULL_GRACE (8 s, the last poll that still waits is at 7 s),
// with the "class full" message naming what a seat needs and the swarm's reason.
func TestClassFullEndsTheStartWithinTwentySeconds(t *testing.T) {
	got := watch(t, []map[string]any{
		{"t": 100.0, "tasks": []any{task("pending", noRoom)}},
		{"t": 107.0, "tasks": []any{task("pending", noRoom)}},
		{"t": 108.0, "tasks": []any{task("pending", noRoom)}},
	})
	if len(got) != 3 || got[0] != "wait" || got[1] != "wait" {
		t.Fatalf("polls: %q; want wait, wait, then the class-full message", got)
	}
	for _, want := range []string{ClassFull, "2 GiB of memory and 0.5 CPU", "Tell your teacher", noRoom} {
		if !strings.Contains(got[2], want) {
			t.Errorf("the class-full message lacks %q:\n%s", want, got[2])
		}
	}
}

// TestSlowTasksWait: a task that is only slow (pending for no lack of room, assigned,
// preparing: pulling its image) waits for as long as start_timeout allows, and a task that
// waited for room and then got a seat (a server stopped elsewhere) starts.
func TestSlowTasksWait(t *testing.T) {
	got := watch(t, []map[string]any{
		{"t": 0.0, "tasks": []any{task("pending", "")}},
		{"t": 30.0, "tasks": []any{task("assigned", "")}},
		{"t": 90.0, "tasks": []any{task("preparing", "")}},
		{"t": 200.0, "tasks": []any{task("pending", noRoom)}},
		{"t": 205.0, "tasks": []any{task("preparing", "")}},
		{"t": 220.0, "tasks": []any{task("pending", noRoom)}},
		{"t": 225.0, "tasks": []any{task("running", "")}},
	})
	want := []string{"wait", "wait", "wait", "wait", "wait", "wait", "running"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("polls: %q; want %q", got, want)
	}
}

// TestRejectedTaskEndsTheStartAtOnce: a rejected task ends the start at the first poll with
// the swarm's reason, as before.
func TestRejectedTaskEndsTheStartAtOnce(t *testing.T) {
	got := watch(t, []map[string]any{{"t": 0.0, "tasks": []any{task("rejected", "invalid mount config: bind source path does not exist")}}})
	if len(got) != 1 || !strings.Contains(got[0], "bind source path does not exist") || strings.Contains(got[0], ClassFull) {
		t.Errorf("a rejected task: %q", got)
	}
}
