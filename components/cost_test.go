package components

import (
	"math"
	"testing"
)

func TestWeekCost(t *testing.T) {
	p := Prices{InstanceHour: map[string]float64{"a": 1, "b": 0.5}, GP3GBMonth: 0.073}
	c, err := WeekCost(p, Footprint{
		Hub: "a", Nfs: "b", Worker: "a", Workers: 2, WorkerHoursPerWeek: 10, DiskGiB: 730 / 7, SnapshotGiB: 0, Students: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	// hub 168 + nfs 84 + workers 20 + disks 104 GiB × 0.073 × 168/730 + IPv4 0.005 × (336 + 20)
	want := 168 + 84 + 20 + 104*0.073*168/730 + 0.005*356
	if math.Abs(c.PerWeek-want) > 0.01 || math.Abs(c.PerStudentWeek-want/4) > 0.01 {
		t.Errorf("week %.2f per student %.2f, want %.2f and %.2f", c.PerWeek, c.PerStudentWeek, want, want/4)
	}
	if _, err := WeekCost(p, Footprint{Hub: "x", Nfs: "b", Worker: "a"}); err == nil {
		t.Error("a type without a price was costed")
	}
}

func TestCronDayCount(t *testing.T) {
	// Two hours a day on each day the field names.
	for days, want := range map[string]int{"MON-FRI": 5, "MON,WED,FRI": 3, "SAT-SUN": 2, "FRI-MON": 4, "MON": 1} {
		h := ClassHours{Days: days, StartMinute: 8 * 60, StopMinute: 10 * 60}
		if got := h.HoursPerWeek(); got != float64(2*want) {
			t.Errorf("%s: %v hours a week, want %d days × 2 h", days, got, want)
		}
	}
}
