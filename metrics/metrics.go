// Package metrics exposes the state of an idsync installation to monitoring:
// Prometheus metrics (Handler, for /metrics) and a health check (Health, for
// /healthz). Both read the store when asked, not in the background: a scrape
// counts the objects of every connector, scans the pending exports of every
// connector and reads the latest runs of every connector, each read bounded
// by Source.Timeout. A read that fails leaves its series out of the scrape
// and is counted in idsync_scrape_errors; the scrape itself still succeeds.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/ha"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/store"
)

// SchedulerState is the state of the scheduler the metrics and the health
// check report (scheduler.Scheduler.State).
type SchedulerState = scheduler.State

// HAState is this process's role in its high-availability group.
type HAState = ha.State

// Source is what the metrics and the health check read.
type Source struct {
	Store store.Store
	// Connectors returns the names of the configured connectors
	// (engine.Engine.ConnectorNames); nil: no per-connector metrics.
	Connectors func() []string
	// Scheduler returns the state of the scheduler running in this
	// process (scheduler.Scheduler.State); nil: the scheduler is not
	// reported. Give it only where the scheduler runs (idsync serve): the
	// health check reports a scheduler whose next cycle is overdue as stuck.
	Scheduler func(context.Context) (SchedulerState, error)
	// HA returns this process's role in its high-availability group
	// (ha.Role.State); nil: high availability is off.
	HA func() HAState

	// Timeout bounds the store reads of a scrape, all of them together;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// HealthTimeout bounds each read of a health check (the store's, the
	// scheduler state's); 0 means DefaultHealthTimeout.
	HealthTimeout time.Duration
	// RunsPerConnector is how many of a connector's latest runs a scrape
	// reads to find the last run of each profile; 0 means
	// DefaultRunsPerConnector. A profile whose last run is older than
	// that many runs of its connector has no idsync_last_run_* series.
	RunsPerConnector int
	// MaxCycle is how long a cycle may run before the health check
	// reports the scheduler stuck; 0 means the longer of 6 hours and 4
	// scheduler intervals.
	MaxCycle time.Duration
	// Log receives the failed reads of scrapes; nil means slog.Default().
	Log *slog.Logger
}

// Defaults of Source.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultRunsPerConnector = 100
)

func (s Source) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

func (s Source) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Handler serves the Prometheus metrics of an installation (text exposition
// format): the idsync_ metrics of NewCollector and the Go runtime and
// process metrics, from a registry of its own (not the global default one).
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// Scrapes read the store: a burst of them must not pile up
		// reads (a scrape beyond these gets 503).
		MaxRequestsInFlight: 2,
		ErrorLog:            slogErrorLog{src.log()},
	})
}

type slogErrorLog struct{ l *slog.Logger }

func (e slogErrorLog) Println(v ...any) { e.l.Error("metrics: serve a scrape", "err", v) }

// Collector is a prometheus.Collector of the idsync_ metrics of an
// installation; it reads the store at every scrape.
type Collector struct {
	src Source
}

// NewCollector returns the collector of the idsync_ metrics of src.
func NewCollector(src Source) *Collector { return &Collector{src: src} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("idsync_"+name, help, labels, nil)
}

