package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/idsync/idsync/sample"
)

// TestBenchDelta runs the bench on a tiny directory with --delta: the delta
// cycle is timed step by step and carries exactly the changed users to the
// target (runBench checks the target file itself).
func TestBenchDelta(t *testing.T) {
	var out bytes.Buffer
	o := sample.GenOptions{Seed: 1, Users: 200, Groups: 20, MembersPerGroup: 5, Contacts: 10}
	if err := runBench(context.Background(), &out, t.TempDir(), o, 7); err != nil {
		t.Fatalf("runBench: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  change 7 users in the source +\d+\.\d\ds$`),
		regexp.MustCompile(`(?m)^  delta import \(source\) +\d+\.\d{3}s +\d+ objects/s   errors 0   read 230, changed 7$`),
		regexp.MustCompile(`(?m)^  delta sync \(source\) +\d+\.\d{3}s +\d+ objects/s   errors 0   processed 7, exports staged 7$`),
		regexp.MustCompile(`(?m)^  export \(updates to LDIF target\) +\d+\.\d{3}s +\d+ objects/s   errors 0   exported 7: 0 adds, 7 updates, 0 renames, 0 deletes$`),
		regexp.MustCompile(`(?m)^  delta import \(confirming\) +\d+\.\d{3}s +\d+ objects/s   errors 0   read 230, changed 7$`),
		regexp.MustCompile(`(?m)^  delta sync \(target\) +\d+\.\d{3}s +\d+ objects/s   errors 0   processed 7, exports staged 0$`),
		regexp.MustCompile(`(?m)^  delta engine total +\d+\.\d{3}s$`),
		regexp.MustCompile(`(?m)^  delta sync again \(nothing pending\) +\d+\.\d{3}s +errors 0   processed 0, exports staged 0$`),
		regexp.MustCompile(`(?m)^  peak RSS \d+ MiB$`),
	} {
		if !want.MatchString(got) {
			t.Errorf("output lacks a line matching %s:\n%s", want, got)
		}
	}
	// The time column lines up with the full cycle's.
	secs := regexp.MustCompile(`\d\.\d+s`)
	col := -1
	for _, line := range strings.Split(got, "\n")[1:] {
		loc := secs.FindStringIndex(line)
		if loc == nil {
			continue
		}
		if col < 0 {
			col = loc[1]
		}
		if loc[1] != col {
			t.Errorf("time column ends at %d, want %d: %q", loc[1], col, line)
		}
	}
}

// TestBenchScale: a preset sets the sizes that were not given.
func TestBenchScale(t *testing.T) {
	cmd := newBenchCmd()
	if err := cmd.ParseFlags([]string{"--scale", "1m", "--users", "5000"}); err != nil {
		t.Fatal(err)
	}
	var o sample.GenOptions
	o.Users = 5000
	if err := applyBenchScale(cmd, "1m", &o); err != nil {
		t.Fatal(err)
	}
	if o.Users != 5000 || o.Groups != 100_000 || o.MembersPerGroup != 20 || o.Contacts != 50_000 {
		t.Errorf("--scale 1m --users 5000: %+v, want 5000 users and the preset's groups, members and contacts", o)
	}
	if err := applyBenchScale(cmd, "10k", &o); err == nil || !strings.Contains(err.Error(), "100k, 1m") {
		t.Errorf("--scale 10k: %v", err)
	}
}
