package rehearsal

import (
	"path/filepath"
	"strings"
	"testing"
)

// jupyterHub3Config makes the users of a JupyterHub 3.0 database: a teacher (admin) and two
// students, as a camp stack's hub would hold them.
const jupyterHub3Config = `c = get_config()  # noqa: F821
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
c.Authenticator.admin_users = {"teacher@example.org"}
c.Authenticator.allowed_users = {"ada@example.org", "grace@example.net"}
`

// TestUpgradeFromJupyterHub3 makes a database with JupyterHub 3.0 (the host's Debian bookworm
// package: the only place the rehearsal runs 3.0), holding a teacher (admin), two students and
// a student's API token, then starts the rehearsal image's JupyterHub 5 on it with the rendered
// configuration (upgrade_db, as `jupyterhub --upgrade-db`): the schema is upgraded, a backup is
// kept beside it, and the users, the admin flag and the token are all still there.
func TestUpgradeFromJupyterHub3(t *testing.T) {
	needRoot(t)
	jh3 := need(t, "jupyterhub")
	if v := must(t, nil, jh3, "--version"); !strings.HasPrefix(v, "3.") {
		t.Fatalf("the host's jupyterhub is %s; this test makes a JupyterHub 3.0 database", v)
	}
	dir := t.TempDir()
	writeFile(t, dir, "jupyterhub_config.py", jupyterHub3Config, 0o644)
	// `jupyterhub token` loads the configuration, makes the database and its users, and prints
	// a new token for the user: no hub or proxy is started.
	token := lastLine(must(t, nil, "sh", "-c", `cd "$0" && exec "$@"`, dir, jh3, "token", "ada@example.org"))
	if len(token) < 32 {
		t.Fatalf("jupyterhub 3.0 printed %q as the token", token)
	}
	db := filepath.Join(dir, "jupyterhub.sqlite")
	old := must(t, nil, "/usr/bin/python3", "-c", `import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select version_num from alembic_version").fetchone()[0])`, db)

	h := newHubHost(t, hubOptions{Database: db})
	if !strings.Contains(h.hub.logText(), "Upgrading sqlite:///") {
		t.Errorf("the JupyterHub 5 hub did not upgrade the 3.0 database (schema %s)", old)
	}
	backups, _ := filepath.Glob(filepath.Join(h.hubDir, "jupyterhub.sqlite.*"))
	if len(backups) == 0 {
		t.Error("no backup of the 3.0 database beside the upgraded one")
	}
	now := must(t, nil, "/usr/bin/python3", "-c", `import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select version_num from alembic_version").fetchone()[0])`, filepath.Join(h.hubDir, "jupyterhub.sqlite"))
	if now == old {
		t.Errorf("the schema is still %s after the upgrade", old)
	}
	users := h.users()
	for name, admin := range map[string]bool{"teacher@example.org": true, "ada@example.org": false, "grace@example.net": false} {
		if u, ok := users[name]; !ok || u.Admin != admin {
			t.Errorf("after the upgrade, %s: present %v admin %v; want present, admin %v", name, ok, u.Admin, admin)
		}
	}
	if out, err := h.get("/hub/api/user", token); err != nil || !strings.Contains(out, `"ada@example.org"`) {
		t.Errorf("ada's token from JupyterHub 3.0 does not work after the upgrade: %v %s", err, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
