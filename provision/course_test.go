package provision

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/camphub/camphub/internal/testtool"
)

// TestCourseSync runs the rendered course sync against scratch folders standing in for the
// repository's course folder and the NFS one: it copies, owned by jovyan; a second run changes
// nothing; a file deleted from the repository disappears; every file a teacher wrote into the
// course folder stays, wherever it is (README "Deploy": the sync deletes only what it placed).
func TestCourseSync(t *testing.T) {
	testtool.NeedRoot(t)
	tool(t, "rsync")
	script, err := CourseSyncScript(t)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "course-sync.sh", script)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "course")
	placed := filepath.Join(t.TempDir(), "course.placed")
	for name, body := range map[string]string{"day1/intro.ipynb": "{}", "data/iris.csv": "a,b\n", "README.md": "# camp\n"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sync := func() string {
		t.Helper()
		out, err := exec.Command(tool(t, "bash"), path, src, dst, placed).CombinedOutput()
		if err != nil {
			t.Fatalf("course sync: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := sync(); !strings.Contains(out, "day1/intro.ipynb") {
		t.Errorf("the first sync did not report the files it copied:\n%s", out)
	}
	for _, name := range []string{"day1/intro.ipynb", "data/iris.csv", "README.md", "day1"} {
		st, err := os.Stat(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		s := st.Sys().(*syscall.Stat_t)
		want := os.FileMode(0o644)
		if st.IsDir() {
			want = 0o755
		}
		if int(s.Uid) != Layout.StudentUID || int(s.Gid) != Layout.StudentGID || st.Mode().Perm() != want {
			t.Errorf("%s is %d:%d %v, want %d:%d %v", name, s.Uid, s.Gid, st.Mode().Perm(), Layout.StudentUID, Layout.StudentGID, want)
		}
	}
	if out := sync(); strings.TrimSpace(out) != "" {
		t.Errorf("a second sync changed something:\n%s", out)
	}
	teachers := map[string]string{"extra/notes.txt": "by a teacher", "day1/solutions.ipynb": "answers", "quiz.ipynb": "q1", "data/mine.csv": "x,y\n"}
	for name, body := range teachers {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(src, "data", "iris.csv")); err != nil {
		t.Fatal(err)
	}
	sync()
	if _, err := os.Stat(filepath.Join(dst, "data", "iris.csv")); !os.IsNotExist(err) {
		t.Errorf("a file deleted from the repository is still in the course folder: %v", err)
	}
	for name, body := range teachers {
		if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != body {
			t.Errorf("the teacher's %s was touched by the sync: %q %v", name, b, err)
		}
	}
}

// TestCourseSyncNeverWritesThroughATeachersLink: a teacher (who may write the course folder)
// replaces a folder the sync placed with a link to a folder of root's, and a file it placed with a
// link to a file of root's; the next sync, as root, neither writes into nor deletes what they
// point to, and puts the course's folder and file back in their place. (rsync replaces a link in
// the destination and never follows it without --keep-dirlinks; shown here with this machine's
// rsync. AL2023's is older and is not exercised offline.)
func TestCourseSyncNeverWritesThroughATeachersLink(t *testing.T) {
	testtool.NeedRoot(t)
	tool(t, "rsync")
	script, err := CourseSyncScript(t)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "course-sync.sh", script)
	src, dst, roots := t.TempDir(), filepath.Join(t.TempDir(), "course"), t.TempDir()
	placed := filepath.Join(t.TempDir(), "course.placed")
	for name, body := range map[string]string{"day1/intro.ipynb": "{}", "README.md": "# camp\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sync := func() {
		t.Helper()
		if out, err := exec.Command(tool(t, "bash"), path, src, dst, placed).CombinedOutput(); err != nil {
			t.Logf("course sync: %v\n%s", err, out) // refusing is fine; writing through the link is not
		}
	}
	sync()
	secretDir := filepath.Join(roots, "hub-state")
	secretFile := filepath.Join(roots, "cookie_secret")
	if err := os.Mkdir(secretDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"day1": secretDir, "README.md": secretFile} {
		if err := os.RemoveAll(filepath.Join(dst, link)); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dst, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "README.md"), []byte("# camp, day two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sync()
	if entries, _ := os.ReadDir(secretDir); len(entries) != 0 {
		t.Errorf("the sync wrote %v into root's folder through a teacher's link", entries)
	}
	if b, err := os.ReadFile(secretFile); err != nil || string(b) != "secret" {
		t.Errorf("root's file behind a teacher's link is now %q (%v)", b, err)
	}
	if st, err := os.Stat(secretFile); err != nil || st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("root's file behind a teacher's link changed owner or mode: %v %v", st, err)
	}
	// The links themselves are replaced by what the course holds.
	if st, err := os.Lstat(filepath.Join(dst, "day1")); err != nil || !st.IsDir() {
		t.Errorf("day1 is not the course's folder again: %v %v", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "README.md")); err != nil || string(b) != "# camp, day two\n" {
		t.Errorf("README.md is %q (%v), want the course's new version", b, err)
	}
}

// TestCourseDigest: the digest follows content, names and modes, not timestamps.
func TestCourseDigest(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	d1, err := CourseDigest(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := mustStat(t, filepath.Join(dir, "a.txt")).ModTime()
	if err := os.Chtimes(filepath.Join(dir, "a.txt"), now.Add(3600e9), now.Add(3600e9)); err != nil {
		t.Fatal(err)
	}
	if d2, _ := CourseDigest(dir); d2 != d1 {
		t.Error("touching a file changed the digest")
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d3, _ := CourseDigest(dir); d3 == d1 {
		t.Error("changed content kept the digest")
	}
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestHandBack runs the rendered camphub-hand-back on a scratch homes folder whose manifest the
// hub's own camphub_hub.record_name wrote: one archive per student, named by their address (a
// long one shortened in its folder name too), holding their folder as it is; a folder the
// manifest does not name, or names with a path, keeps its folder name.
func TestHandBack(t *testing.T) {
	script, err := HandBackScript()
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "camphub-hand-back", script)
	homes, out, hub := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(hub, "camphub_hub.py"), []byte(hubFile("camphub_hub.py")), 0o644); err != nil {
		t.Fatal(err)
	}
	const long = "maria.fernandez-garcia.the-second@students.lincoln-high-school.example.org"
	folders := map[string]string{} // address -> folder, as the hub names and records it
	for _, addr := range []string{"ada@example.org", long, "../evil"} {
		b, err := exec.Command(tool(t, "python3"), "-c", `import sys; sys.path.insert(0, sys.argv[1]); import camphub_hub as h
f = h.escape(sys.argv[3], int(sys.argv[4])); h.record_name(sys.argv[2], f, sys.argv[3]); print(f)`, hub, homes, addr, fmt.Sprint(Layout.NameMax)).CombinedOutput()
		if err != nil {
			t.Fatalf("record_name: %v\n%s", err, b)
		}
		folders[addr] = strings.TrimSpace(string(b))
	}
	folders["hand-made"] = "hand-made"
	for _, dir := range folders {
		if err := os.MkdirAll(filepath.Join(homes, dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(homes, dir, "sub", "work.ipynb"), []byte("precious "+dir), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tool(t, "bash"), "-c", `bash "$0" "$1" | tar -xf - -C "$2"`, path, homes, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hand-back: %v\n%s", err, b)
	}
	for archive, dir := range map[string]string{
		"ada@example.org.tar.gz": folders["ada@example.org"], long + ".tar.gz": folders[long],
		folders["../evil"] + ".tar.gz": folders["../evil"], "hand-made.tar.gz": "hand-made",
	} {
		b, err := exec.Command("tar", "-xzOf", filepath.Join(out, archive), "--", dir+"/sub/work.ipynb").Output()
		if err != nil || string(b) != "precious "+dir {
			t.Errorf("%s does not hold %s: %v %q", archive, dir, err, b)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 4 {
		t.Errorf("%d archives, want 4 (the manifest itself is no student's): %v", len(entries), entries)
	}
	if len(folders[long]) > Layout.NameMax || !strings.Contains(folders[long], "--") {
		t.Errorf("the long address's folder %q is not the shortened one", folders[long])
	}
}

// TestDiskReport runs the rendered camphub-disk-report on a scratch homes folder: each teacher's
// home gets the report (owned by jovyan) naming every student's folder by address with its size,
// largest first; past the warning threshold it starts with the warning and writes the login
// notice; its folder names agree with the hub configuration's own escape, long addresses too.
func TestDiskReport(t *testing.T) {
	testtool.NeedRoot(t)
	// The report as the hub runs it: from its own folder, camphub_hub.py and camphub.json in the
	// hub's folder (CAMPHUB_SETTINGS).
	path := writeTemp(t, "camphub_disk_report.py", DiskReportScript())
	hubDir := t.TempDir()
	for _, name := range []string{"camphub_hub.py", Layout.SettingsFile} {
		if err := os.WriteFile(filepath.Join(hubDir, name), []byte(renderAll(t, "dev")[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("a.", 31) + "ab@students.lincoln-high.example.org"
	users := []string{"ada@example.org", "grace@example.net", long}
	config := renderAll(t, "dev")
	var names []struct{ Name, Escaped string }
	testtool.HubConfig(t, config, map[string]any{"op": "escape", "names": append(users, "teacher@example.org")}, &names)
	homes, motd := t.TempDir(), filepath.Join(t.TempDir(), "motd.d", "camphub-disk")
	for i, n := range names {
		if err := os.MkdirAll(filepath.Join(homes, n.Escaped), 0o711); err != nil {
			t.Fatal(err)
		}
		if i < len(users) {
			big := make([]byte, (i+1)<<20)
			for j := range big {
				big[j] = byte(j)
			}
			if err := os.WriteFile(filepath.Join(homes, n.Escaped, "data.bin"), big, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	roster := writeTemp(t, "roster.json", `{"users": ["ada@example.org", "grace@example.net", "`+long+`"], "admins": ["teacher@example.org"], "exclusive": true}`)
	run := func(warn string) string {
		t.Helper()
		cmd := exec.Command(testtool.SystemPython, path)
		cmd.Env = append(os.Environ(), "CAMPHUB_SETTINGS="+filepath.Join(hubDir, Layout.SettingsFile), "CAMPHUB_HOMES="+homes, "CAMPHUB_ROSTER="+roster, "CAMPHUB_MOTD="+motd, "CAMPHUB_WARN_PERCENT="+warn)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("camphub-disk-report: %v\n%s", err, out)
		}
		report := filepath.Join(homes, names[3].Escaped, "camphub-disk-usage.txt")
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("no report in the teacher's home: %v", err)
		}
		if st := mustStat(t, report).Sys().(*syscall.Stat_t); int(st.Uid) != Layout.StudentUID {
			t.Errorf("the report is owned by %d", st.Uid)
		}
		return string(b)
	}
	text := run("101")
	if strings.Contains(text, "WARNING") {
		t.Errorf("a warning below the threshold:\n%s", text)
	}
	// Every student by address (the long one's folder found through the shortened name),
	// largest first.
	iLong, iGrace, iAda := strings.Index(text, long), strings.Index(text, "grace@example.net"), strings.Index(text, "ada@example.org")
	if iLong < 0 || iGrace < 0 || iAda < 0 || !(iLong < iGrace && iGrace < iAda) {
		t.Errorf("the report does not list every student by address, largest first:\n%s", text)
	}
	if _, err := os.Stat(motd); !os.IsNotExist(err) {
		t.Error("a login notice without a warning")
	}
	if text := run("0"); !strings.HasPrefix(text, "WARNING: the disk of the students' home folders is") {
		t.Errorf("past the threshold the report does not start with the warning:\n%s", text)
	}
	if b, err := os.ReadFile(motd); err != nil || !strings.Contains(string(b), "WARNING") {
		t.Errorf("past the threshold no login notice: %v", err)
	}
}
