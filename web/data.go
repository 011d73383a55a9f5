package web

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/view"
)

// What the pages and the API show: one function per question, shared.

// ConnectorState is a connector on the dashboard.
type ConnectorState struct {
	Name string `json:"name"`
	// Kind: "connector" (idsync.yaml) or "application" (provisioning.yaml).
	Kind string `json:"kind"`
	// State: idle, running, error (the last run failed or had errors),
	// or never-run.
	State   string     `json:"state"`
	Objects int64      `json:"objects"`
	Pending int64      `json:"pendingExports"`
	LastRun *store.Run `json:"lastRun,omitempty"`
	// Profiles are the run profiles this connector can run.
	Profiles []string `json:"profiles"`
}

func (s *Server) isApp(name string) bool {
	apps := s.currentApps()
	if apps == nil {
		return false
	}
	_, err := apps.App(name)
	return err == nil
}

func (s *Server) connectorState(ctx context.Context, name string) (*ConnectorState, error) {
	c := &ConnectorState{Name: name, Kind: "connector", State: "never-run"}
	if s.isApp(name) {
		c.Kind = "application"
	}
	var err error
	if c.Objects, err = s.o.Store.CountCS(ctx, name); err != nil {
		return nil, err
	}
	if c.Pending, err = s.o.Store.CountCSExports(ctx, name); err != nil {
		return nil, err
	}
	runs, err := s.o.Store.Runs(ctx, store.RunFilter{Connector: name, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		c.LastRun = runs[0]
		switch runs[0].Status {
		case "running":
			c.State = "running"
		case "success":
			c.State = "idle"
		default:
			c.State = "error"
		}
	}
	if s.isRunning(name) {
		c.State = "running"
	}
	c.Profiles = s.profiles(name)
	return c, nil
}

func (s *Server) isRunning(name string) bool {
	running := false
	s.running.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), name+"\x00") {
			running = true
		}
		return !running
	})
	return running
}

