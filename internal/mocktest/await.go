package mocktest

import (
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Value is an awaited output.
type Value struct {
	V      any
	Known  bool
	Secret bool
}

// Await resolves an output inside a running program (call it from the RunFunc).
func Await(in pulumi.Input) Value {
	o := pulumi.ToOutput(in)
	ch := make(chan any, 1)
	o.ApplyT(func(v any) any { ch <- v; return v })
	secret := pulumi.IsSecret(o)
	select {
	case v := <-ch:
		return Value{V: v, Known: true, Secret: secret}
	case <-time.After(20 * time.Second):
		return Value{Secret: secret}
	}
}

// PlainStrings walks a property value and returns, with their paths, all strings that are not
// under a secret: what a preview, the state file or `pulumi stack export` shows in the clear.
func PlainStrings(path string, v resource.PropertyValue, visit func(path, s string)) {
	switch {
	case v.IsSecret():
		return
	case v.IsString():
		visit(path, v.StringValue())
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			PlainStrings(path+"["+strconv.Itoa(i)+"]", e, visit)
		}
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			PlainStrings(path+"."+string(k), e, visit)
		}
	case v.IsOutput():
		if o := v.OutputValue(); o.Secret {
			return
		} else if o.Known {
			PlainStrings(path, o.Element, visit)
		}
	case v.IsComputed():
	}
}

// PlainContains lists the input paths whose plain (non-secret) strings contain needle.
func (r *Resource) PlainContains(needle string) (where []string) {
	for k, v := range r.Inputs {
		PlainStrings(string(k), v, func(path, s string) {
			if strings.Contains(s, needle) {
				where = append(where, path)
			}
		})
	}
	return where
}
