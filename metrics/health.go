package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/idsync/idsync/store"
)

// DefaultHealthTimeout bounds the reads of a health check when
// Source.HealthTimeout is 0.
const DefaultHealthTimeout = 2 * time.Second

// LateGrace is how long after its due time a cycle that has not started
// makes the health check report the scheduler stuck. The scheduler writes
// the next cycle's time even while disabled, so a disabled scheduler is not
// late.
const LateGrace = 5 * time.Minute

// healthKey is the setting the health check reads: never set, so the read
// answers ErrNotFound at the cost of one index lookup.
const healthKey = "healthz.probe"

// HealthReport is the JSON body of /healthz.
type HealthReport struct {
	// Status is "ok" (HTTP 200) or "unavailable" (HTTP 503).
	Status string `json:"status"`
	// Reason says why the installation is unavailable.
	Reason    string           `json:"reason,omitempty"`
	Time      time.Time        `json:"time"`
	Store     StoreHealth      `json:"store"`
	Scheduler *SchedulerHealth `json:"scheduler,omitempty"`
	// HA is this process's role in its high-availability group (absent
	// when ha.enabled is off). A standby is healthy: it is ready to take
	// over.
	HA *HAHealth `json:"ha,omitempty"`
}

// HAHealth is the high-availability part of the health report.
type HAHealth struct {
	Role          string    `json:"role"` // active or standby
	Since         time.Time `json:"since"`
	TakeoverAfter string    `json:"takeoverAfter"`
}

// StoreHealth is the store's part of the health report.
type StoreHealth struct {
	Status         string  `json:"status"` // ok or error
	Error          string  `json:"error,omitempty"`
	LatencySeconds float64 `json:"latencySeconds"`
}

// SchedulerHealth is the scheduler's part of the health report.
type SchedulerHealth struct {
	Status          string    `json:"status"` // ok, stuck or error
	Error           string    `json:"error,omitempty"`
	Enabled         bool      `json:"enabled"`
	Running         bool      `json:"running"`
	RunningSince    time.Time `json:"runningSince,omitzero"`
	Interval        string    `json:"interval,omitempty"`
	LastCycleEnd    time.Time `json:"lastCycleEnd,omitzero"`
	LastCycleResult string    `json:"lastCycleResult,omitempty"`
	LastSuccess     time.Time `json:"lastSuccess,omitzero"`
	NextCycle       time.Time `json:"nextCycle,omitzero"`
}

// Health serves /healthz: 200 and a HealthReport with status "ok" when the
// store answers a trivial read within Source.HealthTimeout and the
// scheduler (when Source.Scheduler is given) is not stuck; 503 and the
// reason otherwise. The scheduler is stuck when its state cannot be read,
// when a cycle has run longer than Source.MaxCycle, or when no cycle runs
// LateGrace after the next one was due.
func Health(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := Check(r.Context(), src)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if rep.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		if r.Method == http.MethodHead {
			return
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	})
}

// Check runs the health check of src.
func Check(ctx context.Context, src Source) HealthReport {
	timeout := src.HealthTimeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	now := time.Now()
	rep := HealthReport{Status: "ok", Time: now.UTC(), Store: StoreHealth{Status: "ok"}}
	var reasons []string

	_, err := within(ctx, timeout, func(ctx context.Context) (struct{}, error) {
		_, err := src.Store.Setting(ctx, healthKey)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return struct{}{}, err
	})
	rep.Store.LatencySeconds = time.Since(now).Seconds()
	if err != nil {
		rep.Store.Status, rep.Store.Error = "error", err.Error()
		reasons = append(reasons, "store: "+err.Error())
	}

	if src.Scheduler != nil {
		sh := &SchedulerHealth{Status: "ok"}
		rep.Scheduler = sh
		s, err := within(ctx, timeout, src.Scheduler)
		if err != nil {
			sh.Status, sh.Error = "error", err.Error()
			reasons = append(reasons, "scheduler: "+err.Error())
		} else {
			*sh = SchedulerHealth{Status: "ok", Enabled: s.Enabled, Running: s.Running, RunningSince: s.RunningSince,
				LastCycleEnd: s.LastCycleEnd, LastCycleResult: s.LastCycleResult, LastSuccess: s.LastSuccess, NextCycle: s.NextCycle}
			if s.Interval > 0 {
				sh.Interval = s.Interval.String()
			}
			if why := stuck(s, now, src.maxCycle(s.Interval)); why != "" {
				sh.Status, sh.Error = "stuck", why
				reasons = append(reasons, "scheduler: "+why)
			}
		}
	}

	if src.HA != nil {
		h := src.HA()
		rep.HA = &HAHealth{Role: "standby", Since: h.Since.UTC(), TakeoverAfter: h.TakeoverAfter.String()}
		if h.Active {
			rep.HA.Role = "active"
		}
	}

	if len(reasons) > 0 {
		rep.Status, rep.Reason = "unavailable", strings.Join(reasons, "; ")
	}
	return rep
}

func (s Source) maxCycle(interval time.Duration) time.Duration {
	if s.MaxCycle > 0 {
		return s.MaxCycle
	}
	return max(6*time.Hour, 4*interval)
}

// stuck says why the scheduler is stuck, "" when it is not.
func stuck(s SchedulerState, now time.Time, maxCycle time.Duration) string {
	if s.Running {
		if d := now.Sub(s.RunningSince); d > maxCycle {
			return fmt.Sprintf("a sync cycle has been running for %s (since %s), longer than %s",
				d.Round(time.Second), s.RunningSince.UTC().Format(time.RFC3339), maxCycle)
		}
		return ""
	}
	if s.NextCycle.IsZero() {
		return "" // the first cycle has not ended yet
	}
	// The scheduler writes the next cycle's time right after a cycle ends:
	// between the two, the last end is the reference.
	due := s.NextCycle
	if s.LastCycleEnd.After(due) {
		due = s.LastCycleEnd
	}
	if late := now.Sub(due); late > LateGrace {
		return fmt.Sprintf("the sync cycle due at %s has not started (%s late)",
			s.NextCycle.UTC().Format(time.RFC3339), late.Round(time.Second))
	}
	return ""
}

// within runs f with a deadline, and returns when the deadline passes even
// if f does not (f then finishes in the background).
func within[T any](ctx context.Context, d time.Duration, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, fmt.Errorf("no answer within %s", d)
		}
		return zero, ctx.Err()
	}
}