func (s *Server) connectors(ctx context.Context) ([]*ConnectorState, error) {
	var out []*ConnectorState
	for _, n := range s.o.Engine.ConnectorNames() {
		c, err := s.connectorState(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("read the state of %s: %w", n, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// errNoConnector names the connectors there are.
func (s *Server) knownConnector(name string) error {
	if slices.Contains(s.o.Engine.ConnectorNames(), name) {
		return nil
	}
	return fmt.Errorf("no connector or application is named %q (there are: %s)", name, strings.Join(s.o.Engine.ConnectorNames(), ", "))
}

// RunDetail is a run with its per-object errors.
type RunDetail struct {
	*store.Run
	Errors []store.RunError `json:"errors"`
}

func (s *Server) run(ctx context.Context, id int64) (*RunDetail, error) {
	runs, err := s.o.Store.Runs(ctx, store.RunFilter{ID: id})
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, store.ErrNotFound
	}
	errs, err := s.o.Store.RunErrors(ctx, id)
	if err != nil {
		return nil, err
	}
	if errs == nil {
		errs = []store.RunError{}
	}
	return &RunDetail{Run: runs[0], Errors: errs}, nil
}

// SearchResult is a metaverse object found by a search.
type SearchResult struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	DisplayName string `json:"displayName"`
	Match       string `json:"match"` // "attribute: value", the value that matched
}

// SearchPage is a page of a metaverse search: the objects found, and the
// cursor of the next page ("" after the last one).
type SearchPage struct {
	Objects []SearchResult `json:"objects"`
	More    bool           `json:"more"`
	Next    string         `json:"next,omitempty"`
}

// searchQuery is a metaverse search as asked: attribute (one indexed for
// search, case-insensitively; "" = displayName), value, match ("prefix",
// the default, or "exact"), type ("" = any), limit and after (the cursor
// of the page before).
type searchQuery struct {
	Attribute, Value, Match, Type, After string
	Limit                                int
}

func parseSearch(q url.Values) (searchQuery, error) {
	sq := searchQuery{Attribute: strings.TrimSpace(q.Get("attribute")), Value: q.Get("value"), Match: q.Get("match"),
		Type: strings.TrimSpace(q.Get("type")), After: q.Get("after")}
	switch sq.Match {
	case "":
		sq.Match = "prefix"
	case "prefix", "exact":
	default:
		return sq, fmt.Errorf("match must be prefix or exact, not %q", sq.Match)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxSearchLimit {
			return sq, fmt.Errorf("limit must be a number from 1 to %d, not %q", store.MaxSearchLimit, l)
		}
		sq.Limit = n
	}
	return sq, nil
}

// errSearch is a search the store cannot answer as asked (an attribute
// not indexed, a secret one, a bad cursor): the asker's to change.
type errSearch struct{ msg string }

func (e *errSearch) Error() string { return e.msg }

// search finds metaverse objects by a value of an attribute indexed for
// search (store.SearchMV: through the store's index, a page at a time,
// however large the metaverse). An attribute not indexed is refused with
// the list of those that are: reading every object of a metaverse of a
// million to find a few would take minutes and load the store.
func (s *Server) search(ctx context.Context, sq searchQuery) (*SearchPage, error) {
	indexed, err := s.view().SearchAttrs(ctx)
	if err != nil {
		return nil, err
	}
	attr := sq.Attribute
	if attr == "" {
		attr = "displayName"
	}
	found := ""
	for _, a := range indexed {
		if strings.EqualFold(a, attr) {
			found = a
			break
		}
	}
	switch {
	case found == "" && len(indexed) == 0:
		return nil, &errSearch{"No attribute is indexed for search: list some under store.searchAttributes in the configuration."}
	case found == "":
		return nil, &errSearch{fmt.Sprintf("%q is not indexed for search: search by %s, or add it to store.searchAttributes in the configuration.", attr, strings.Join(indexed, ", "))}
	case s.secret(found):
		return nil, &errSearch{fmt.Sprintf("%q is a secret attribute: its values cannot be searched.", found)}
	}
	ms, next, err := s.view().SearchMV(ctx, store.MVQuery{Attr: found, Value: sq.Value, Prefix: sq.Match != "exact", Type: sq.Type, Limit: sq.Limit, After: sq.After})
	if err != nil {
		switch {
		case errors.Is(err, store.ErrBadSearchCursor):
			return nil, &errSearch{"The page asked for is not one a search returned: search again."}
		case errors.Is(err, store.ErrNotSearchable):
			return nil, &errSearch{err.Error()}
		}
		return nil, err
	}
	page := &SearchPage{Objects: []SearchResult{}, Next: next, More: next != ""}
	for _, m := range ms {
		o, err := s.view().GetMV(ctx, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since
		}
		if err != nil {
			return nil, err
		}
		value := m.Value
		for _, v := range o.Attrs[found].Values {
			if store.SearchFold(v) == m.Value {
				value = v // as spelled
				break
			}
		}
		dn := o.Attrs.First("displayName")
		if dn == "" {
			dn = o.Attrs.First("cn")
		}
		page.Objects = append(page.Objects, SearchResult{ID: m.ID, Type: m.Type, DisplayName: dn, Match: found + ": " + value})
	}
	return page, nil
}

func (s *Server) mvObject(ctx context.Context, id string) (*view.MVObject, error) {
	m, err := s.view().GetMV(ctx, id)
	if err != nil {
		return nil, err
	}
	cs, err := s.view().CSForMV(ctx, id)
	if err != nil {
		return nil, err
	}
	v := view.FromMV(m, cs)
	return &v, nil
}

// csObject finds a connector space object by its ID (id), or by connector
// and anchor.
func (s *Server) csObject(ctx context.Context, id, conn, anchor string) (*view.CSObject, error) {
	var c *store.CSObject
	var err error
	if id != "" {
		c, err = s.view().GetCS(ctx, id)
	} else {
		c, err = s.view().GetCSByAnchor(ctx, conn, anchor)
	}
	if err != nil {
		return nil, err
	}
	v := view.FromCS(c)
	return &v, nil
}

// SchedulerState is the scheduler as the console shows it.
type SchedulerState struct {
	Enabled         bool   `json:"enabled"`
	LastCycleStart  string `json:"lastCycleStart,omitempty"`
	LastCycleEnd    string `json:"lastCycleEnd,omitempty"`
	LastCycleResult string `json:"lastCycleResult,omitempty"`
	NextCycle       string `json:"nextCycle,omitempty"`
}

func (s *Server) schedulerState(ctx context.Context) (*SchedulerState, error) {
	on, err := scheduler.Enabled(ctx, s.o.Store)
	if err != nil {
		return nil, err
	}
	st := &SchedulerState{Enabled: on}
	for key, dst := range map[string]*string{scheduler.KeyLastStart: &st.LastCycleStart, scheduler.KeyLastEnd: &st.LastCycleEnd,
		scheduler.KeyLastState: &st.LastCycleResult, scheduler.KeyNext: &st.NextCycle} {
		v, err := s.o.Store.Setting(ctx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		*dst = v
	}
	return st, nil
}

// startRun starts a run profile in the background; it fails when the same
// profile of the connector is already running from the console.
func (s *Server) startRun(p *principal, conn, profile string, o engine.RunOptions) error {
	if err := s.knownConnector(conn); err != nil {
		return err
	}
	prof, err := engine.ParseProfile(profile)
	if err != nil {
		return err
	}
	if s.o.RunProfile == nil {
		return errors.New("this server cannot run profiles")
	}
	key := conn + "\x00" + profile
	if _, busy := s.running.LoadOrStore(key, p.User); busy {
		return fmt.Errorf("%s of %s is already running", profile, conn)
	}
	go func() {
		defer s.running.Delete(key)
		ctx, cancel := context.WithTimeout(s.base, 24*time.Hour)
		defer cancel()
		if err := s.o.RunProfile(ctx, conn, prof, o); err != nil {
			s.o.Log.Error("run started from the console", "connector", conn, "profile", profile, "user", p.User, "err", err)
		}
	}()
	return nil
}

// pendingRows are the pending exports of a connector (the preview).
func (s *Server) pendingRows(ctx context.Context, conn string) ([]engine.PreviewRow, error) {
	if err := s.knownConnector(conn); err != nil {
		return nil, err
	}
	rows, err := engine.Preview(ctx, s.view(), conn)
	if rows == nil {
		rows = []engine.PreviewRow{}
	}
	return rows, err
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a run ID", s)
	}
	return id, nil
}

// startCycle runs a sync cycle in the background, unless one started from
// the console is running.
func (s *Server) startCycle(p *principal) error {
	if s.o.RunCycle == nil {
		return errors.New("this server cannot run a cycle")
	}
	if _, busy := s.running.LoadOrStore("\x00cycle", p.User); busy {
		return errors.New("a cycle started from the console is running")
	}
	go func() {
		defer s.running.Delete("\x00cycle")
		ctx, cancel := context.WithTimeout(s.base, 24*time.Hour)
		defer cancel()
		if err := s.o.RunCycle(ctx); err != nil {
			s.o.Log.Error("cycle started from the console", "user", p.User, "err", err)
		}
	}()
	return nil
}
