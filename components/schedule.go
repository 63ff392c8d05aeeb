package components

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/scheduler"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ScheduleBoundaryPolicy is the customer-managed policy (deploy/iam-schedule-boundary.json,
// created once by the operator) that bounds the schedule's role: it can only start and stop
// camphub's instances, whatever policy it carries. The deploy role may create roles only with
// a boundary (deploy/iam-policy.json).
const ScheduleBoundaryPolicy = "camphub-schedule-boundary"

// ClassHours is when the workers run: started at StartMinute and stopped at StopMinute (minutes
// after midnight in TimeZone) on Days (cron days of the week, e.g. MON-FRI).
type ClassHours struct {
	Days                    string
	StartMinute, StopMinute int
	TimeZone                string
	// AccountID is the account the boundary policy lives in.
	AccountID string
}

var cronDaysRe = regexp.MustCompile(`^[A-Z,-]+$`)

func (c ClassHours) validate() error {
	var errs []error
	if !cronDaysRe.MatchString(c.Days) {
		errs = append(errs, fmt.Errorf("days %q are not cron days of the week", c.Days))
	}
	if c.StartMinute < 0 || c.StopMinute >= 24*60 || c.StopMinute <= c.StartMinute {
		errs = append(errs, fmt.Errorf("start minute %d and stop minute %d are not a day's span", c.StartMinute, c.StopMinute))
	}
	if c.TimeZone == "" || c.AccountID == "" {
		errs = append(errs, errors.New("TimeZone and AccountID are required"))
	}
	return errors.Join(errs...)
}

// HoursPerWeek is how long the workers run in a week.
func (c ClassHours) HoursPerWeek() float64 {
	return float64(cronDayCount(c.Days)) * float64(c.StopMinute-c.StartMinute) / 60
}

// cronDayCount is how many days of the week a cron day field such as MON-FRI or MON,WED names.
func cronDayCount(days string) int {
	order := []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
	idx := func(d string) int { return slices.Index(order, d) }
	n := 0
	for _, part := range strings.Split(days, ",") {
		if from, to, ok := strings.Cut(part, "-"); ok {
			n += (idx(to)-idx(from)+7)%7 + 1
		} else {
			n++
		}
	}
	return n
}

// cron is EventBridge Scheduler's cron expression for minute on days.
func cron(minute int, days string) string {
	return fmt.Sprintf("cron(%d %d ? * %s *)", minute%60, minute/60, days)
}

// newClassSchedule makes the two schedules that start the workers before class and stop them
// after it. They call EC2 directly (universal targets, no Lambda) with a role that may start and
// stop these instances and nothing else.
func newClassSchedule(ctx *pulumi.Context, name string, hours ClassHours, instances []*ec2.Instance, parent pulumi.Resource) error {
	if err := hours.validate(); err != nil {
		return fmt.Errorf("class schedule: %w", err)
	}
	opt := pulumi.Parent(parent)
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": map[string]any{"Service": "scheduler.amazonaws.com"},
			"Action": "sts:AssumeRole", "Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": hours.AccountID}},
		}},
	})
	role, err := iam.NewRole(ctx, name+"-schedule", &iam.RoleArgs{
		AssumeRolePolicy:    pulumi.String(string(trust)),
		PermissionsBoundary: pulumi.String(fmt.Sprintf("arn:aws:iam::%s:policy/%s", hours.AccountID, ScheduleBoundaryPolicy)),
		Tags:                Tags(ctx, "worker", name+"-schedule"),
	}, opt)
	if err != nil {
		return fmt.Errorf("schedule role: %w", err)
	}
	arns := make(pulumi.StringArray, len(instances))
	ids := make(pulumi.StringArray, len(instances))
	for i, inst := range instances {
		arns[i], ids[i] = inst.Arn, inst.ID().ToStringOutput()
	}
	policy := arns.ToStringArrayOutput().ApplyT(func(a []string) (string, error) {
		b, err := json.Marshal(map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect": "Allow", "Action": []string{"ec2:StartInstances", "ec2:StopInstances"}, "Resource": a,
			}},
		})
		return string(b), err
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-schedule", &iam.RolePolicyArgs{Role: role.ID(), Policy: policy}, opt); err != nil {
		return fmt.Errorf("schedule role policy: %w", err)
	}
	input := ids.ToStringArrayOutput().ApplyT(func(v []string) (string, error) {
		b, err := json.Marshal(map[string]any{"InstanceIds": v})
		return string(b), err
	}).(pulumi.StringOutput)
	for _, s := range []struct{ what, api string }{{"start", "startInstances"}, {"stop", "stopInstances"}} {
		minute := hours.StartMinute
		if s.what == "stop" {
			minute = hours.StopMinute
		}
		if _, err := scheduler.NewSchedule(ctx, name+"-"+s.what, &scheduler.ScheduleArgs{
			Description:                pulumi.String(fmt.Sprintf("camphub %s: %s the workers for class", ctx.Stack(), s.what)),
			ScheduleExpression:         pulumi.String(cron(minute, hours.Days)),
			ScheduleExpressionTimezone: pulumi.String(hours.TimeZone),
			FlexibleTimeWindow:         &scheduler.ScheduleFlexibleTimeWindowArgs{Mode: pulumi.String("OFF")},
			Target: &scheduler.ScheduleTargetArgs{
				Arn:     pulumi.String("arn:aws:scheduler:::aws-sdk:ec2:" + s.api),
				RoleArn: role.Arn,
				Input:   input,
			},
		}, opt); err != nil {
			return fmt.Errorf("%s schedule: %w", s.what, err)
		}
	}
	return nil
}
