package web

import (
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/view"
)

// The REST API: the same data as the pages, as JSON (the shapes of package
// view where the CLI has them).

// storeError answers a store error: 404 for what does not exist.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, api bool, err error, what string) {
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, api, http.StatusNotFound, what+" does not exist")
		return
	}
	s.o.Log.Error("console", "path", r.URL.Path, "err", err)
	s.fail(w, r, api, http.StatusInternalServerError, "reading the store failed: "+err.Error())
}

func (s *Server) apiConnectors(w http.ResponseWriter, r *http.Request, _ *principal) {
	cs, err := s.connectors(r.Context())
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	if cs == nil {
		cs = []*ConnectorState{}
	}
	writeJSON(w, http.StatusOK, cs)
}

func (s *Server) apiPending(w http.ResponseWriter, r *http.Request, _ *principal) {
	rows, err := s.pendingRows(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, true, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

// runRequest is the body of POST /api/v1/connectors/{name}/runs.
type runRequest struct {
	Profile string `json:"profile"`
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request, p *principal) {
	var req runRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, r, true, http.StatusBadRequest, `the body must be JSON: {"profile": "delta-import"}`)
		return
	}
	conn := r.PathValue("name")
	if err := s.startRun(p, conn, req.Profile, engine.RunOptions{}); err != nil {
		s.audit(r, p, "run-profile", conn, req.Profile+": "+err.Error(), "failed")
		s.fail(w, r, true, http.StatusConflict, err.Error())
		return
	}
	s.audit(r, p, "run-profile", conn, req.Profile, "ok")
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "started", "connector": conn, "profile": req.Profile,
		"runs": "/api/v1/runs?connector=" + conn})
}

func (s *Server) apiCS(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	v, err := s.csObject(r.Context(), q.Get("id"), q.Get("connector"), q.Get("anchor"))
	if err != nil {
		s.storeError(w, r, true, err, "the connector space object")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	runs, err := s.o.Store.Runs(r.Context(), store.RunFilter{Connector: q.Get("connector"), OnlyErrors: q.Get("errors") == "true", Limit: limit})
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	if runs == nil {
		runs = []*store.Run{}
	}
	writeJSON(w, http.StatusOK, runs)
}

func (s *Server) apiRunOne(w http.ResponseWriter, r *http.Request, _ *principal) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, true, http.StatusBadRequest, err.Error())
		return
	}
	d, err := s.run(r.Context(), id)
	if err != nil {
		s.storeError(w, r, true, err, "run "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request, _ *principal) {
	sq, err := parseSearch(r.URL.Query())
	if err != nil {
		s.fail(w, r, true, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.search(r.Context(), sq)
	var es *errSearch
	switch {
	case errors.As(err, &es):
		s.fail(w, r, true, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		s.storeError(w, r, true, err, "")
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) apiMV(w http.ResponseWriter, r *http.Request, _ *principal) {
	v, err := s.mvObject(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, true, err, "metaverse object "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// apiMVPreview is what synchronizing a metaverse object would do, rule by
// rule (engine.PreviewObject); it changes nothing.
func (s *Server) apiMVPreview(w http.ResponseWriter, r *http.Request, _ *principal) {
	p, err := s.previewObject(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, true, err, "metaverse object "+r.PathValue("id"))
		return
	}
	s.scrubPreview(p)
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) apiRules(w http.ResponseWriter, r *http.Request, _ *principal) {
	out := []view.Rule{}
	if rs := s.currentRules(); rs != nil {
		for _, rule := range rs.Rules {
			out = append(out, view.FromRule(rule))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiScheduler(w http.ResponseWriter, r *http.Request, _ *principal) {
	st, err := s.schedulerState(r.Context())
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) apiSetScheduler(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Enabled == nil {
		s.fail(w, r, true, http.StatusBadRequest, `the body must be JSON: {"enabled": true|false}`)
		return
	}
	if err := s.setScheduler(r, p, *req.Enabled); err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	s.apiScheduler(w, r, p)
}

func (s *Server) setScheduler(r *http.Request, p *principal, on bool) error {
	action := map[bool]string{true: "scheduler-enable", false: "scheduler-disable"}[on]
	if err := scheduler.SetEnabled(r.Context(), s.o.Store, on); err != nil {
		s.audit(r, p, action, "", err.Error(), "failed")
		return err
	}
	s.audit(r, p, action, "", "", "ok")
	return nil
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	f := store.AuditFilter{User: q.Get("user"), Action: q.Get("action")}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.fail(w, r, true, http.StatusBadRequest, "since must be an RFC 3339 time")
			return
		}
		f.Since = t
	}
	es, err := s.o.Store.Audit(r.Context(), f)
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	if es == nil {
		es = []*store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, es)
}

//go:embed openapi.json
var openAPI []byte

func (s *Server) apiOpenAPI(w http.ResponseWriter, _ *http.Request, _ *principal) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

func (s *Server) apiCycle(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := s.startCycle(p); err != nil {
		s.audit(r, p, "run-cycle", "", err.Error(), "failed")
		s.fail(w, r, true, http.StatusConflict, err.Error())
		return
	}
	s.audit(r, p, "run-cycle", "", "", "ok")
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "started", "runs": "/api/v1/runs"})
}
