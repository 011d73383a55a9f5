package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"github.com/idsync/idsync/connector/memory"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/rules"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sqlite"
)

const testRules = `rules:
  - name: in
    connector: src
    direction: inbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 1
    flows: [{type: Direct, source: cn, target: cn}]
  - name: out
    connector: dst
    direction: outbound
    csObjectType: user
    mvObjectType: person
    linkType: Provision
    precedence: 2
    dn: "cn={cn},dc=dst"
    flows: [{type: Direct, source: cn, target: cn}]
`

// newEngine returns an engine over a fresh SQLite store with two memory
// connectors: src (three users) provisions them to dst.
func newEngine(t *testing.T) (*engine.Engine, map[string]*memory.Connector) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f, err := rules.Parse("rules.yaml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	if errs := rs.Validate(rules.ValidateEnv{Connectors: map[string]*model.Schema{"src": nil, "dst": nil}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	conns := map[string]*memory.Connector{"src": memory.New("src"), "dst": memory.New("dst")}
	for i, cn := range []string{"a", "b", "c"} {
		conns["src"].Put(&model.Object{Anchor: string(rune('1' + i)), DN: "cn=" + cn + ",dc=src", Type: "user",
			Attrs: model.Attrs{"cn": model.Str(cn)}})
	}
	e := &engine.Engine{Store: st, Rules: rs, Connectors: map[string]*engine.Connector{}}
	for n, c := range conns {
		e.Connectors[n] = &engine.Connector{Name: n, Conn: c, DeleteThreshold: 500}
	}
	return e, conns
}

func run(t *testing.T, e *engine.Engine, conn string, p engine.Profile) {
	t.Helper()
	if _, err := e.Run(t.Context(), conn, p, engine.RunOptions{}); err != nil {
		t.Fatalf("%s %s: %v", conn, p, err)
	}
}

// scrape serves a scrape of h and parses the exposition.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: Content-Type %q, want the text exposition format", ct)
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	return fams
}

