package config

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// rosterFile reads the class from a CSV file in the repository: a header line
// "email,role,name", then one person a line: a Google e-mail address, "student" or "teacher",
// and an optional display name. Every problem names its line.
func (l *loader) rosterFile(path string) (admins, students []string, names map[string]string) {
	const key = "roster"
	clean := filepath.Clean(path)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		l.fail(key, "%q must be a path inside the repository (relative to Pulumi.yaml), such as roster/camp.csv", path)
		return nil, nil, nil
	}
	f, err := os.Open(clean)
	if err != nil {
		l.fail(key, "cannot read %s: %v; create it (see README, \"Deploy\") or fix the path", path, err)
		return nil, nil, nil
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	type record struct {
		fields []string
		line   int
	}
	var rows []record
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.fail(key, "%s is not a CSV file: %v", path, err)
			return nil, nil, nil
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, record{fields, line})
	}
	if len(rows) == 0 || !slices.Equal(lower(rows[0].fields[:min(len(rows[0].fields), 2)]), []string{"email", "role"}) {
		l.fail(key, "%s must start with the header line \"email,role,name\"", path)
		return nil, nil, nil
	}
	names = map[string]string{}
	seen := map[string]int{}
	for _, rec := range rows[1:] {
		row, n := rec.fields, rec.line
		at := fmt.Sprintf("%s line %d", path, n)
		if len(row) < 2 || len(row) > 3 {
			l.fail(key, "%s: want \"email,role\" or \"email,role,name\", got %d fields", at, len(row))
			continue
		}
		email, ok := l.email(key, at, strings.TrimSpace(row[0]))
		if !ok {
			continue
		}
		if first, dup := seen[email]; dup {
			l.fail(key, "%s: %q is already on line %d; remove one", at, email, first)
			continue
		}
		seen[email] = n
		switch strings.ToLower(strings.TrimSpace(row[1])) {
		case "teacher":
			admins = append(admins, email)
		case "student":
			students = append(students, email)
		default:
			l.fail(key, "%s: role %q must be student or teacher", at, row[1])
			continue
		}
		if len(row) == 3 && strings.TrimSpace(row[2]) != "" {
			names[email] = strings.TrimSpace(row[2])
		}
	}
	if len(admins) == 0 && !l.failed(key) {
		l.fail(key, "%s lists no teacher; give at least one line the role teacher (teachers are the hub's admins)", path)
	}
	return admins, students, names
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimSpace(s))
	}
	return out
}
