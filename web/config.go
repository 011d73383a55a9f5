package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/connector/ldap"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/provisioning"
	"github.com/idsync/idsync/rules"
)

// Configuration changes made from the console: cloning, disabling and
// enabling sync rules (R2.8). They are written to the console-managed
// files next to the configuration file (config/console.go), then the
// process reloads its configuration (Options.Reload) so that the next run
// uses them.

// errNoReload: the console was started without a way to apply changes.
var errNoReload = errors.New("this console cannot change the configuration (it was started without Options.Reload); use the idsync CLI")

// currentRules and currentConfig are the rule set and configuration the
// console shows: those of Options, replaced by each reload.
func (s *Server) currentRules() *rules.RuleSet {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.o.Rules
}

func (s *Server) currentConfig() *config.Config {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.o.Config
}

// currentApps are the applications as now configured (a reload replaces
// them): Options.Applications, else Options.Apps.
func (s *Server) currentApps() *provisioning.File {
	if s.o.Applications != nil {
		return s.o.Applications()
	}
	return s.o.Apps
}

// previewObject is engine.PreviewObject under EngineMu: the preview reads
// the engine's rules and connectors, which a reload replaces.
func (s *Server) previewObject(ctx context.Context, mvid string) (*engine.ObjectPreview, error) {
	s.o.EngineMu.RLock()
	defer s.o.EngineMu.RUnlock()
	return s.o.Engine.PreviewObject(ctx, mvid)
}

// profiles are the run profiles a connector can run (delta import and
// export as its connector can), read under EngineMu: a reload reopens
// connectors.
func (s *Server) profiles(name string) []string {
	s.o.EngineMu.RLock()
	defer s.o.EngineMu.RUnlock()
	var out []string
	for _, p := range engine.Profiles {
		switch {
		case p == engine.DeltaImport && !s.o.Engine.CanDeltaImport(name),
			p == engine.Export && !s.o.Engine.CanExport(name):
			continue
		}
		out = append(out, string(p))
	}
	return out
}

// canConfigure: the console can change configuration (its forms show).
func (s *Server) canConfigure() bool { return s.o.Reload != nil && s.currentConfig() != nil }

// reload makes the process use the configuration as now written.
func (s *Server) reload(ctx context.Context) error {
	cfg, rs, err := s.o.Reload(ctx)
	if err != nil {
		return fmt.Errorf("the change was saved but could not be applied: %w (fix the files, or undo the change, and restart idsync serve)", err)
	}
	s.cfgMu.Lock()
	s.o.Config, s.o.Rules = cfg, rs
	s.cfgMu.Unlock()
	return nil
}

// RuleEdit is a change to the sync rules asked of the console or API:
// action clone (NewName, Precedence, DisableOriginal), disable or enable.
type RuleEdit struct {
	Action          string `json:"-"`
	Name            string `json:"name"`
	NewName         string `json:"newName,omitempty"`
	Precedence      *int   `json:"precedence,omitempty"`
	DisableOriginal bool   `json:"disableOriginal,omitempty"`
}

// editRule applies a rule change, audits it and reloads; the error is what
// the admin reads (a refused change leaves everything as it was).
func (s *Server) editRule(r *http.Request, p *principal, e RuleEdit) error {
	err := s.applyRuleEdit(r.Context(), e)
	detail := e.Action
	if e.Action == "clone" {
		detail = fmt.Sprintf("clone as %q", e.NewName)
		if e.Precedence != nil {
			detail += fmt.Sprintf(" at precedence %d", *e.Precedence)
		}
		if e.DisableOriginal {
			detail += ", original disabled"
		}
	}
	if err != nil {
		s.audit(r, p, "rule-"+e.Action, e.Name, detail+": "+err.Error(), "failed")
		return err
	}
	s.audit(r, p, "rule-"+e.Action, e.Name, detail, "ok")
	return nil
}

