package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/store"
)

// The progress of an application's cycle: its runs of the engine (a full
// import of the application, its synchronization, the export) as the run
// history records them — the engine writes a running run's objects done,
// total and errors at least every second — so that the console shows a
// cycle run by this process or another (idsync provisioning run, the
// active server of a pair).

// AppProgress is an application's current cycle, or its last one.
type AppProgress struct {
	App string `json:"app"`
	// Running: a run of the cycle is running now; Step is it (import,
	// sync or export) and Run its history entry.
	Running bool   `json:"running"`
	Step    string `json:"step,omitempty"`
	Run     int64  `json:"run,omitempty"`
	// Done and Total are the objects of the running step done so far and
	// to do (0 when not known yet).
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// Errors are the per-object errors of the cycle's runs so far.
	Errors int64 `json:"errors"`
	// Started is when the cycle's first run started, Finished when its
	// last run finished (not running).
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	// Runs are the cycle's runs, first to last (none before the first
	// cycle).
	Runs []*store.Run `json:"runs"`
}

// stepOf names a run profile's step of a cycle.
func stepOf(profile string) string {
	switch engine.Profile(profile) {
	case engine.FullImport, engine.DeltaImport:
		return "import"
	case engine.FullSync, engine.DeltaSync:
		return "sync"
	case engine.Export:
		return "export"
	}
	return profile
}

// appProgress reads the application's cycle: its newest run and the runs
// of the same cycle before it (an export's synchronization and import, a
// synchronization's import).
func (s *Server) appProgress(ctx context.Context, name string) (*AppProgress, error) {
	a, err := s.app(name)
	if err != nil {
		return nil, err
	}
	runs, err := s.o.Store.Runs(ctx, store.RunFilter{Connector: a.Name, Limit: 6})
	if err != nil {
		return nil, err
	}
	p := &AppProgress{App: a.Name, Runs: []*store.Run{}}
	if len(runs) == 0 {
		return p, nil
	}
	cycle := []*store.Run{runs[0]}
	for _, r := range runs[1:] {
		prev, cur := stepOf(r.Profile), stepOf(cycle[0].Profile)
		before := cur == "export" && prev == "sync" || cur == "sync" && prev == "import"
		if r.Status == store.RunRunning || !before {
			break
		}
		cycle = append([]*store.Run{r}, cycle...)
	}
	last := cycle[len(cycle)-1]
	p.Runs, p.Started = cycle, &cycle[0].Started
	for _, r := range cycle {
		p.Errors += r.Counts.Errors
	}
	if last.Status == store.RunRunning {
		p.Running, p.Step, p.Run, p.Done, p.Total = true, stepOf(last.Profile), last.ID, last.Done, last.Total
	} else {
		p.Finished = last.Finished
	}
	return p, nil
}

// pageAppProgress is the application page's progress part, which the page
// asks for again every few seconds (htmx).
func (s *Server) pageAppProgress(w http.ResponseWriter, r *http.Request, _ *principal) {
	p, err := s.appProgress(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, false, http.StatusNotFound, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages["app"].ExecuteTemplate(w, "appprogress", p); err != nil {
		s.o.Log.Error("console page", "page", "app progress", "err", err)
	}
}

func (s *Server) apiAppProgress(w http.ResponseWriter, r *http.Request, _ *principal) {
	p, err := s.appProgress(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, true, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// percent is done of total as a whole percentage ("" when total is not
// known).
func percent(done, total int64) string {
	if total <= 0 {
		return ""
	}
	return fmt.Sprintf("%d%%", min(100, done*100/total))
}
