package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/camphub/camphub/components"
)

// setting is one key of the camphub namespace, declared once. Load reads every key through
// its entry (its type and bounds; bounds that a component enforces are the component's own
// constants), the misspelt-key check and its hint know the keys by these names, and Pulumi.yaml
// documents exactly these keys with the same type and default, its description being the key's
// doc line (TestPulumiYamlMatchesTheKeyTable).
type setting struct {
	Name     string
	Type     string // as Pulumi.yaml declares it: string, integer, boolean, array
	Default  any    // Pulumi.yaml's default; nil when every stack must set it
	Min, Max int    // an integer's bounds
	Secret   bool
}

var settings = []setting{
	{Name: "hubInstanceType", Type: "string", Default: "t4g.medium"},
	{Name: "workerInstanceType", Type: "string", Default: "t4g.xlarge"},
	{Name: "nfsInstanceType", Type: "string", Default: "t4g.small"},
	{Name: "workerCount", Type: "integer", Default: 2, Min: 1, Max: components.MaxWorkers},
	{Name: "nfsVolumeSizeGiB", Type: "integer", Default: 100, Min: components.MinVolumeGiB, Max: components.MaxVolumeGiB},
	{Name: "nfsRetainVolumeOnDestroy", Type: "boolean", Default: true},
	{Name: "nfsSnapshotRetainDays", Type: "integer", Default: 7, Min: 1, Max: components.MaxSnapshotRetainDays},
	{Name: "nfsVolumeId", Type: "string", Default: ""},
	{Name: "homeQuotaGiB", Type: "integer", Default: 0, Min: 0, Max: components.MaxVolumeGiB},
	{Name: "homeQuotaOvercommit", Type: "boolean", Default: false},
	{Name: "nfsSnapshotId", Type: "string", Default: ""},
	{Name: "adminCidrs", Type: "array"},
	{Name: "vpcCidr", Type: "string", Default: "10.42.0.0/16"},
	{Name: "amiId", Type: "string", Default: ""},
	{Name: "amiKind", Type: "string", Default: "ecs"},
	{Name: "hubPort", Type: "integer", Default: 8443, Min: 1, Max: 65535},
	{Name: "oauthClientId", Type: "string"},
	{Name: "oauthClientSecret", Type: "string", Secret: true},
	{Name: "adminEmails", Type: "array", Default: []any{}},
	{Name: "roster", Type: "string", Default: ""},
	{Name: "studentEmails", Type: "array", Default: []any{}},
	{Name: "hostedDomain", Type: "string", Default: ""},
	{Name: "courseDir", Type: "string", Default: ""},
	{Name: "schedule", Type: "string", Default: ""},
	{Name: "notebookImage", Type: "string", Default: "quay.io/jupyter/scipy-notebook:2025-12-31"},
	{Name: "studentMemLimit", Type: "string", Default: "4G"},
	{Name: "studentMemGuarantee", Type: "string", Default: "2G"},
	{Name: "studentCpuLimit", Type: "string", Default: "2"},
	{Name: "studentCpuGuarantee", Type: "string", Default: "0.5"},
	{Name: "idleTimeoutMinutes", Type: "integer", Default: 60, Min: 10, Max: 24 * 60},
}

// settingNamed is the table's entry for key; reading a key the table lacks is a program error.
func settingNamed(key string) setting {
	for _, s := range settings {
		if s.Name == key {
			return s
		}
	}
	panic("camphub: the key table has no " + key)
}

// namespaces are the configuration namespaces a stack may set: camphub's own, the AWS
// provider's and Pulumi's (pulumi:tags and the like).
var namespaces = []string{ns, "aws", "pulumi"}

// unknownKeys refuses keys of the camphub namespace that the program does not read, naming the
// closest known key, and keys of a namespace nothing reads (a misspelt "camphub:" included).
func (l *loader) unknownKeys(stackKeys []string) {
	for _, full := range stackKeys {
		space, key, _ := strings.Cut(full, ":")
		if !slices.Contains(namespaces, space) {
			hint := "camphub's settings are written camphub:NAME;"
			if _, known := closestSetting(key); known == 0 {
				hint = fmt.Sprintf("did you mean %s:%s?", ns, key)
			} else if editDistance(space, ns) <= 3 {
				best, _ := closestSetting(key)
				hint = fmt.Sprintf("did you mean %s:%s?", ns, best)
			}
			l.errs = append(l.errs, fmt.Errorf("%s is in namespace %q, which nothing reads (only camphub:, aws: and pulumi: keys are); %s remove it with `pulumi config rm %s`", full, space, hint, full))
			continue
		}
		if space != ns || slices.ContainsFunc(settings, func(s setting) bool { return s.Name == key }) {
			continue
		}
		best, _ := closestSetting(key)
		l.errs = append(l.errs, fmt.Errorf("%s is not a camphub setting; did you mean %s:%s? (remove it with `pulumi config rm %s`; Pulumi.yaml lists every setting)", full, ns, best, full))
	}
}

// closestSetting is the key table's name closest to key, and its edit distance (ignoring case).
func closestSetting(key string) (string, int) {
	best, bestDist := "", 1<<30
	for _, s := range settings {
		if d := editDistance(strings.ToLower(key), strings.ToLower(s.Name)); d < bestDist {
			best, bestDist = s.Name, d
		}
	}
	return best, bestDist
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// StackKeys lists the configuration keys the Pulumi engine handed the program
// (the PULUMI_CONFIG environment variable holds them as a JSON object).
func StackKeys(envConfig string) ([]string, error) {
	if strings.TrimSpace(envConfig) == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(envConfig), &m); err != nil {
		return nil, fmt.Errorf("reading the stack's configuration keys: %w", err)
	}
	return slices.Sorted(maps.Keys(m)), nil
}
