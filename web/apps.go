package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/idsync/idsync/internal/auth"
	"github.com/idsync/idsync/provisioning"
)

// Applications (R3): each application's provisioning state, its activity
// report with filters, and its connection test.

// AppState is an application as the console shows it.
type AppState struct {
	Name         string                   `json:"name"`
	Provisioning string                   `json:"provisioning"` // on, off
	Deprovision  string                   `json:"deprovision"`
	Interval     string                   `json:"interval"`
	URL          string                   `json:"url"`
	Cycles       int64                    `json:"cycles"`
	LastCycle    *time.Time               `json:"lastCycle,omitempty"`
	LastStatus   string                   `json:"lastStatus,omitempty"`
	Quarantine   *provisioning.Quarantine `json:"quarantine,omitempty"`
	Connector    *ConnectorState          `json:"connector"`
	Assignments  provisioning.Assignments `json:"assignments"`
	// Roles are the application's roles an assignment can have (any name
	// when it lists none: default User).
	Roles    []string `json:"roles,omitempty"`
	Mappings []string `json:"mappings"`
}

func (s *Server) apps(ctx context.Context) ([]*AppState, error) {
	var out []*AppState
	apps := s.currentApps()
	if apps == nil {
		return out, nil
	}
	for _, a := range apps.Applications {
		st, err := provisioning.LoadState(ctx, s.o.Store, a.Name)
		if err != nil {
			return nil, err
		}
		c, err := s.connectorState(ctx, a.Name)
		if err != nil {
			return nil, err
		}
		v := &AppState{Name: a.Name, Provisioning: a.Provisioning, Deprovision: a.Deprovision, Interval: a.Interval.String(),
			URL: a.SCIMConfig().URL, Cycles: st.Cycles, LastStatus: st.LastStatus, Quarantine: st.Quarantine, Connector: c,
			Assignments: a.Assignments}
		for _, r := range a.AppRoles {
			if r.CanProvision() {
				v.Roles = append(v.Roles, r.Name)
			}
		}
		if !st.LastCycle.IsZero() {
			t := st.LastCycle
			v.LastCycle = &t
		}
		for _, m := range a.Mappings {
			src := m.Source
			switch {
			case m.Expression != "":
				src = m.Expression
			case m.Constant != "":
				src = fmt.Sprintf("%q", m.Constant)
			}
			if m.Redacted() && m.Constant != "" {
				src = provisioning.RedactedValue
			}
			v.Mappings = append(v.Mappings, m.Target+" ← "+src)
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Server) app(name string) (*provisioning.App, error) {
	apps := s.currentApps()
	if apps == nil {
		return nil, fmt.Errorf("no application is configured (provisioning.yaml)")
	}
	return apps.App(name)
}

// activity reads an application's activity report: since (a duration ago
// or an RFC 3339 time), and only the actions given; newest first, at most
// limit.
func (s *Server) activity(name, since string, actions []string, limit int) ([]provisioning.Activity, error) {
	a, err := s.app(name)
	if err != nil {
		return nil, err
	}
	t, err := provisioning.ParseSince(since, s.now())
	if err != nil {
		return nil, err
	}
	acts, err := provisioning.ReadLog(provisioning.LogPath(s.o.DataDir, a.Name), t)
	if err != nil {
		return nil, err
	}
	out := []provisioning.Activity{}
	for i := len(acts) - 1; i >= 0 && len(out) < limit; i-- {
		if len(actions) == 0 || slices.Contains(actions, acts[i].Action) {
			out = append(out, acts[i])
		}
	}
	return out, nil
}

func actionsOf(q url.Values) []string {
	var out []string
	for _, a := range q["action"] {
		for x := range strings.SplitSeq(a, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func (s *Server) pageApps(w http.ResponseWriter, r *http.Request, p *principal) {
	as, err := s.apps(r.Context())
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	s.render(w, r, p, "apps", "Applications", "apps", as)
}

func (s *Server) pageApp(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	as, err := s.apps(r.Context())
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	var app *AppState
	for _, a := range as {
		if a.Name == name {
			app = a
		}
	}
	if app == nil {
		s.fail(w, r, false, http.StatusNotFound, fmt.Sprintf("no application is named %q", name))
		return
	}
	q := r.URL.Query()
	since := q.Get("since")
	if !q.Has("since") {
		since = "168h"
	}
	acts, err := s.activity(name, since, actionsOf(q), 500)
	if err != nil {
		s.fail(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	prog, err := s.appProgress(r.Context(), name)
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	data := map[string]any{"App": app, "Activity": acts, "Since": since,
		"Action": strings.Join(actionsOf(q), ","), "Test": q.Get("test"), "Progress": prog,
		"Edit": s.canConfigure() && p.can(auth.RoleAdmin), "Find": q.Get("find")}
	if data["Edit"] == true {
		a, err := s.app(name)
		if err != nil {
			s.fail(w, r, false, http.StatusNotFound, err.Error())
			return
		}
		cands, err := s.candidates(r.Context(), a, q.Get("find"))
		if err != nil {
			s.storeError(w, r, false, err, "")
			return
		}
		data["Candidates"] = cands
	}
	s.render(w, r, p, "app", name, "apps", data)
}

// postAppTest tests an application's connection (R3.2).
func (s *Server) postAppTest(w http.ResponseWriter, r *http.Request, p *principal) {
	a, err := s.app(r.PathValue("name"))
	if err != nil {
		s.fail(w, r, false, http.StatusNotFound, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	msg := "connection OK: reachable, credentials accepted, schema read"
	outcome := "ok"
	if err := provisioning.TestConnection(ctx, a); err != nil {
		msg = fmt.Sprintf("test connection failed (%s): %v", provisioning.Problem(err), err)
		outcome = "failed"
	}
	s.audit(r, p, "app-test-connection", a.Name, msg, outcome)
	http.Redirect(w, r, "/applications/"+url.PathEscape(a.Name)+"?test="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (s *Server) apiApps(w http.ResponseWriter, r *http.Request, _ *principal) {
	as, err := s.apps(r.Context())
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	if as == nil {
		as = []*AppState{}
	}
	writeJSON(w, http.StatusOK, as)
}

func (s *Server) apiActivity(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	acts, err := s.activity(r.PathValue("name"), q.Get("since"), actionsOf(q), 5000)
	if err != nil {
		s.fail(w, r, true, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, acts)
}