var (
	runLabels = []string{"connector", "profile", "partition"}

	descConnectorObjects = desc("connector_objects", "Objects in the connector space of a connector.", "connector")
	descMVObjects        = desc("metaverse_objects", "Objects in the metaverse.")
	descPendingExports   = desc("pending_exports",
		"Pending exports of a connector by operation (add, update, delete, rename), in any state (pending, sending, error).",
		"connector", "operation")
	descExportErrors = desc("export_errors",
		"Pending exports of a connector whose last attempt the target refused (in the error state, or being sent again).", "connector")

	descLastRunTimestamp = desc("last_run_timestamp_seconds",
		"When the last finished run of a connector and profile ended (Unix time).", runLabels...)
	descLastRunDuration = desc("last_run_duration_seconds",
		"How long the last finished run of a connector and profile took.", runLabels...)
	descLastRunStatus = desc("last_run_status",
		"Status of the last finished run of a connector and profile: 1 for its status, 0 for the others.",
		append(runLabels, "status")...)
	descLastRunErrors = desc("last_run_errors",
		"Per-object errors of the last finished run of a connector and profile.", runLabels...)
	descLastRunObjects = desc("last_run_objects",
		"Objects the last finished run of a connector and profile changed, by change (add, update, delete, rename, no_change).",
		append(runLabels, "change")...)

	descSchedEnabled = desc("scheduler_enabled", "1 when scheduled sync cycles are enabled, 0 when disabled.")
	descSchedRunning = desc("scheduler_running", "1 while the scheduler is in a sync cycle.")
	descSchedLast    = desc("scheduler_last_cycle_timestamp_seconds",
		"When the last sync cycle ended (Unix time); absent before the first one.")
	descSchedLastOK = desc("scheduler_last_success_timestamp_seconds",
		"When the last sync cycle without a failed step ended (Unix time); absent before the first one.")
	descSchedLastResult = desc("scheduler_last_cycle_success",
		"1 when no step of the last sync cycle failed, 0 otherwise; absent before the first cycle.")
	descSchedNext = desc("scheduler_next_cycle_timestamp_seconds",
		"When the next sync cycle is due (Unix time); absent before the scheduler's first cycle.")
	descSchedInterval = desc("scheduler_interval_seconds", "The interval between sync cycles.")

	descHAActive = desc("ha_active",
		"1 while this process is the active server of its high-availability group (it holds the active lease and exports), 0 while it stands by; absent when ha.enabled is off.")
	descHASince = desc("ha_role_since_timestamp_seconds", "Since when this process has its high-availability role (Unix time); absent when ha.enabled is off.")

	descScrapeErrors = desc("scrape_errors",
		"Store reads that failed during this scrape; their series are missing from it (the log says which).")
	descScrapeDuration = desc("scrape_duration_seconds", "How long this scrape took to read the store.")
)

var allDescs = []*prometheus.Desc{
	descConnectorObjects, descMVObjects, descPendingExports, descExportErrors,
	descLastRunTimestamp, descLastRunDuration, descLastRunStatus, descLastRunErrors, descLastRunObjects,
	descSchedEnabled, descSchedRunning, descSchedLast, descSchedLastOK, descSchedLastResult, descSchedNext, descSchedInterval,
	descHAActive, descHASince, descScrapeErrors, descScrapeDuration,
}

// Operations are the pending export operations, each always reported (0
// when none).
var operations = []connector.Op{connector.OpAdd, connector.OpUpdate, connector.OpDelete, connector.OpRename}

// runStatuses are the finished run statuses, each always reported for the
// last run (0 for all but its own).
var runStatuses = []string{store.RunSuccess, store.RunWithError, store.RunStopped, store.RunStoppedShrink, store.RunFailed,
	engine.RunInterrupted}