// labels is a label set, written "name=value,name=value".
func labelSet(s string) map[string]string {
	out := map[string]string{}
	if s == "" {
		return out
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// value returns the value of the series of family name with exactly the
// labels ls (an empty label is the same as no label, as in Prometheus).
func value(fams map[string]*dto.MetricFamily, name, ls string) (float64, bool) {
	want := labelSet(ls)
	f := fams[name]
	if f == nil {
		return 0, false
	}
	if f.GetType() != dto.MetricType_GAUGE {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			if l.GetValue() != "" {
				got[l.GetName()] = l.GetValue()
			}
		}
		if len(got) != len(want) {
			continue
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

type series struct {
	name, labels string
	want         float64
}

func checkSeries(t *testing.T, fams map[string]*dto.MetricFamily, want []series) {
	t.Helper()
	for _, s := range want {
		got, ok := value(fams, s.name, s.labels)
		switch {
		case !ok:
			t.Errorf("%s{%s}: missing", s.name, s.labels)
		case got != s.want:
			t.Errorf("%s{%s} = %v, want %v", s.name, s.labels, got, s.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	e, conns := newEngine(t)
	ctx := t.Context()
	st := e.Store
	// Three users projected and provisioned to dst; the export of one
	// fails: it stays pending, in error.
	run(t, e, "src", engine.FullImport)
	run(t, e, "src", engine.FullSync)
	conns["dst"].FailNext(1, errors.New("refused"))
	run(t, e, "dst", engine.Export)

	// A run recorded through the store: a failed delta import of a
	// partition, then a newer one still running (not reported: the last
	// finished run is).
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fin := t0.Add(90 * time.Second)
	failed := &store.Run{Connector: "src", Profile: string(engine.DeltaImport), Partition: "ou=p1", Started: t0, Finished: &fin,
		Status: store.RunFailed, Counts: store.RunCounts{Updates: 3, Renames: 1, Errors: 2}}
	running := &store.Run{Connector: "src", Profile: string(engine.DeltaImport), Partition: "ou=p1", Started: fin, Status: store.RunRunning}
	// And a run interrupted by a crash, and one of a status this version
	// does not know.
	interrupted := &store.Run{Connector: "dst", Profile: string(engine.FullImport), Started: t0, Finished: &fin, Status: engine.RunInterrupted}
	unknown := &store.Run{Connector: "dst", Profile: string(engine.DeltaSync), Started: t0, Finished: &fin, Status: "paused"}
	for _, r := range []*store.Run{failed, running, interrupted, unknown} {
		if err := st.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	last := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	sched := SchedulerState{Enabled: true, Interval: 30 * time.Minute, LastCycleEnd: last, LastCycleResult: "1 step(s) failed",
		LastSuccess: last.Add(-time.Hour), NextCycle: last.Add(30 * time.Minute)}
	cases := []struct {
		name      string
		scheduler func(context.Context) (SchedulerState, error)
		want      []series
		absent    []string
	}{
		{
			name: "store and runs",
			want: []series{
				{"idsync_metaverse_objects", "", 3},
				{"idsync_connector_objects", "connector=src", 3},
				{"idsync_connector_objects", "connector=dst", 3},
				{"idsync_pending_exports", "connector=dst,operation=add", 1},
				{"idsync_pending_exports", "connector=dst,operation=update", 0},
				{"idsync_pending_exports", "connector=dst,operation=delete", 0},
				{"idsync_pending_exports", "connector=dst,operation=rename", 0},
				{"idsync_pending_exports", "connector=src,operation=add", 0},
				{"idsync_export_errors", "connector=dst", 1},
				{"idsync_export_errors", "connector=src", 0},

				{"idsync_last_run_status", "connector=src,profile=full-import,status=success", 1},
				{"idsync_last_run_status", "connector=src,profile=full-import,status=failed", 0},
				{"idsync_last_run_objects", "connector=src,profile=full-import,change=add", 3},
				{"idsync_last_run_objects", "connector=src,profile=full-import,change=update", 0},
				{"idsync_last_run_errors", "connector=src,profile=full-import", 0},
				{"idsync_last_run_status", "connector=src,profile=full-sync,status=success", 1},
				{"idsync_last_run_status", "connector=dst,profile=export,status=completed-with-errors", 1},
				{"idsync_last_run_status", "connector=dst,profile=export,status=success", 0},
				{"idsync_last_run_errors", "connector=dst,profile=export", 1},
				{"idsync_last_run_objects", "connector=dst,profile=export,change=add", 2},

				{"idsync_last_run_status", "connector=src,profile=delta-import,partition=ou=p1,status=failed", 1},
				{"idsync_last_run_status", "connector=src,profile=delta-import,partition=ou=p1,status=success", 0},
				{"idsync_last_run_timestamp_seconds", "connector=src,profile=delta-import,partition=ou=p1", float64(fin.Unix())},
				{"idsync_last_run_duration_seconds", "connector=src,profile=delta-import,partition=ou=p1", 90},
				{"idsync_last_run_errors", "connector=src,profile=delta-import,partition=ou=p1", 2},
				{"idsync_last_run_objects", "connector=src,profile=delta-import,partition=ou=p1,change=update", 3},
				{"idsync_last_run_objects", "connector=src,profile=delta-import,partition=ou=p1,change=rename", 1},

				{"idsync_last_run_status", "connector=dst,profile=full-import,status=interrupted", 1},
				{"idsync_last_run_status", "connector=dst,profile=full-import,status=success", 0},
				{"idsync_last_run_status", "connector=dst,profile=delta-sync,status=paused", 1},
				{"idsync_last_run_status", "connector=dst,profile=delta-sync,status=success", 0},
				{"idsync_last_run_status", "connector=dst,profile=delta-sync,status=interrupted", 0},

				{"idsync_scrape_errors", "", 0},
			},
			absent: []string{"idsync_scheduler_enabled", "idsync_scheduler_running"},
		},
		{
			name:      "scheduler",
			scheduler: func(context.Context) (SchedulerState, error) { return sched, nil },
			want: []series{
				{"idsync_scheduler_enabled", "", 1},
				{"idsync_scheduler_running", "", 0},
				{"idsync_scheduler_interval_seconds", "", 1800},
				{"idsync_scheduler_last_cycle_timestamp_seconds", "", float64(last.Unix())},
				{"idsync_scheduler_last_cycle_success", "", 0},
				{"idsync_scheduler_last_success_timestamp_seconds", "", float64(last.Add(-time.Hour).Unix())},
				{"idsync_scheduler_next_cycle_timestamp_seconds", "", float64(last.Add(30 * time.Minute).Unix())},
				{"idsync_scrape_errors", "", 0},
			},
		},
		{
			name: "scheduler before its first cycle",
			scheduler: func(context.Context) (SchedulerState, error) {
				return SchedulerState{Enabled: false, Running: true, RunningSince: last, Interval: time.Hour}, nil
			},
			want: []series{
				{"idsync_scheduler_enabled", "", 0},
				{"idsync_scheduler_running", "", 1},
				{"idsync_scrape_errors", "", 0},
			},
			absent: []string{"idsync_scheduler_last_cycle_timestamp_seconds", "idsync_scheduler_last_cycle_success",
				"idsync_scheduler_last_success_timestamp_seconds", "idsync_scheduler_next_cycle_timestamp_seconds"},
		},
		{
			name: "scheduler state unreadable",
			scheduler: func(context.Context) (SchedulerState, error) {
				return SchedulerState{}, errors.New("settings unreadable")
			},
			want: []series{
				{"idsync_scrape_errors", "", 1},
				{"idsync_metaverse_objects", "", 3},
			},
			absent: []string{"idsync_scheduler_enabled"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fams := scrape(t, Handler(Source{Store: st, Connectors: e.ConnectorNames, Scheduler: tc.scheduler}))
			checkSeries(t, fams, tc.want)
			for _, name := range tc.absent {
				if fams[name] != nil {
					t.Errorf("%s present, want absent", name)
				}
			}
			for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
				if fams[name] == nil {
					t.Errorf("%s missing: no runtime or process collector", name)
				}
			}
			for name, f := range fams {
				if strings.HasPrefix(name, "idsync_") && f.GetHelp() == "" {
					t.Errorf("%s has no help text", name)
				}
			}
			// The still-running delta import is not the last run.
			if _, ok := value(fams, "idsync_last_run_status", "connector=src,profile=delta-import,partition=ou=p1,status=running"); ok {
				t.Error("a running run is reported as the last run")
			}
		})
	}
}

// TestMetricsFailedReads: a scrape of a closed store still succeeds, with
// the runtime metrics and a count of the reads that failed.
func TestMetricsFailedReads(t *testing.T) {
	e, _ := newEngine(t)
	if err := e.Store.Close(); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, Handler(Source{Store: e.Store, Connectors: e.ConnectorNames}))
	// CountMV, then CountCS, ScanCSExports and Runs of each of 2 connectors.
	checkSeries(t, fams, []series{{"idsync_scrape_errors", "", 7}})
	for _, name := range []string{"idsync_metaverse_objects", "idsync_connector_objects", "idsync_pending_exports", "idsync_last_run_status"} {
		if fams[name] != nil {
			t.Errorf("%s present after a failed read", name)
		}
	}
	if fams["go_goroutines"] == nil {
		t.Error("the runtime metrics are missing")
	}
}

func TestHealth(t *testing.T) {
	e, _ := newEngine(t)
	good := e.Store
	closedEngine, _ := newEngine(t)
	closed := closedEngine.Store
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	state := func(s SchedulerState, err error) func(context.Context) (SchedulerState, error) {
		return func(context.Context) (SchedulerState, error) { return s, err }
	}
	cases := []struct {
		name      string
		store     store.Store
		scheduler func(context.Context) (SchedulerState, error)
		maxCycle  time.Duration
		code      int
		reason    string // a part of the reason; "" when healthy
	}{
		{name: "good store", store: good, code: 200},
		{name: "closed store", store: closed, code: 503, reason: "store: "},
		{name: "store slower than the timeout", store: slowStore{good}, code: 503, reason: "no answer within"},
		{name: "scheduler on time", store: good, code: 200,
			scheduler: state(SchedulerState{Enabled: true, Interval: time.Minute, LastCycleEnd: now.Add(-time.Minute), NextCycle: now.Add(time.Minute)}, nil)},
		{name: "scheduler in a cycle", store: good, code: 200,
			scheduler: state(SchedulerState{Enabled: true, Running: true, RunningSince: now.Add(-time.Hour), NextCycle: now.Add(-time.Hour)}, nil)},
		{name: "disabled scheduler", store: good, code: 200,
			scheduler: state(SchedulerState{Enabled: false, NextCycle: now.Add(time.Minute)}, nil)},
		{name: "scheduler before its first cycle ends", store: good, code: 200,
			scheduler: state(SchedulerState{Enabled: true}, nil)},
		{name: "cycle overdue", store: good, code: 503, reason: "has not started",
			scheduler: state(SchedulerState{Enabled: true, LastCycleEnd: now.Add(-time.Hour), NextCycle: now.Add(-LateGrace - time.Minute)}, nil)},
		{name: "cycle running too long", store: good, code: 503, reason: "has been running for", maxCycle: time.Hour,
			scheduler: state(SchedulerState{Enabled: true, Running: true, RunningSince: now.Add(-2 * time.Hour)}, nil)},
		{name: "scheduler state unreadable", store: good, code: 503, reason: "scheduler: boom",
			scheduler: state(SchedulerState{}, errors.New("boom"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := Health(Source{Store: tc.store, Scheduler: tc.scheduler, MaxCycle: tc.maxCycle, HealthTimeout: 200 * time.Millisecond})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			if rec.Code != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var rep HealthReport
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			wantStatus := "ok"
			if tc.code != 200 {
				wantStatus = "unavailable"
			}
			if rep.Status != wantStatus || !strings.Contains(rep.Reason, tc.reason) || (tc.reason == "") != (rep.Reason == "") {
				t.Fatalf("status %q, reason %q; want %q, a reason with %q", rep.Status, rep.Reason, wantStatus, tc.reason)
			}
			if (tc.scheduler != nil) != (rep.Scheduler != nil) {
				t.Fatalf("scheduler part %+v with a scheduler func: %v", rep.Scheduler, tc.scheduler != nil)
			}
		})
	}
}

// slowStore answers Setting only after its context is done.
type slowStore struct{ store.Store }

func (s slowStore) Setting(ctx context.Context, key string) (string, error) {
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	return "", ctx.Err()
}

// TestExportErrorsDuringRetry: an export in error that an export is sending
// again still counts as an export error (the alert on it must not reset at
// every retry); a first sending does not.
func TestExportErrorsDuringRetry(t *testing.T) {
	e, conns := newEngine(t)
	ctx := t.Context()
	run(t, e, "src", engine.FullImport)
	run(t, e, "src", engine.FullSync)
	conns["dst"].FailNext(1, errors.New("refused"))
	run(t, e, "dst", engine.Export)
	var failed *store.CSObject
	if err := e.Store.ScanCSExports(ctx, "dst", func(o *store.CSObject) error {
		failed = o
		return nil
	}); err != nil || failed == nil || failed.Pending.State != store.ExportError {
		t.Fatalf("the failed export: %+v, %v", failed, err)
	}
	h := Handler(Source{Store: e.Store, Connectors: e.ConnectorNames})
	for _, tc := range []struct {
		name  string
		state store.ExportState
		err   string
		want  float64
	}{
		{"in error", store.ExportError, "refused", 1},
		{"sent again", store.ExportSending, "refused", 1},
		{"sent the first time", store.ExportSending, "", 0},
		{"pending", store.ExportPending, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed.Pending.State, failed.Pending.Error = tc.state, tc.err
			if err := e.Store.Apply(ctx, &store.Batch{PutCSState: []*store.CSObject{failed}}); err != nil {
				t.Fatal(err)
			}
			checkSeries(t, scrape(t, h), []series{
				{"idsync_export_errors", "connector=dst", tc.want},
				{"idsync_pending_exports", "connector=dst,operation=add", 1},
			})
		})
	}
}

// TestHA: the role of a process in its high-availability group is in
// /metrics (idsync_ha_active) and /healthz (a standby is healthy), and
// neither is there when high availability is off.
func TestHA(t *testing.T) {
	e, _ := newEngine(t)
	since := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ha   func() HAState
		role string
	}{
		{"off", nil, ""},
		{"active", func() HAState { return HAState{Active: true, Since: since, TakeoverAfter: 30 * time.Second} }, "active"},
		{"standby", func() HAState { return HAState{Since: since, TakeoverAfter: 30 * time.Second} }, "standby"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := Source{Store: e.Store, HA: tc.ha}
			fams := scrape(t, Handler(src))
			v, ok := value(fams, "idsync_ha_active", "")
			if ok != (tc.ha != nil) || (tc.role == "active") != (v == 1) {
				t.Errorf("idsync_ha_active = %v (present %v), want role %q", v, ok, tc.role)
			}
			if tc.ha != nil {
				checkSeries(t, fams, []series{{"idsync_ha_role_since_timestamp_seconds", "", float64(since.Unix())}})
			}
			rec := httptest.NewRecorder()
			Health(src).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			var rep HealthReport
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rec.Code != 200 {
				t.Fatalf("HTTP %d %s: %v", rec.Code, rec.Body, err)
			}
			switch {
			case tc.ha == nil && rep.HA != nil:
				t.Errorf("ha part %+v with high availability off", rep.HA)
			case tc.ha != nil && (rep.HA == nil || rep.HA.Role != tc.role || !rep.HA.Since.Equal(since) || rep.HA.TakeoverAfter != "30s"):
				t.Errorf("ha part %+v, want role %s since %s", rep.HA, tc.role, since)
			}
		})
	}
}
