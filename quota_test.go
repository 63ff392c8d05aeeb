package main

import (
	"strings"
	"testing"
)

// TestHomeQuotaReachesTheFileServerAndTheReport: the home quota the file server applies (its
// setup script's limit, in setquota's KiB) and the disk report reads (the roster document):
// by default the camp's 89 GiB for homes shared by its 4 homes (22 GiB), with a slot for each
// home and 10 spare; an explicit camphub:homeQuotaGiB; and one past the volume's share, accepted
// only with camphub:homeQuotaOvercommit.
func TestHomeQuotaReachesTheFileServerAndTheReport(t *testing.T) {
	for name, tc := range map[string]struct {
		set        map[string]string
		gib, slots string
	}{
		"default":     {nil, "22", "14"},
		"explicit":    {map[string]string{"camphub:homeQuotaGiB": "5"}, "5", "14"},
		"overcommit":  {map[string]string{"camphub:homeQuotaGiB": "40", "camphub:homeQuotaOvercommit": "true"}, "40", "14"},
		"more people": {map[string]string{"camphub:studentEmails": `["a@example.org","b@example.org","c@example.org","d@example.org","e@example.org","f@example.org","g@example.org","h@example.org"]`}, "9", "19"},
	} {
		r := deployStack(t, "camp", tc.set)
		setup := r.mocks.Named(tCommand, "nfs-setup").Inputs["create"].StringValue()
		kib := map[string]string{"22": "23068672", "5": "5242880", "40": "41943040", "9": "9437184"}[tc.gib]
		if !strings.Contains(setup, "home_kib="+kib+"\n") {
			t.Errorf("%s: the file server's setup does not limit homes to %s GiB (%s KiB)", name, tc.gib, kib)
		}
		if !strings.Contains(setup, `fill "$homes/.camphub-slots" `+tc.slots+` "$home_kib"`) {
			t.Errorf("%s: the file server does not keep %s quota slots", name, tc.slots)
		}
		roster := r.mocks.Named(tCommand, "hub-roster").Inputs["stdin"].SecretValue().Element.StringValue()
		if !strings.Contains(roster, `"home_quota_gib":`+tc.gib+"}") {
			t.Errorf("%s: the disk report's roster says %s, want quota %s", name, roster, tc.gib)
		}
	}
}
