package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/camphub/camphub/components"
)

// Schedule is the class hours: the workers start before class and stop after it, on the days.
type Schedule struct {
	Days     string // cron days of the week: MON-FRI, or MON,WED,FRI
	Start    string // HH:MM, the class starts (workers start WorkerLeadMinutes earlier)
	End      string // HH:MM, the class ends (workers stop WorkerTailMinutes later)
	TimeZone string // IANA zone of the times, e.g. America/Denver
	// StartMinute and EndMinute are Start and End as minutes after midnight.
	StartMinute, EndMinute int
}

// Workers start this long before class (boot, Docker, NFS, rejoin) and stop this long after it.
const (
	WorkerLeadMinutes = 20
	WorkerTailMinutes = 15
)

var (
	dayRe   = regexp.MustCompile(`^(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?(,(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?)*$`)
	clockRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// schedule reads camphub:schedule, "DAYS START-END TIMEZONE" (e.g. "MON-FRI 08:30-16:30
// America/Denver"); empty means the workers run all the time.
func (l *loader) schedule() *Schedule {
	const key = "schedule"
	v := l.str(key)
	if v == "" {
		return nil
	}
	fields := strings.Fields(v)
	times := []string{"", ""}
	if len(fields) == 3 {
		if before, after, ok := strings.Cut(fields[1], "-"); ok {
			times = []string{before, after}
		}
	}
	if len(fields) != 3 || times[0] == "" {
		l.fail(key, "must be \"DAYS START-END TIMEZONE\" such as \"MON-FRI 08:30-16:30 America/Denver\", got %q", v)
		return nil
	}
	s := Schedule{Days: fields[0], Start: times[0], End: times[1], TimeZone: fields[2]}
	bad := false
	if !dayRe.MatchString(s.Days) {
		if fixed := dayNames(s.Days); dayRe.MatchString(fixed) {
			l.fail(key, "days %q must be written as three capital letters a day; write %s", s.Days, fixed)
		} else {
			l.fail(key, "days %q must be days of the week (MON TUE WED THU FRI SAT SUN) such as MON-FRI or MON,WED,FRI", s.Days)
		}
		bad = true
	}
	clock := func(name, t string) int {
		m := clockRe.FindStringSubmatch(t)
		if m == nil {
			l.fail(key, "%s %q must be a 24-hour time HH:MM such as 08:30", name, t)
			bad = true
			return 0
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		return h*60 + mi
	}
	s.StartMinute, s.EndMinute = clock("start", s.Start), clock("end", s.End)
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		l.fail(key, "timeZone %q is not an IANA time zone such as America/Denver or Europe/Berlin", s.TimeZone)
		bad = true
	}
	if bad {
		return nil
	}
	switch {
	case s.StartMinute < WorkerLeadMinutes:
		l.fail(key, "start %s is too early: the workers start %d minutes before class, on the same day; start at %02d:%02d or later", s.Start, WorkerLeadMinutes, WorkerLeadMinutes/60, WorkerLeadMinutes%60)
	case s.EndMinute+WorkerTailMinutes >= 24*60:
		l.fail(key, "end %s is too late: the workers stop %d minutes after class, on the same day", s.End, WorkerTailMinutes)
	case s.EndMinute-s.StartMinute < 60:
		l.fail(key, "end %s must be at least an hour after start %s", s.End, s.Start)
	default:
		return &s
	}
	return nil
}

// WorkerHours are the workers' hours: the class hours with the lead and tail (nil: always on).
func (s *Schedule) WorkerHours(accountID string) *components.ClassHours {
	if s == nil {
		return nil
	}
	return &components.ClassHours{
		Days: s.Days, TimeZone: s.TimeZone, AccountID: accountID,
		StartMinute: s.StartMinute - WorkerLeadMinutes, StopMinute: s.EndMinute + WorkerTailMinutes,
	}
}

// dayNames writes days the way the schedule wants them, when they were meant as days: each
// name cut to its first three letters, in capitals ("Mon-Fri", "monday,wednesday" -> MON-FRI,
// MON,WED).
func dayNames(days string) string {
	return regexp.MustCompile(`[A-Za-z]+`).ReplaceAllStringFunc(days, func(w string) string {
		return strings.ToUpper(w[:min(3, len(w))])
	})
}

// ClassHours is the schedule as a student reads it ("MON-FRI 08:30-16:30 (America/Denver)");
// empty without a schedule.
func (s *Schedule) ClassHours() string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf("%s %s-%s (%s)", s.Days, s.Start, s.End, s.TimeZone)
}

// WorkersFrom is the time the workers start on class days ("08:10"); empty without a schedule.
func (s *Schedule) WorkersFrom() string {
	if s == nil {
		return ""
	}
	m := s.StartMinute - WorkerLeadMinutes
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}
