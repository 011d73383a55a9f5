package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/store"
)

// An application's provisioning on/off and assignments, changed from the
// console or the API (admins): written to the console-managed file next
// to provisioning.yaml (provisioning.ConsolePath) by package provisioning,
// audited, then applied by a reload (Options.Reload) so that the running
// scheduler uses them.

// editApp applies a change to an application, audits it and reloads; the
// error is what the admin reads (a refused change writes nothing).
func (s *Server) editApp(r *http.Request, p *principal, app, action, detail string, change func(path string) error) error {
	err := func() error {
		if !s.canConfigure() {
			return errNoReload
		}
		apps := s.currentApps()
		if apps == nil {
			return errors.New("no application is configured (provisioning.yaml)")
		}
		if err := change(apps.Path); err != nil {
			return err
		}
		return s.reload(r.Context())
	}()
	if err != nil {
		s.audit(r, p, "app-"+action, app, detail+": "+err.Error(), "failed")
		return err
	}
	s.audit(r, p, "app-"+action, app, detail, "ok")
	return nil
}

// setProvisioning turns an application's provisioning on or off.
func (s *Server) setProvisioning(r *http.Request, p *principal, app, state string) error {
	if state != "on" && state != "off" {
		return fmt.Errorf("provisioning %q: want on or off", state)
	}
	return s.editApp(r, p, app, "provisioning", "provisioning "+state, func(path string) error {
		_, err := provisioning.SetProvisioning(path, app, state == "on")
		return err
	})
}

// assign assigns (or unassigns) a user or a group to an application; an
// assignment must name a metaverse object that exists.
func (s *Server) assign(r *http.Request, p *principal, app string, x provisioning.Assignment, unassign bool) error {
	action, edit := "assign", provisioning.Assign
	if unassign {
		action, edit = "unassign", provisioning.Unassign
	}
	return s.editApp(r, p, app, action, x.String(), func(path string) error {
		if err := x.Check(); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		if !unassign {
			if err := s.assignedExists(r.Context(), app, x); err != nil {
				return err
			}
		}
		_, err := edit(path, app, x)
		return err
	})
}