// Describe sends the descriptors of every idsync_ metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads the store and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.src.timeout())
	defer cancel()
	errs := 0
	failed := func(read string, err error, args ...any) {
		errs++
		c.src.log().Warn("metrics: a store read failed; its series are left out of the scrape",
			append([]any{"read", read, "err", err}, args...)...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := c.src.Store
	if c.src.HA != nil {
		h := c.src.HA()
		gauge(descHAActive, boolValue(h.Active))
		gauge(descHASince, unixSeconds(h.Since))
	}

	if n, err := st.CountMV(ctx); err != nil {
		failed("metaverse objects", err)
	} else {
		gauge(descMVObjects, float64(n))
	}
	var conns []string
	if c.src.Connectors != nil {
		conns = c.src.Connectors()
	}
	for _, conn := range conns {
		if n, err := st.CountCS(ctx, conn); err != nil {
			failed("connector objects", err, "connector", conn)
		} else {
			gauge(descConnectorObjects, float64(n), conn)
		}

		byOp, inError := map[connector.Op]int{}, 0
		err := st.ScanCSExports(ctx, conn, func(o *store.CSObject) error {
			if o.Pending != nil {
				byOp[o.Pending.Op]++
				if failedExport(o.Pending) {
					inError++
				}
			}
			return nil
		})
		if err != nil {
			failed("pending exports", err, "connector", conn)
		} else {
			for _, op := range operations {
				gauge(descPendingExports, float64(byOp[op]), conn, string(op))
			}
			gauge(descExportErrors, float64(inError), conn)
		}

		if err := c.collectRuns(ctx, conn, gauge); err != nil {
			failed("runs", err, "connector", conn)
		}
	}

	if c.src.Scheduler != nil {
		if s, err := c.src.Scheduler(ctx); err != nil {
			failed("scheduler state", err)
		} else {
			collectScheduler(s, gauge)
		}
	}

	gauge(descScrapeErrors, float64(errs))
	gauge(descScrapeDuration, time.Since(start).Seconds())
}

// collectRuns sends the metrics of the last finished run of each profile
// (and partition) among the connector's latest runs.
func (c *Collector) collectRuns(ctx context.Context, conn string, gauge func(*prometheus.Desc, float64, ...string)) error {
	limit := c.src.RunsPerConnector
	if limit <= 0 {
		limit = DefaultRunsPerConnector
	}
	runs, err := c.src.Store.Runs(ctx, store.RunFilter{Connector: conn, Limit: limit})
	if err != nil {
		return err
	}
	seen := map[[2]string]bool{}
	for _, r := range runs { // newest first
		key := [2]string{r.Profile, r.Partition}
		if r.Finished == nil || r.Status == store.RunRunning || seen[key] {
			continue
		}
		seen[key] = true
		l := []string{conn, r.Profile, r.Partition}
		gauge(descLastRunTimestamp, unixSeconds(*r.Finished), l...)
		gauge(descLastRunDuration, r.Finished.Sub(r.Started).Seconds(), l...)
		known := false
		for _, s := range runStatuses {
			known = known || s == r.Status
			gauge(descLastRunStatus, boolValue(s == r.Status), append(l, s)...)
		}
		if !known {
			gauge(descLastRunStatus, 1, append(l, r.Status)...)
		}
		gauge(descLastRunErrors, float64(r.Counts.Errors), l...)
		for _, ch := range []struct {
			change string
			n      int64
		}{{"add", r.Counts.Adds}, {"update", r.Counts.Updates}, {"delete", r.Counts.Deletes},
			{"rename", r.Counts.Renames}, {"no_change", r.Counts.NoChange}} {
			gauge(descLastRunObjects, float64(ch.n), append(l, ch.change)...)
		}
	}
	return nil
}

func collectScheduler(s SchedulerState, gauge func(*prometheus.Desc, float64, ...string)) {
	gauge(descSchedEnabled, boolValue(s.Enabled))
	gauge(descSchedRunning, boolValue(s.Running))
	gauge(descSchedInterval, s.Interval.Seconds())
	if !s.LastCycleEnd.IsZero() {
		gauge(descSchedLast, unixSeconds(s.LastCycleEnd))
		gauge(descSchedLastResult, boolValue(s.LastCycleResult == "success"))
	}
	if !s.LastSuccess.IsZero() {
		gauge(descSchedLastOK, unixSeconds(s.LastSuccess))
	}
	if !s.NextCycle.IsZero() {
		gauge(descSchedNext, unixSeconds(s.NextCycle))
	}
}

// failedExport reports whether the last attempt of a pending export failed:
// it is in the error state, or being sent again after a failure (an export
// moves it to sending, keeping the error, before it retries it), so that
// the count does not drop to 0 while an export retries it.
func failedExport(p *store.PendingExport) bool {
	return p.State == store.ExportError || (p.State == store.ExportSending && p.Error != "")
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
