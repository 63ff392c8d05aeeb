package config

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
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
	b, err := os.ReadFile(clean)
	if err != nil {
		l.fail(key, "cannot read %s: %v; create it (see README, \"Deploy\") or fix the path", path, err)
		return nil, nil, nil
	}
	text, comma, problem := spreadsheetCSV(b)
	if problem != "" {
		l.fail(key, "%s %s", path, problem)
		return nil, nil, nil
	}
	rows, err := records(text, comma)
	if err != nil {
		l.fail(key, "%s is not a CSV file: %v; export it again from the spreadsheet as \"CSV UTF-8\"", path, err)
		return nil, nil, nil
	}
	if len(rows) == 0 || !slices.Equal(lower(rows[0].fields[:min(len(rows[0].fields), 2)]), []string{"email", "role"}) {
		found := ""
		if len(rows) > 0 {
			found = fmt.Sprintf(" (its first line is %q)", strings.Join(rows[0].fields, string(comma)))
		}
		l.fail(key, "%s must start with the header line \"email,role,name\"%s; add that line above the first person", path, found)
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

// spreadsheetCSV reads a roster the way spreadsheet programs save one: a UTF-8 byte-order mark
// (Excel's "CSV UTF-8") is dropped; Excel's "sep=;" first line names the separator (the line
// is kept as a comment, so line numbers stay the file's); otherwise the header line's separator
// is used: a comma, a semicolon (Excel where the decimal mark is a comma) or a tab (text
// exports). Line ends may be CRLF. A file in UTF-16 ("Unicode Text") or another encoding is a
// problem, with how to save it instead.
func spreadsheetCSV(b []byte) (text string, comma rune, problem string) {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return "", 0, "is saved as UTF-16 (a spreadsheet's \"Unicode Text\"); save it again as \"CSV UTF-8 (comma delimited)\""
	case !utf8.Valid(b):
		return "", 0, "is not UTF-8 text (a spreadsheet's older \"CSV\" export in a local encoding); save it again as \"CSV UTF-8 (comma delimited)\""
	}
	text = strings.TrimPrefix(string(b), "\ufeff")
	first, _, _ := strings.Cut(text, "\n")
	first = strings.TrimSuffix(first, "\r")
	if sep, ok := strings.CutPrefix(strings.ToLower(first), "sep="); ok && utf8.RuneCountInString(sep) == 1 {
		return "#" + text, []rune(sep)[0], ""
	}
	for _, c := range []rune{';', '\t'} {
		fields := strings.Split(first, string(c))
		if len(fields) >= 2 && strings.Trim(strings.ToLower(strings.TrimSpace(fields[0])), `"`) == "email" {
			return text, c, ""
		}
	}
	return text, ',', ""
}

// record is one line of a roster file: its fields and its line number in the file.
type record struct {
	fields []string
	line   int
}

// records reads a roster's lines ('#' starts a comment line, which still counts for numbering).
func records(text string, comma rune) ([]record, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	var rows []record
	for {
		fields, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, record{fields, line})
	}
}
