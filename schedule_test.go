package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/camphub/camphub/internal/mocktest"
)

const (
	tSchedule   = "aws:scheduler/schedule:Schedule"
	tRole       = "aws:iam/role:Role"
	tRolePolicy = "aws:iam/rolePolicy:RolePolicy"
)

// TestClassHoursStopAndStartOnlyTheWorkers: the camp stack's schedule starts the workers 20
// minutes before class and stops them 15 minutes after it, in the class's time zone, calling
// EC2 directly; its role may start and stop exactly the workers (not the hub, not the NFS
// server) and nothing else, within the start/stop boundary.
func TestClassHoursStopAndStartOnlyTheWorkers(t *testing.T) {
	r := deployStack(t, "camp", nil)
	m := r.mocks
	want := map[string]struct{ cron, api string }{
		"worker-start": {"cron(10 8 ? * MON-FRI *)", "arn:aws:scheduler:::aws-sdk:ec2:startInstances"},
		"worker-stop":  {"cron(45 16 ? * MON-FRI *)", "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"},
	}
	var workerIDs []string
	for i := range 5 {
		workerIDs = append(workerIDs, m.Named(tInstance, "worker-0"+string(rune('0'+i))).ID)
	}
	for name, w := range want {
		s := m.Named(tSchedule, name)
		if s == nil {
			t.Fatalf("no schedule %s", name)
		}
		if str(s, "scheduleExpression") != w.cron || str(s, "scheduleExpressionTimezone") != "America/Denver" {
			t.Errorf("%s: %s in %s, want %s in America/Denver", name, str(s, "scheduleExpression"), str(s, "scheduleExpressionTimezone"), w.cron)
		}
		target := s.Inputs["target"].ObjectValue()
		if target["arn"].StringValue() != w.api {
			t.Errorf("%s targets %s, want %s", name, target["arn"].StringValue(), w.api)
		}
		var input struct{ InstanceIds []string }
		if err := json.Unmarshal([]byte(target["input"].StringValue()), &input); err != nil || !slices.Equal(input.InstanceIds, workerIDs) {
			t.Errorf("%s acts on %v, want the workers %v", name, input.InstanceIds, workerIDs)
		}
	}
	role := m.Named(tRole, "worker-schedule")
	if str(role, "permissionsBoundary") != "arn:aws:iam::"+mocktest.AccountID+":policy/camphub-schedule-boundary" {
		t.Errorf("the schedule role's boundary is %q", str(role, "permissionsBoundary"))
	}
	if !strings.Contains(str(role, "assumeRolePolicy"), `"scheduler.amazonaws.com"`) || !strings.Contains(str(role, "assumeRolePolicy"), mocktest.AccountID) {
		t.Errorf("the schedule role trusts %s", str(role, "assumeRolePolicy"))
	}
	var policy struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(str(m.Named(tRolePolicy, "worker-schedule"), "policy")), &policy); err != nil || len(policy.Statement) != 1 {
		t.Fatalf("schedule policy: %v %v", err, policy)
	}
	st := policy.Statement[0]
	if !slices.Equal(st.Action, []string{"ec2:StartInstances", "ec2:StopInstances"}) || len(st.Resource) != 5 {
		t.Errorf("the schedule role may %v on %v; want start and stop on the 5 workers", st.Action, st.Resource)
	}
	for _, arn := range st.Resource {
		id := arn[strings.LastIndexByte(arn, '/')+1:]
		if !slices.Contains(workerIDs, id) {
			t.Errorf("the schedule role reaches %s, which is not a worker", arn)
		}
	}
	if dev := deployStack(t, "dev", nil); len(dev.mocks.OfType(tSchedule)) != 0 {
		t.Error("the dev stack has a class schedule; it is off by default there")
	}
}

func TestBadSchedule(t *testing.T) {
	for v, want := range map[string]string{
		"weekdays 8-4":                       `must be "DAYS START-END TIMEZONE"`,
		"MON-FRY 08:30-16:30 America/Denver": `days "MON-FRY" must be days of the week`,
		"MON-FRI 8:30-16:30 America/Denver":  `start "8:30" must be a 24-hour time HH:MM`,
		"MON-FRI 08:30-16:30 Mountain":       `timeZone "Mountain" is not an IANA time zone`,
		"MON-FRI 00:10-16:30 America/Denver": "start 00:10 is too early",
		"MON-FRI 08:30-09:00 America/Denver": "must be at least an hour after start",
		"MON-FRI 08:30-23:50 America/Denver": "end 23:50 is too late",
	} {
		r := runProgram(t, "camp", stackConfig(t, "camp", map[string]string{"camphub:schedule": v}))
		if r.err == nil || !strings.Contains(r.err.Error(), "camphub:schedule") || !strings.Contains(r.err.Error(), want) {
			t.Errorf("schedule %q: got %v, want %q", v, r.err, want)
		}
	}
}

// TestEarlyLoginsAreToldTheClassHours: the camp stack's hub knows its class hours and when the
// workers start (camphub.json in hub-config), which a start with no worker ready names
// (camphub_spawner's no_worker_message, pytest test_spawner.py; the rehearsal stops the worker:
// TestNoWorkerReadyFailsFast); the dev stack, always on, has none.
func TestEarlyLoginsAreToldTheClassHours(t *testing.T) {
	for stack, want := range map[string][]string{
		"camp": {`"class_hours": "MON-FRI 08:30-16:30 (America/Denver)"`, `"workers_from": "08:10"`},
		"dev":  {`"class_hours": ""`, `"workers_from": ""`},
	} {
		script := deployStack(t, stack, nil).mocks.Named(tCommand, "hub-config").Inputs["create"].StringValue()
		for _, w := range want {
			if !strings.Contains(script, w) {
				t.Errorf("%s: hub-config's camphub.json lacks %s", stack, w)
			}
		}
	}
}

// TestTeachersCanStartTheWorkers: the startWorkersCommand output starts exactly the stack's
// workers, in its region (README "On the day of camp": a class outside its hours).
func TestTeachersCanStartTheWorkers(t *testing.T) {
	r := deployStack(t, "camp", nil)
	got, _ := r.outputs["startWorkersCommand"].V.(string)
	workers := r.mocks.OfType("aws:ec2/instance:Instance")
	var ids []string
	for _, w := range workers {
		if strings.HasPrefix(w.Name, "worker-") {
			ids = append(ids, w.ID)
		}
	}
	if len(ids) != 5 || got != "aws ec2 start-instances --region us-west-2 --instance-ids "+strings.Join(ids, " ") {
		t.Errorf("startWorkersCommand = %q; want the %d workers %v", got, len(ids), ids)
	}
}