func (s *Server) applyRuleEdit(ctx context.Context, e RuleEdit) error {
	if !s.canConfigure() {
		return errNoReload
	}
	cfg := s.currentConfig()
	var err error
	switch e.Action {
	case "clone":
		if e.Precedence == nil {
			return fmt.Errorf("give the clone a precedence below %d", config.MaxCustomPrecedence)
		}
		_, err = cfg.CloneRule(e.Name, e.NewName, *e.Precedence, e.DisableOriginal, s.o.CheckRules, s.o.ExtraRules...)
	case "disable", "enable":
		err = cfg.SetRuleDisabled(e.Name, e.Action == "disable", s.o.CheckRules, s.o.ExtraRules...)
	default:
		err = fmt.Errorf("unknown rule change %q", e.Action)
	}
	if err != nil {
		return err
	}
	return s.reload(ctx)
}

// postRuleEdit handles the rule detail page's forms (admins).
func (s *Server) postRuleEdit(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		e := RuleEdit{Action: action, Name: r.PostFormValue("name"), NewName: strings.TrimSpace(r.PostFormValue("newName")),
			DisableOriginal: r.PostFormValue("disableOriginal") != ""}
		if v := r.PostFormValue("precedence"); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				s.fail(w, r, false, http.StatusBadRequest, fmt.Sprintf("precedence %q is not a whole number", v))
				return
			}
			e.Precedence = &n
		}
		if err := s.editRule(r, p, e); err != nil {
			s.fail(w, r, false, editStatus(err), err.Error())
			return
		}
		name, flash := e.Name, "Rule "+action+"d"
		if action == "clone" {
			name, flash = e.NewName, fmt.Sprintf("Cloned from %q into %s", e.Name, s.currentConfig().ConsoleRulesPath())
		}
		http.Redirect(w, r, "/rules/detail?name="+url.QueryEscape(name)+"&flash="+url.QueryEscape(flash), http.StatusSeeOther)
	}
}

// apiRuleEdit: POST /api/v1/rules/{clone,disable,enable} with a RuleEdit
// as JSON; answers the rule (the clone for clone).
func (s *Server) apiRuleEdit(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		var e RuleEdit
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.Name == "" {
			s.fail(w, r, true, http.StatusBadRequest, `the body must be JSON: {"name": "rule"} (clone: also "newName", "precedence", optionally "disableOriginal")`)
			return
		}
		e.Action = action
		if err := s.editRule(r, p, e); err != nil {
			s.fail(w, r, true, editStatus(err), err.Error())
			return
		}
		name := e.Name
		if action == "clone" {
			name = e.NewName
		}
		writeJSON(w, http.StatusOK, s.rule(name))
	}
}

// editStatus: 501 when the console cannot change configuration, 422 for a
// change refused.
func editStatus(err error) int {
	if errors.Is(err, errNoReload) {
		return http.StatusNotImplemented
	}
	return http.StatusUnprocessableEntity
}

// The OU tree of an LDAP connector (R2.7): each container with a checkbox
// (its objects synchronized), the "synchronize new OUs" choice, and its
// subtree's state (all, some, none: the tri-state checkbox).

// ouTrees is the connector page's OU section.
type ouTrees struct {
	Trees []*ldap.Tree
	Error string
	// Edit: the console can save a selection (the form's button shows to
	// admins).
	Edit bool
}

