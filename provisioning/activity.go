package provisioning

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Actions of the activity report (R3.6).
const (
	ActCreate     = "create"
	ActUpdate     = "update"
	ActDisable    = "disable"
	ActDelete     = "delete"
	ActSkip       = "skip"
	ActError      = "error"
	ActQuarantine = "quarantine"
	ActCycle      = "cycle"
)

// ReasonDeprovisioned is the reason of a disable: the user is no longer
// assigned, in scope, or in the metaverse.
const ReasonDeprovisioned = "not assigned or out of scope"

// RedactedValue replaces the values of Redact-ed mappings in reports.
const RedactedValue = "[Redact]"

// Activity is one entry of the activity report.
type Activity struct {
	Time   time.Time `json:"time"`
	App    string    `json:"app"`
	Cycle  int64     `json:"cycle"`
	Action string    `json:"action"`
	// Object is the MV object ID ("" for cycle-wide entries), Name the
	// account name and SCIMID the account's id in the application.
	Object string `json:"object,omitempty"`
	Name   string `json:"name,omitempty"`
	SCIMID string `json:"scimId,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Changes are the attributes changed with their new values (redacted
	// ones hidden).
	Changes map[string][]string `json:"changes,omitempty"`
	Error   string              `json:"error,omitempty"`
}

// LogPath is the activity report of an application under dataDir.
func LogPath(dataDir, app string) string {
	return filepath.Join(dataDir, "provisioning", app+".activity.jsonl")
}

// activityLog appends activities to a JSON-lines file.
type activityLog struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
}

// Rotation of the activity report: when a cycle starts and the report has
// reached LogMaxBytes, it becomes <report>.1 (the older ones shift to .2 …)
// and a new one is started; LogKeep older files are kept, so an
// application's report never holds more than (LogKeep+1) × LogMaxBytes.
var (
	LogMaxBytes int64 = 64 << 20
	LogKeep           = 4
)

// rotatedPath is the name of the n-th older report (n ≥ 1).
func rotatedPath(path string, n int) string { return path + "." + strconv.Itoa(n) }

// rotateLog rotates the report at path when it has reached maxBytes.
func rotateLog(path string, maxBytes int64, keep int) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() < maxBytes) {
		return nil
	}
	if err != nil {
		return err
	}
	if keep < 1 {
		return os.Remove(path)
	}
	if err := os.Remove(rotatedPath(path, keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for n := keep - 1; n >= 1; n-- {
		if err := os.Rename(rotatedPath(path, n), rotatedPath(path, n+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(path, rotatedPath(path, 1))
}

func openActivityLog(path string) (*activityLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("activity report: %w", err)
	}
	if err := rotateLog(path, LogMaxBytes, LogKeep); err != nil {
		return nil, fmt.Errorf("activity report: rotate %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("activity report: %w", err)
	}
	return &activityLog{f: f, w: bufio.NewWriter(f)}, nil
}

func (l *activityLog) add(a *Activity) {
	b, err := json.Marshal(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		b = append(b, '\n')
		_, err = l.w.Write(b)
	}
	if err != nil && l.err == nil {
		l.err = err
	}
}

func (l *activityLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if l.err != nil {
		err = l.err
	}
	if err != nil {
		return fmt.Errorf("activity report: %w", err)
	}
	return nil
}

// ReadLog returns the activities of a report at or after since (zero:
// all), oldest first, from its rotated files (<report>.N … .1) and the
// report itself. A missing file has no activities.
func ReadLog(path string, since time.Time) ([]Activity, error) {
	var out []Activity
	for n := LogKeep; n >= 0; n-- {
		p := path
		if n > 0 {
			p = rotatedPath(path, n)
		}
		if fi, err := os.Stat(p); err == nil && !since.IsZero() && fi.ModTime().Before(since) {
			continue // last written before since: every entry is older
		}
		acts, err := readLogFile(p, since)
		out = append(out, acts...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// readLogFile reads one report file.
func readLogFile(path string, since time.Time) ([]Activity, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Activity
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var a Activity
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			// A line cut by a crash: skip it.
			continue
		}
		if !since.IsZero() && a.Time.Before(since) {
			continue
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s line %d: %w", path, line, err)
	}
	return out, nil
}

// ParseSince reads a --since value: a duration back from now ("24h") or an
// RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: give a duration (24h, 30m) or an RFC 3339 time (2026-11-23T10:00:00Z)", s)
}

// WriteJSON writes activities as JSON lines.
func WriteJSON(w io.Writer, acts []Activity) error {
	enc := json.NewEncoder(w)
	for i := range acts {
		if err := enc.Encode(&acts[i]); err != nil {
			return err
		}
	}
	return nil
}

// WriteCSV writes activities as CSV with a header row; changes are
// name=value pairs separated by "; ".
func WriteCSV(w io.Writer, acts []Activity) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"time", "app", "cycle", "action", "object", "name", "scimId", "reason", "changes", "error"})
	for _, a := range acts {
		names := make([]string, 0, len(a.Changes))
		for n := range a.Changes {
			names = append(names, n)
		}
		sort.Strings(names)
		var ch []string
		for _, n := range names {
			ch = append(ch, n+"="+strings.Join(a.Changes[n], "|"))
		}
		_ = cw.Write([]string{a.Time.UTC().Format(time.RFC3339), a.App, fmt.Sprint(a.Cycle), a.Action, a.Object, a.Name,
			a.SCIMID, a.Reason, strings.Join(ch, "; "), a.Error})
	}
	cw.Flush()
	return cw.Error()
}
