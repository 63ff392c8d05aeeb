package deploy

import (
	"path"
	"slices"
	"strings"
)

// request is one authorization IAM makes: an action on one resource, with the request's context
// (the resource's tags as aws:ResourceTag/KEY, the request's as aws:RequestTag/KEY and
// aws:TagKeys, and any other key such as ec2:CreateAction or aws:RequestedRegion).
type request struct {
	action, resource string
	context          map[string][]string
}

// newRequest is a request in region us-west-2 (the policy's region) for action on resource,
// whose resource carries resourceTags and whose request carries requestTags (nil: none).
func newRequest(action, resource string, resourceTags, requestTags map[string]string) request {
	ctx := map[string][]string{"aws:RequestedRegion": {"us-west-2"}}
	for k, v := range resourceTags {
		ctx["aws:ResourceTag/"+k] = []string{v}
	}
	for k, v := range requestTags {
		ctx["aws:RequestTag/"+k] = []string{v}
		ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k)
	}
	return request{action: action, resource: resource, context: ctx}
}

// allowed evaluates r against the policy as IAM's documented logic does for one identity policy
// with no boundary or SCP: an explicit Deny that applies wins, else an Allow that applies, else
// the implicit deny. A statement applies when its Action and Resource match (wildcards * and ?;
// actions ignore case) and every condition holds.
func allowed(d policyDoc, r request) bool {
	allow := false
	for _, st := range d.Statement {
		if !matchesAny(asList(st.Action), r.action, true) || !matchesAny(asList(st.Resource), r.resource, false) || !conditionsHold(st.Condition, r.context) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allow = true
	}
	return allow
}

func matchesAny(patterns []string, s string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

// conditionsHold: every operator block holds (AND), every key in a block holds (AND), a key holds
// when any of its policy values matches (OR). The operators are those the policies use, with
// IAM's rules for a key the request lacks: a matching operator (StringEquals, StringLike,
// ArnEquals, ArnLike) is false, a negated one (StringNotEquals) is true, ForAllValues is true
// (nothing to check), ForAnyValue is false, Null "true" holds only when the key is absent.
func conditionsHold(cond map[string]map[string]any, ctx map[string][]string) bool {
	for op, keys := range cond {
		for key, want := range keys {
			if !holds(op, asList(want), ctx[key]) {
				return false
			}
		}
	}
	return true
}

func holds(op string, want, have []string) bool {
	set, base, _ := strings.Cut(op, ":")
	if base == "" {
		set, base = "", op
	}
	switch set {
	case "ForAllValues":
		for _, h := range have {
			if !valueHolds(base, want, h) {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, h := range have {
			if valueHolds(base, want, h) {
				return true
			}
		}
		return false
	}
	if base == "Null" {
		return (len(have) == 0) == (len(want) == 1 && want[0] == "true")
	}
	if len(have) == 0 {
		return strings.Contains(base, "Not")
	}
	return valueHolds(base, want, have[0])
}

// valueHolds compares one request value with the policy's values.
func valueHolds(op string, want []string, v string) bool {
	switch op {
	case "StringEquals", "ArnEquals":
		return slices.Contains(want, v)
	case "StringNotEquals", "ArnNotEquals":
		return !slices.Contains(want, v)
	case "StringLike", "ArnLike":
		return matchesAny(want, v, false)
	case "StringNotLike", "ArnNotLike":
		return !matchesAny(want, v, false)
	}
	panic("the evaluator does not know the condition operator " + op + ": add it, following IAM's documentation")
}
