package main

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/sample"
)

// TestBenchDelta runs the bench on a tiny directory with --delta: the delta
// cycle is timed step by step and carries exactly the changed users to the
// target (runBench checks the target file itself).
func TestBenchDelta(t *testing.T) {
	var out bytes.Buffer
	o := sample.GenOptions{Seed: 1, Users: 200, Groups: 20, MembersPerGroup: 5, Contacts: 10}
	if err := runBench(context.Background(), &out, t.TempDir(), o, benchPlan{delta: 7}, nil, 1); err != nil {
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

// TestBenchStores runs the bench on SQLite and PostgreSQL in turn, twice:
// every run prints its store (the DSN's password masked), the summary puts
// the runs side by side, and the bench's schema is dropped afterwards.
func TestBenchStores(t *testing.T) {
	dsn := peers.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	t.Setenv("BENCH_TEST_PW", pw)
	ref := strings.Replace(dsn, ":"+pw+"@", ":${BENCH_TEST_PW}@", 1)
	stores, err := parseBenchStores([]string{"sqlite", ref})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := sample.GenOptions{Seed: 1, Users: 100, Groups: 10, MembersPerGroup: 5, Contacts: 5}
	if err := runBench(t.Context(), &out, t.TempDir(), o, benchPlan{delta: 3}, stores, 2); err != nil {
		t.Fatalf("runBench: %v\n%s", err, out.String())
	}
	got := out.String()
	if strings.Contains(got, pw) {
		t.Errorf("the output shows the DSN's password:\n%s", got)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^run 4 of 4$`),
		regexp.MustCompile(`(?m); store sqlite$`),
		regexp.MustCompile(`(?m); store postgres postgres://[^:]+:xxxxx@127\.0\.0\.1:\d+/\w+\?sslmode=disable$`),
		regexp.MustCompile(`(?m)^  step +sqlite +postgres +postgres/sqlite \(medians\)$`),
		regexp.MustCompile(`(?m)^  full cycle total +\d+\.\d{3} \d+\.\d{3} +\d+\.\d{3} \d+\.\d{3} +\d+\.\d\d$`),
		regexp.MustCompile(`(?m)^  delta sync \(source\) +\d+\.\d{3} \d+\.\d{3} +\d+\.\d{3} \d+\.\d{3} +\d+\.\d\d$`),
		regexp.MustCompile(`(?m)^  peak RSS \(MiB\) +\d+ \d+ +\d+ \d+ *$`),
	} {
		if !want.MatchString(got) {
			t.Errorf("output lacks a line matching %s:\n%s", want, got)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var left int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'idsync_bench_%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d bench schemas left in the database, want 0", left)
	}
}

// TestBenchStoreFlag: --store takes sqlite or a DSN, whose ${NAME}
// references must be set.
func TestBenchStoreFlag(t *testing.T) {
	t.Setenv("BENCH_SET", "s3cret")
	for _, tc := range []struct {
		val, name, show, err string
	}{
		{val: "sqlite", name: "sqlite", show: "sqlite"},
		{val: "SQLite", name: "sqlite", show: "sqlite"},
		{val: "postgres://u:${BENCH_SET}@127.0.0.1/db", name: "postgres", show: "postgres postgres://u:xxxxx@127.0.0.1/db"},
		{val: "host=127.0.0.1 user=u password=${BENCH_SET} dbname=db", name: "postgres", show: "postgres host=127.0.0.1 user=u password=xxxxx dbname=db"},
		{val: "postgres://u:${BENCH_UNSET_X}@127.0.0.1/db", err: "BENCH_UNSET_X is not set"},
		{val: "mysql", err: "want sqlite or a PostgreSQL DSN"},
	} {
		got, err := parseBenchStores([]string{tc.val})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one with %q", tc.val, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0].name != tc.name || got[0].show != tc.show {
			t.Errorf("%q: %+v, %v; want %s, %q", tc.val, got, err, tc.name, tc.show)
		}
		if tc.name == "postgres" && !strings.Contains(got[0].dsn, "s3cret") {
			t.Errorf("%q: dsn %q, want the variable's value in it", tc.val, got[0].dsn)
		}
	}
}

// TestBenchUntil: --until import stops the cycle after the full import of
// the source (and still reports the peak RSS); an unknown step, or --delta
// with a cycle cut short, is a usage error.
func TestBenchUntil(t *testing.T) {
	var out bytes.Buffer
	o := sample.GenOptions{Seed: 1, Users: 50, Groups: 5, MembersPerGroup: 5, Contacts: 5}
	if err := runBench(t.Context(), &out, t.TempDir(), o, benchPlan{until: "import"}, nil, 1); err != nil {
		t.Fatalf("runBench: %v\n%s", err, out.String())
	}
	got := out.String()
	if !regexp.MustCompile(`(?m)^  full import \(source\) +\d+\.\d\ds +\d+ objects/s   errors 0$`).MatchString(got) ||
		!regexp.MustCompile(`(?m)^  peak RSS \d+ MiB$`).MatchString(got) || strings.Contains(got, "full sync") {
		t.Errorf("--until import: want the import and the peak RSS, no synchronization:\n%s", got)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--until", "imports"}, `--until "imports": want one of import, sync, export, confirm, sync-target, sync-again`},
		{[]string{"--until", "sync", "--delta", "3"}, "--delta needs the whole cycle, not --until sync"},
	} {
		cmd := newBenchCmd()
		cmd.SetArgs(tc.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want a usage error with %q", tc.args, err, tc.err)
		}
	}
}
