package provision

import (
	"strings"
)

// ShellQuote quotes s as one word for POSIX sh: single quotes, with each ' written as '\”.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// PyString renders s as a Python string literal (double-quoted, escaped).
func PyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(strings.ToLower(string("0123456789abcdef"[r>>4]) + string("0123456789abcdef"[r&15])))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// PySet renders a Python set of strings, one per line; an empty one is set() (not {}, a dict).
func PySet(items []string) string {
	if len(items) == 0 {
		return "set()"
	}
	var b strings.Builder
	b.WriteString("{\n")
	for _, s := range items {
		b.WriteString("    " + PyString(s) + ",\n")
	}
	b.WriteString("}")
	return b.String()
}

// PyList renders a Python list of strings on one line.
func PyList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = PyString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
