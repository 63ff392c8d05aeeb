package config

import (
	"errors"
	"fmt"
	"strings"
)

// Refusal is every problem found in a stack's configuration before anything was made: by Load
// (the keys themselves) or by the preflight (the keys against what AWS offers). Its message is
// one heading that counts the problems and says nothing was created, then one line a problem,
// each naming its key and the fix.
type Refusal struct {
	Stack    string
	Problems []error
}

func (r *Refusal) Error() string {
	noun := "problems"
	if len(r.Problems) == 1 {
		noun = "problem"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "camphub: %d %s in stack %s's configuration; nothing was created", len(r.Problems), noun, r.Stack)
	for _, p := range r.Problems {
		b.WriteString("\n  - ")
		b.WriteString(strings.ReplaceAll(p.Error(), "\n", "\n    "))
	}
	return b.String()
}

// Refuse is the Refusal of stack for errs, each part of a joined error counted on its own; nil
// when there is no problem.
func Refuse(stack string, errs ...error) error {
	var problems []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			problems = append(problems, joined.Unwrap()...)
			continue
		}
		problems = append(problems, err)
	}
	if len(problems) == 0 {
		return nil
	}
	return &Refusal{Stack: stack, Problems: problems}
}

// IsRefusal tells whether err is a configuration's refusal (and not a failure of the program).
func IsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}