// containerTrees reads the OU trees of an LDAP connector; nil for other
// connectors or when the console has no ContainerTrees.
func (s *Server) containerTrees(ctx context.Context, name string) *ouTrees {
	cfg := s.currentConfig()
	if s.o.ContainerTrees == nil || cfg == nil {
		return nil
	}
	cc := cfg.Connector(name)
	if cc == nil || cc.Type != ldap.TypeName {
		return nil
	}
	trees, err := s.o.ContainerTrees(ctx, name)
	out := &ouTrees{Trees: trees, Edit: s.o.SaveContainers != nil && s.canConfigure()}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// saveContainers writes an OU selection, audits it and reloads.
func (s *Server) saveContainers(r *http.Request, p *principal, name string, choices map[string]ldap.Choice) (ldap.Containers, error) {
	var written ldap.Containers
	err := func() error {
		if s.o.SaveContainers == nil || !s.canConfigure() {
			return errNoReload
		}
		cfg := s.currentConfig()
		if cc := cfg.Connector(name); cc == nil || cc.Type != ldap.TypeName {
			return fmt.Errorf("connector %q has no OU tree (OU selection is for ldap connectors)", name)
		}
		var err error
		if written, err = s.o.SaveContainers(r.Context(), name, choices); err != nil {
			return err
		}
		return s.reload(r.Context())
	}()
	if err != nil {
		s.audit(r, p, "containers", name, err.Error(), "failed")
		return written, err
	}
	s.audit(r, p, "containers", name, fmt.Sprintf("include %q, exclude %q, noNewChildren %q", written.Include, written.Exclude, written.NoNewChildren), "ok")
	return written, nil
}

// postContainers: the OU tree's form. Every container shown is posted as
// node, the checked ones as sel, those whose new OUs are synchronized as
// new; containers that were not shown keep their state.
func (s *Server) postContainers(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	sel, nw := map[string]bool{}, map[string]bool{}
	for _, dn := range r.PostForm["sel"] {
		sel[dn] = true
	}
	for _, dn := range r.PostForm["new"] {
		nw[dn] = true
	}
	choices := map[string]ldap.Choice{}
	for _, dn := range r.PostForm["node"] {
		choices[dn] = ldap.Choice{Selected: sel[dn], NewChildren: nw[dn] || !sel[dn]}
	}
	if len(choices) == 0 {
		s.fail(w, r, false, http.StatusBadRequest, "the form names no container")
		return
	}
	if _, err := s.saveContainers(r, p, name, choices); err != nil {
		s.fail(w, r, false, editStatus(err), err.Error())
		return
	}
	http.Redirect(w, r, "/connectors/"+url.PathEscape(name)+"?flash="+url.QueryEscape(
		"OU selection saved: the next cycle imports "+name+" in full (R2.9); check the pending exports before the export")+"#containers", http.StatusSeeOther)
}

// ContainerChoice is a container's selection in the API.
type ContainerChoice struct {
	Selected    bool  `json:"selected"`
	NewChildren *bool `json:"newChildren,omitempty"`
}

func (s *Server) apiContainers(w http.ResponseWriter, r *http.Request, _ *principal) {
	name := r.PathValue("name")
	if err := s.knownConnector(name); err != nil {
		s.fail(w, r, true, http.StatusNotFound, err.Error())
		return
	}
	t := s.containerTrees(r.Context(), name)
	switch {
	case t == nil:
		s.fail(w, r, true, http.StatusNotFound, fmt.Sprintf("connector %q has no OU tree (OU selection is for ldap connectors)", name))
	case t.Error != "":
		s.fail(w, r, true, http.StatusBadGateway, t.Error)
	default:
		writeJSON(w, http.StatusOK, t.Trees)
	}
}

// apiSetContainers: PUT {"DN": {"selected": true, "newChildren": false}, …};
// answers the filtering written.
func (s *Server) apiSetContainers(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	var req map[string]ContainerChoice
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req) == 0 {
		s.fail(w, r, true, http.StatusBadRequest, `the body must be JSON: {"OU=Sales,DC=contoso,DC=com": {"selected": true, "newChildren": false}, …}`)
		return
	}
	choices := map[string]ldap.Choice{}
	for dn, c := range req {
		choices[dn] = ldap.Choice{Selected: c.Selected, NewChildren: c.NewChildren == nil || *c.NewChildren}
	}
	written, err := s.saveContainers(r, p, name, choices)
	if err != nil {
		s.fail(w, r, true, editStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"include": written.Include, "exclude": written.Exclude, "noNewChildren": written.NoNewChildren})
}