// assignedExists checks that an assignment names a metaverse object: a
// person (the application's MV type) or a group, by MV id or by value.
func (s *Server) assignedExists(ctx context.Context, app string, x provisioning.Assignment) error {
	a, err := s.app(app)
	if err != nil {
		return err
	}
	typ, attr, value, id := a.MVObjectType, "", "", ""
	switch {
	case x.User != nil:
		attr, value, id = x.User.Attribute, x.User.Value, x.User.ID
		if attr == "" {
			attr = "accountName"
		}
	case x.Group != nil:
		typ, id = a.GroupType, x.Group.ID
		attr, value = "displayName", x.Group.DisplayName
		if x.Group.SourceAnchor != "" {
			attr, value = "sourceAnchor", x.Group.SourceAnchor
		}
	default:
		return errors.New("name one user or one group")
	}
	if id != "" {
		m, err := s.o.Store.GetMV(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no metaverse object has the id %s (find it with the metaverse search)", id)
		}
		if err != nil {
			return err
		}
		if m.Type != typ {
			return fmt.Errorf("metaverse object %s is a %s, not a %s", id, m.Type, typ)
		}
		return nil
	}
	found := false
	errFound := errors.New("found")
	err = s.o.Store.ScanMV(ctx, func(m *store.MVObject) error {
		if m.Type != typ {
			return nil
		}
		for _, v := range m.Attrs[attr].Values {
			if strings.EqualFold(v, value) {
				found = true
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return err
	}
	if !found {
		return fmt.Errorf("no metaverse %s has %s %q (find it with the metaverse search; it is assigned once imported)", typ, attr, value)
	}
	return nil
}

// assignmentOf makes the assignment of a metaverse object picked in the
// console: a person by accountName, a group by displayName — when no
// other object of its type has the same — else by MV id.
func (s *Server) assignmentOf(ctx context.Context, app, mvid, role string) (provisioning.Assignment, error) {
	a, err := s.app(app)
	if err != nil {
		return provisioning.Assignment{}, err
	}
	m, err := s.o.Store.GetMV(ctx, mvid)
	if errors.Is(err, store.ErrNotFound) {
		return provisioning.Assignment{}, fmt.Errorf("no metaverse object has the id %s", mvid)
	}
	if err != nil {
		return provisioning.Assignment{}, err
	}
	attr := "accountName"
	switch m.Type {
	case a.MVObjectType:
	case a.GroupType:
		attr = "displayName"
	default:
		return provisioning.Assignment{}, fmt.Errorf("metaverse object %s is a %s: %s assigns a %s or a %s", mvid, m.Type, a.Name, a.MVObjectType, a.GroupType)
	}
	name := m.Attrs.First(attr)
	if name != "" {
		n := 0
		err := s.o.Store.ScanMV(ctx, func(o *store.MVObject) error {
			if o.Type == m.Type && strings.EqualFold(o.Attrs.First(attr), name) {
				n++
			}
			return nil
		})
		if err != nil {
			return provisioning.Assignment{}, err
		}
		if n > 1 {
			name = ""
		}
	}
	if m.Type == a.GroupType {
		g := &provisioning.GroupAssignment{DisplayName: name, Role: role}
		if name == "" {
			g.ID = m.ID
		}
		return provisioning.Assignment{Group: g}, nil
	}
	u := &provisioning.UserAssignment{Value: name, Role: role}
	if name == "" {
		u.ID = m.ID
	}
	return provisioning.Assignment{User: u}, nil
}

// appFlash sends the admin back to the application's page.
func appFlash(w http.ResponseWriter, r *http.Request, app, flash, anchor string) {
	http.Redirect(w, r, "/applications/"+url.PathEscape(app)+"?flash="+url.QueryEscape(flash)+anchor, http.StatusSeeOther)
}

// postAppProvisioning: the application page's on/off form (provisioning=on|off).
func (s *Server) postAppProvisioning(w http.ResponseWriter, r *http.Request, p *principal) {
	name, state := r.PathValue("name"), r.PostFormValue("provisioning")
	if err := s.setProvisioning(r, p, name, state); err != nil {
		s.fail(w, r, false, editStatus(err), err.Error())
		return
	}
	msg := "Provisioning is on: the next cycle starts within a minute"
	if state == "off" {
		msg = "Provisioning is off: no cycle runs until it is turned on; nothing was deprovisioned"
	}
	appFlash(w, r, name, msg, "")
}

// postAppAssign: assign the metaverse object picked (mvid) with a role.
func (s *Server) postAppAssign(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	x, err := s.assignmentOf(r.Context(), name, r.PostFormValue("mvid"), strings.TrimSpace(r.PostFormValue("role")))
	if err == nil {
		err = s.assign(r, p, name, x, false)
	}
	if err != nil {
		s.fail(w, r, false, editStatus(err), err.Error())
		return
	}
	appFlash(w, r, name, "Assigned "+x.String()+": the next cycle provisions it", "#assignments")
}

// postAppUnassign: remove an assignment listed on the page (kind user or
// group, and the fields that name it).
func (s *Server) postAppUnassign(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	f := r.PostFormValue
	var x provisioning.Assignment
	switch f("kind") {
	case "user":
		x.User = &provisioning.UserAssignment{Attribute: f("attribute"), Value: f("value"), ID: f("id")}
	case "group":
		x.Group = &provisioning.GroupAssignment{DisplayName: f("displayName"), SourceAnchor: f("sourceAnchor"), ID: f("id")}
	default:
		s.fail(w, r, false, http.StatusBadRequest, "kind must be user or group")
		return
	}
	if err := s.assign(r, p, name, x, true); err != nil {
		s.fail(w, r, false, editStatus(err), err.Error())
		return
	}
	appFlash(w, r, name, "Unassigned "+x.String()+": the next cycle deprovisions its accounts that are no longer assigned", "#assignments")
}

// apiSetAppProvisioning: PUT {"provisioning": "on"|"off"}; answers the
// application.
func (s *Server) apiSetAppProvisioning(w http.ResponseWriter, r *http.Request, p *principal) {
	var req struct {
		Provisioning string `json:"provisioning"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || (req.Provisioning != "on" && req.Provisioning != "off") {
		s.fail(w, r, true, http.StatusBadRequest, `the body must be JSON: {"provisioning": "on"} or {"provisioning": "off"}`)
		return
	}
	if err := s.setProvisioning(r, p, r.PathValue("name"), req.Provisioning); err != nil {
		s.fail(w, r, true, editStatus(err), err.Error())
		return
	}
	s.writeApp(w, r)
}

// apiAppAssign: POST {"user": {"value": "ada", "role": "User"}} or
// {"group": {"displayName": "Sales"}} to assign, or to unassign; answers
// the application.
func (s *Server) apiAppAssign(unassign bool) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		var x provisioning.Assignment
		if err := json.NewDecoder(r.Body).Decode(&x); err != nil || (x.User == nil) == (x.Group == nil) {
			s.fail(w, r, true, http.StatusBadRequest, `the body must be JSON naming one user or one group: {"user": {"value": "ada", "attribute": "accountName", "role": "User"}}, {"user": {"id": "MV id"}} or {"group": {"displayName": "Sales"}} (or sourceAnchor, id)`)
			return
		}
		if err := s.assign(r, p, r.PathValue("name"), x, unassign); err != nil {
			s.fail(w, r, true, editStatus(err), err.Error())
			return
		}
		s.writeApp(w, r)
	}
}

// writeApp answers the application of the request's path as it now is.
func (s *Server) writeApp(w http.ResponseWriter, r *http.Request) {
	as, err := s.apps(r.Context())
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	for _, a := range as {
		if strings.EqualFold(a.Name, r.PathValue("name")) {
			writeJSON(w, http.StatusOK, a)
			return
		}
	}
	s.fail(w, r, true, http.StatusNotFound, fmt.Sprintf("no application is named %q", r.PathValue("name")))
}

// candidates are the metaverse persons and groups an admin can assign to
// an application: those whose displayName, mail or userPrincipalName
// starts with find, through the metaverse search index (an attribute not
// indexed for search is left out).
func (s *Server) candidates(ctx context.Context, a *provisioning.App, find string) ([]SearchResult, error) {
	find = strings.TrimSpace(find)
	if find == "" {
		return nil, nil
	}
	var out []SearchResult
	seen := map[string]bool{}
	for _, typ := range []string{a.MVObjectType, a.GroupType} {
		for _, attr := range []string{"displayName", "mail", "userPrincipalName"} {
			page, err := s.search(ctx, searchQuery{Attribute: attr, Value: find, Match: "prefix", Type: typ, Limit: 20})
			var es *errSearch
			if errors.As(err, &es) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, r := range page.Objects {
				if !seen[r.ID] {
					seen[r.ID] = true
					out = append(out, r)
				}
			}
		}
	}
	if len(out) > 20 {
		out = out[:20]
	}
	return out, nil
}
