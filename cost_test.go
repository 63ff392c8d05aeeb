package main

import (
	"math"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/mocktest"
)

// TestCampCostPerStudentWeek: the camp stack's outputs price a week from the Price List API's
// answers (the stand-in answers us-west-2's list prices, docs/upstream.md "Prices"), with the
// class schedule: for its defaults (arm64: t4g) and 25 students at most $2.00 per student-week,
// and the parts add up to the arithmetic in README "Cost". The x86_64 setting (t3) prices its own
// types.
func TestCampCostPerStudentWeek(t *testing.T) {
	students := `["s01@example.org","s02@example.org","s03@example.org","s04@example.org","s05@example.org",` +
		`"s06@example.org","s07@example.org","s08@example.org","s09@example.org","s10@example.org",` +
		`"s11@example.org","s12@example.org","s13@example.org","s14@example.org","s15@example.org",` +
		`"s16@example.org","s17@example.org","s18@example.org","s19@example.org","s20@example.org",` +
		`"s21@example.org","s22@example.org","s23@example.org","s24@example.org","s25@example.org"]`
	classHours := 5 * float64(16*60+45-(8*60+10)) / 60 // the workers run 08:10-16:45 on 5 days
	disks := float64(30+2+16+5*30+100) * 0.08 * 168 / 730
	for name, tc := range map[string]struct {
		set                   map[string]string
		hub, nfs, worker, per float64
	}{
		"arm64 (the camp's defaults)": {nil, 0.0336, 0.0168, 0.1344, 1.87},
		"x86_64": {map[string]string{"camphub:hubInstanceType": "t3.medium", "camphub:workerInstanceType": "t3.xlarge", "camphub:nfsInstanceType": "t3.small"},
			0.0416, 0.0208, 0.1664, 2.22},
	} {
		set := map[string]string{"camphub:studentEmails": students}
		for k, v := range tc.set {
			set[k] = v
		}
		r := deployStack(t, "camp", set)
		perStudent, _ := r.outputs["costPerStudentWeekUsd"].V.(float64)
		week, _ := r.outputs["costPerCampWeekUsd"].V.(float64)
		parts, _ := r.outputs["costPerCampWeekParts"].V.(map[string]any)
		want := map[string]float64{
			"hub": tc.hub * 168, "nfs": tc.nfs * 168, "workers": 5 * tc.worker * classHours, "disks": disks,
			"snapshots": 100 * 0.05 * 168 / 730, "publicIPv4": 0.005 * (2*168 + 5*classHours),
		}
		sum := 0.0
		for part, w := range want {
			if got, _ := parts[part].(float64); math.Abs(got-w) > 0.01 {
				t.Errorf("%s: %s costs $%.2f a week, want $%.2f", name, part, got, w)
			}
			sum += w
		}
		if math.Abs(sum-week) > 0.02 || math.Abs(perStudent-tc.per) > 0.005 || math.Abs(sum/25-perStudent) > 0.006 {
			t.Errorf("%s: week $%.2f, per student $%.2f; the arithmetic gives $%.2f and $%.2f (want %.2f)", name, week, perStudent, sum, sum/25, tc.per)
		}
		if name == "arm64 (the camp's defaults)" && perStudent > 2.00 {
			t.Errorf("the camp's defaults cost $%.2f per student-week, more than $2.00", perStudent)
		}
		if note, _ := r.outputs["costNote"].V.(string); !strings.Contains(note, "Price List API") || !strings.Contains(note, "42.9 h") {
			t.Errorf("costNote %q", note)
		}
	}
	// Always on (no schedule), the same class costs more than $3.
	on := deployStack(t, "camp", map[string]string{"camphub:studentEmails": students, "camphub:schedule": " "})
	if v, _ := on.outputs["costPerStudentWeekUsd"].V.(float64); v < 3 {
		t.Errorf("without the schedule: $%.2f per student-week; the schedule is what brings it under $3", v)
	}
}

// TestCostWithoutPrices: a role that may not read the Price List does not stop `pulumi up`;
// the outputs say why there is no cost.
func TestCostWithoutPrices(t *testing.T) {
	r := runProgramOn(t, func(m *mocktest.Mocks) { m.PricesUnavailable = true }, "camp", stackConfig(t, "camp", nil))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if note, _ := r.outputs["costNote"].V.(string); !strings.Contains(note, "prices unavailable") || !strings.Contains(note, "pricing:GetProducts") {
		t.Errorf("costNote %q", note)
	}
	if _, ok := r.outputs["costPerCampWeekUsd"]; ok {
		t.Error("a cost was output without prices")
	}
}
