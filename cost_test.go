package main

import (
	"math"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/mocktest"
)

// TestCampCostPerStudentWeek: the camp stack's outputs price a week from the Price List API's
// answers, with the class schedule, under $3 per student for 25 students, and the parts add up.
func TestCampCostPerStudentWeek(t *testing.T) {
	students := `["s01@example.org","s02@example.org","s03@example.org","s04@example.org","s05@example.org",` +
		`"s06@example.org","s07@example.org","s08@example.org","s09@example.org","s10@example.org",` +
		`"s11@example.org","s12@example.org","s13@example.org","s14@example.org","s15@example.org",` +
		`"s16@example.org","s17@example.org","s18@example.org","s19@example.org","s20@example.org",` +
		`"s21@example.org","s22@example.org","s23@example.org","s24@example.org","s25@example.org"]`
	r := deployStack(t, "camp", map[string]string{"camphub:studentEmails": students})
	perStudent, _ := r.outputs["costPerStudentWeekUsd"].V.(float64)
	week, _ := r.outputs["costPerCampWeekUsd"].V.(float64)
	if perStudent <= 0 || perStudent >= 3 {
		t.Errorf("camp costs $%.2f per student-week, want under $3 (week $%.2f)", perStudent, week)
	}
	if math.Abs(perStudent*25-week) > 0.13 {
		t.Errorf("per student-week $%.2f × 25 is not the week's $%.2f", perStudent, week)
	}
	parts, _ := r.outputs["costPerCampWeekParts"].V.(map[string]any)
	sum := 0.0
	for _, v := range parts {
		sum += v.(float64)
	}
	if math.Abs(sum-week) > 0.05 {
		t.Errorf("the parts %v add to %.2f, not the week's %.2f", parts, sum, week)
	}
	// The arithmetic, by hand (README "Cost"): workers 5 × $0.1664 × 5 days × 8.583 h (08:10-16:45).
	if w := parts["workers"].(float64); math.Abs(w-0.1664*5*5*(16*60+45-(8*60+10))/60) > 0.01 {
		t.Errorf("workers cost $%.2f a week", w)
	}
	if note, _ := r.outputs["costNote"].V.(string); !strings.Contains(note, "Price List API") || !strings.Contains(note, "42.9 h") {
		t.Errorf("costNote %q", note)
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
