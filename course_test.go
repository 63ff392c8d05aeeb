package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tCopy = "command:remote:CopyToRemote"

// TestCourseMaterialFollowsTheRepository: the course folder is copied to the hub (a staging
// folder per content digest) and synced by the hub-course step after the hub has its NFS mounts;
// changed content re-runs both, nothing else re-runs them; without courseDir there is neither.
func TestCourseMaterialFollowsTheRepository(t *testing.T) {
	dir, err := os.MkdirTemp("testdata", "course-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "day1.ipynb"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	with := map[string]string{"camphub:courseDir": dir}
	r := deployStack(t, "camp", with)
	cp, step := r.mocks.Named(tCopy, "hub-course-copy"), r.mocks.Named(tCommand, "hub-course")
	if cp == nil || step == nil {
		t.Fatal("no course copy or course step")
	}
	if !strings.HasPrefix(str(cp, "remotePath"), "/home/ec2-user/.camphub-course/") {
		t.Errorf("course copied to %q", str(cp, "remotePath"))
	}
	for _, after := range []struct{ typ, name string }{{tCommand, "hub-bootstrap"}, {tCopy, "hub-course-copy"}} {
		if !dependsOn(t, r.mocks, step, after.typ, after.name) {
			t.Errorf("hub-course does not wait for %s", after.name)
		}
	}
	if !strings.Contains(step.Inputs["create"].StringValue(), "sync_course \"$staging\" /mnt/camphub/course") {
		t.Error("hub-course does not sync into the NFS course folder")
	}

	same := deployStack(t, "camp", with)
	if !same.mocks.Named(tCommand, "hub-course").Inputs.DeepEquals(step.Inputs) {
		t.Error("the course step changed without a change of content")
	}
	if err := os.WriteFile(filepath.Join(dir, "day1.ipynb"), []byte(`{"cells": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := deployStack(t, "camp", with)
	if changed.mocks.Named(tCommand, "hub-course").Inputs["triggers"].DeepEquals(step.Inputs["triggers"]) ||
		str(changed.mocks.Named(tCopy, "hub-course-copy"), "remotePath") == str(cp, "remotePath") {
		t.Error("changed course content does not re-run the copy and the sync")
	}
	for _, res := range changed.mocks.Resources() {
		if b := r.mocks.Named(res.Type, res.Name); b != nil && !b.Inputs.DeepEquals(res.Inputs) && !strings.HasPrefix(res.Name, "hub-course") {
			t.Errorf("a course change also changed %s %s", res.Type, res.Name)
		}
	}
	if none := deployStack(t, "camp", nil); none.mocks.Named(tCommand, "hub-course") != nil {
		t.Error("a course step without camphub:courseDir")
	}
}

func TestBadCourseDir(t *testing.T) {
	for v, want := range map[string]string{
		"../elsewhere":   "must be a folder inside the repository",
		"/srv/course":    "must be a folder inside the repository",
		"no-such-folder": "is not a folder in the repository",
		"Pulumi.yaml":    "is not a folder in the repository",
	} {
		r := runProgram(t, "camp", stackConfig(t, "camp", map[string]string{"camphub:courseDir": v}))
		if r.err == nil || !strings.Contains(r.err.Error(), "camphub:courseDir") || !strings.Contains(r.err.Error(), want) {
			t.Errorf("courseDir %q: %v, want %q", v, r.err, want)
		}
	}
}
