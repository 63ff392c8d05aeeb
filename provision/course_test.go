package provision

import (
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
// nothing; a file deleted from the repository disappears; the teachers' extra/ stays.
func TestCourseSync(t *testing.T) {
	testtool.NeedRoot(t)
	tool(t, "rsync")
	script, err := CourseSyncScript(t)
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "course-sync.sh", script)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "course")
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
		out, err := exec.Command(tool(t, "bash"), path, src, dst).CombinedOutput()
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
		if s.Uid != StudentUID || s.Gid != StudentGID || st.Mode().Perm() != want {
			t.Errorf("%s is %d:%d %v, want %d:%d %v", name, s.Uid, s.Gid, st.Mode().Perm(), StudentUID, StudentGID, want)
		}
	}
	if out := sync(); strings.TrimSpace(out) != "" {
		t.Errorf("a second sync changed something:\n%s", out)
	}
	if err := os.MkdirAll(filepath.Join(dst, "extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "extra", "notes.txt"), []byte("by a teacher"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(src, "data", "iris.csv")); err != nil {
		t.Fatal(err)
	}
	sync()
	if _, err := os.Stat(filepath.Join(dst, "data", "iris.csv")); !os.IsNotExist(err) {
		t.Errorf("a file deleted from the repository is still in the course folder: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "extra", "notes.txt")); err != nil || string(b) != "by a teacher" {
		t.Errorf("the teachers' extra/ folder was touched: %q %v", b, err)
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

// TestHandBack runs the rendered camphub-hand-back on a scratch homes folder: one archive per
// student, named by their address, holding their folder as it is.
func TestHandBack(t *testing.T) {
	script, err := HandBackScript()
	if err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "camphub-hand-back", script)
	homes, out := t.TempDir(), t.TempDir()
	long := "maria-2efernandez-2dgarcia-40students-2elin--0123456789ab" // shortened: stays escaped
	for dir, file := range map[string]string{"ada-40example-2eorg": "work.ipynb", long: "notes.md"} {
		if err := os.MkdirAll(filepath.Join(homes, dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(homes, dir, "sub", file), []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(tool(t, "bash"), "-c", `bash "$0" "$1" | tar -xf - -C "$2"`, path, homes, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hand-back: %v\n%s", err, b)
	}
	for archive, inside := range map[string]string{
		"ada@example.org.tar.gz": "ada-40example-2eorg/sub/work.ipynb",
		long + ".tar.gz":         long + "/sub/notes.md",
	} {
		b, err := exec.Command("tar", "-xzOf", filepath.Join(out, archive), inside).Output()
		if err != nil || string(b) != "precious" {
			t.Errorf("%s does not hold %s: %v %q", archive, inside, err, b)
		}
	}
	if b, err := os.ReadFile(filepath.Join(homes, "ada-40example-2eorg", "sub", "work.ipynb")); err != nil || string(b) != "precious" {
		t.Error("hand-back changed a home folder")
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
	for _, name := range []string{"camphub_hub.py", SettingsFile} {
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
		cmd.Env = append(os.Environ(), "CAMPHUB_SETTINGS="+filepath.Join(hubDir, SettingsFile), "CAMPHUB_HOMES="+homes, "CAMPHUB_ROSTER="+roster, "CAMPHUB_MOTD="+motd, "CAMPHUB_WARN_PERCENT="+warn)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("camphub-disk-report: %v\n%s", err, out)
		}
		report := filepath.Join(homes, names[3].Escaped, "camphub-disk-usage.txt")
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("no report in the teacher's home: %v", err)
		}
		if st := mustStat(t, report).Sys().(*syscall.Stat_t); st.Uid != StudentUID {
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
