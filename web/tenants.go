package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/tenant"
)

// Tenants (R5): a service provider's customer tenants, their domains and
// settings, and the onboarding wizard — discover, review, confirm,
// spreadsheet — on the same tenant.Onboarder steps as `idsync onboard`,
// so the console makes exactly the command line's checks. The steps run
// while the request waits: a tenant's directory is small.
//
// Access: these are the only routes a tenant-scoped user reaches, for
// their own tenant (handle checks it, with the route's role).

// TenantRow is a tenant of the list.
type TenantRow struct {
	*store.Tenant
	Domains  int `json:"domains"`
	Verified int `json:"verified"`
}

// DomainView is a tenant's domain with the record to publish.
type DomainView struct {
	*store.Domain
	InUse  bool          `json:"inUse"`
	Record tenant.Record `json:"record"`
}

// SettingView is a tenant's setting with its default.
type SettingView struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	Default     string `json:"default"`
	Description string `json:"description,omitempty"`
	Pattern     string `json:"pattern,omitempty"`
}

// TenantView is a tenant with its domains and settings.
type TenantView struct {
	Tenant   *store.Tenant `json:"tenant"`
	Domains  []DomainView  `json:"domains"`
	Settings []SettingView `json:"settings"`
	// SettingsError says why the settings cannot be shown (no template).
	SettingsError string `json:"settingsError,omitempty"`
}

// OnboardingView is where a tenant's onboarding stands.
type OnboardingView struct {
	Summary *tenant.Summary `json:"summary"`
	// AwaitingDelivery is how many new subscribers' passwords await the
	// spreadsheet.
	AwaitingDelivery int `json:"awaitingDelivery"`
}

// ReviewView is the review list.
type ReviewView struct {
	Columns  []string            `json:"columns"`
	Editable []string            `json:"editable"`
	Rows     []*tenant.ReviewRow `json:"rows"`
}

// ConfirmView is what confirming did.
type ConfirmView struct {
	Adds      int             `json:"adds"`
	Updates   int             `json:"updates"`
	Deletes   int             `json:"deletes"`
	Errors    int             `json:"errors"`
	Passwords int             `json:"passwords"`
	Summary   *tenant.Summary `json:"summary"`
}

// tenantStatus is the HTTP status of a tenant operation's error.
func tenantStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrAlreadyExists), errors.Is(err, engine.ErrLocked):
		return http.StatusConflict
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// tenantOf is the path's tenant; it answers 404 when there is none.
func (s *Server) tenantOf(w http.ResponseWriter, r *http.Request, api bool) (*store.Tenant, bool) {
	id := r.PathValue("tenant")
	t, err := s.o.Store.GetTenant(r.Context(), id)
	if err != nil {
		s.storeError(w, r, api, err, "tenant "+strconv.Quote(id))
		return nil, false
	}
	return t, true
}

func (s *Server) tenantRows(ctx context.Context, p *principal) ([]TenantRow, error) {
	ts, err := s.o.Store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	rows := []TenantRow{}
	for _, t := range ts {
		if p.Tenant != "" && t.ID != p.Tenant {
			continue
		}
		ds, err := s.o.Store.Domains(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		row := TenantRow{Tenant: t, Domains: len(ds)}
		for _, d := range ds {
			if d.State == store.DomainVerified {
				row.Verified++
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s *Server) tenantView(ctx context.Context, t *store.Tenant) (*TenantView, error) {
	ds, err := s.o.Store.Domains(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	v := &TenantView{Tenant: t, Domains: []DomainView{}, Settings: []SettingView{}}
	for _, d := range ds {
		v.Domains = append(v.Domains, DomainView{Domain: d, InUse: d.Name == t.Domain, Record: s.o.Tenants.Record(d)})
	}
	tmpl, err := s.template()
	if err == nil {
		var vals map[string]string
		if vals, err = tmpl.Values(t); err == nil {
			for _, st := range tmpl.Settings {
				v.Settings = append(v.Settings, SettingView{Name: st.Name, Value: vals[st.Name], Default: st.Default, Description: st.Description, Pattern: st.Pattern})
			}
		}
	}
	if err != nil {
		v.SettingsError = err.Error()
	}
	return v, nil
}

func (s *Server) template() (*tenant.Template, error) {
	if s.o.TenantTemplate == nil {
		return nil, errors.New("no tenant template is configured (tenants.template)")
	}
	return s.o.TenantTemplate()
}

// onboarder opens a tenant's onboarding under its run lock.
func (s *Server) onboarder(ctx context.Context, id string) (*tenant.Onboarder, func(), error) {
	if s.o.OpenTenant == nil {
		return nil, nil, errors.New("the onboarding wizard is not available in this console")
	}
	ob, done, err := s.o.OpenTenant(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	return ob, done, nil
}

func (s *Server) onboardingView(ctx context.Context, ob *tenant.Onboarder) (*OnboardingView, error) {
	sum, err := ob.Status(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := ob.Delivery(ctx)
	if err != nil {
		return nil, err
	}
	return &OnboardingView{Summary: sum, AwaitingDelivery: len(rows)}, nil
}

func tenantURL(id, sub, flash string) string {
	u := "/tenants/" + url.PathEscape(id) + sub
	if flash != "" {
		u += "?flash=" + url.QueryEscape(flash)
	}
	return u
}

func summaryText(s *tenant.Summary) string {
	t := fmt.Sprintf("%d users in the tenant's directory; confirming would create %d subscribers, update %d, delete %d", s.Users, s.Adds, s.Updates, s.Deletes)
	if s.Errors > 0 {
		t += fmt.Sprintf("; %d errors on objects (see the tenant's run history: idsync --tenant ID runs --errors)", s.Errors)
	}
	return t
}

// Pages.

func (s *Server) pageTenants(w http.ResponseWriter, r *http.Request, p *principal) {
	if p.Tenant != "" {
		http.Redirect(w, r, tenantURL(p.Tenant, "", ""), http.StatusSeeOther)
		return
	}
	rows, err := s.tenantRows(r.Context(), p)
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	s.render(w, r, p, "tenants", "Tenants", "tenants", rows)
}

func (s *Server) pageTenant(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, false)
	if !ok {
		return
	}
	v, err := s.tenantView(r.Context(), t)
	if err != nil {
		s.storeError(w, r, false, err, "")
		return
	}
	data := map[string]any{"T": v, "Consent": s.o.Consent != nil}
	if ob, done, err := s.onboarder(r.Context(), t.ID); err != nil {
		data["OnboardingError"] = err.Error()
	} else {
		ov, err := s.onboardingView(r.Context(), ob)
		done()
		if err != nil {
			data["OnboardingError"] = err.Error()
		} else {
			data["Onboarding"] = ov
		}
	}
	title := t.Name
	if title != t.ID {
		title += " (" + t.ID + ")"
	}
	s.render(w, r, p, "tenant", "Tenant "+title, "tenants", data)
}

func (s *Server) postDomainAdd(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, false)
	if !ok {
		return
	}
	d, err := s.addDomain(r, p, t, r.PostFormValue("domain"))
	if err != nil {
		s.fail(w, r, false, tenantStatus(err), err.Error())
		return
	}
	http.Redirect(w, r, tenantURL(t.ID, "", fmt.Sprintf("Domain %s added (%s): publish its TXT record", d.Name, d.State)), http.StatusSeeOther)
}

func (s *Server) addDomain(r *http.Request, p *principal, t *store.Tenant, name string) (*store.Domain, error) {
	d, err := s.o.Tenants.AddDomain(r.Context(), t.ID, name)
	if err != nil {
		s.audit(r, p, "tenant-domain-add", t.ID, "domain "+name+": "+err.Error(), "failed")
		return nil, err
	}
	s.audit(r, p, "tenant-domain-add", t.ID, "domain "+d.Name, "ok")
	return d, nil
}

func (s *Server) postDomainVerify(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, false)
	if !ok {
		return
	}
	d, err := s.verifyDomain(r, p, t)
	if err != nil {
		s.fail(w, r, false, tenantStatus(err), err.Error())
		return
	}
	msg := fmt.Sprintf("Domain %s: %s", d.Name, d.State)
	if d.Reason != "" {
		msg += " (" + d.Reason + ")"
	}
	http.Redirect(w, r, tenantURL(t.ID, "", msg), http.StatusSeeOther)
}

func (s *Server) verifyDomain(r *http.Request, p *principal, t *store.Tenant) (*store.Domain, error) {
	name := r.PathValue("domain")
	d, err := s.o.Tenants.Verify(r.Context(), t.ID, name)
	if err != nil {
		s.audit(r, p, "tenant-domain-verify", t.ID, "domain "+name+": "+err.Error(), "failed")
		return nil, err
	}
	s.audit(r, p, "tenant-domain-verify", t.ID, "domain "+d.Name+": "+string(d.State), "ok")
	return d, nil
}

func (s *Server) postDomainUse(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, false)
	if !ok {
		return
	}
	nt, err := s.useDomain(r, p, t)
	if err != nil {
		s.fail(w, r, false, tenantStatus(err), err.Error())
		return
	}
	http.Redirect(w, r, tenantURL(t.ID, "", "The tenant's domain is now "+nt.Domain), http.StatusSeeOther)
}

func (s *Server) useDomain(r *http.Request, p *principal, t *store.Tenant) (*store.Tenant, error) {
	name := r.PathValue("domain")
	nt, err := s.o.Tenants.UseDomain(r.Context(), t.ID, name)
	if err != nil {
		s.audit(r, p, "tenant-domain-use", t.ID, "domain "+name+": "+err.Error(), "failed")
		return nil, err
	}
	was := t.Domain
	if was == "" {
		was = "-"
	}
	s.audit(r, p, "tenant-domain-use", t.ID, fmt.Sprintf("domain %s (was %s)", nt.Domain, was), "ok")
	return nt, nil
}

// setSettings checks (Template.Set) and stores settings; it returns the
// ones that changed, as NAME=VALUE.
func (s *Server) setSettings(r *http.Request, p *principal, t *store.Tenant, set map[string]string) ([]string, error) {
	tmpl, err := s.template()
	if err != nil {
		return nil, err
	}
	before, err := tmpl.Values(t)
	if err != nil {
		return nil, err
	}
	var changed []string
	for k, v := range set {
		if old, ok := before[k]; !ok || old != v {
			changed = append(changed, k+"="+v)
		}
	}
	sort.Strings(changed)
	if len(changed) == 0 {
		return nil, nil
	}
	if err := tmpl.Set(t, set); err != nil {
		s.audit(r, p, "tenant-settings", t.ID, strings.Join(changed, ", ")+": "+err.Error(), "failed")
		return nil, err
	}
	t.Modified = s.now()
	if err := s.o.Store.PutTenant(r.Context(), t); err != nil {
		s.audit(r, p, "tenant-settings", t.ID, strings.Join(changed, ", ")+": "+err.Error(), "failed")
		return nil, err
	}
	s.audit(r, p, "tenant-settings", t.ID, strings.Join(changed, ", "), "ok")
	return changed, nil
}

func (s *Server) postTenantSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, false)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	set := map[string]string{}
	for k, v := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "set."); ok && len(v) > 0 {
			set[name] = strings.TrimSpace(v[0])
		}
	}
	changed, err := s.setSettings(r, p, t, set)
	if err != nil {
		s.fail(w, r, false, tenantStatus(err), err.Error())
		return
	}
	msg := "No setting changed"
	if len(changed) > 0 {
		msg = "Settings changed: " + strings.Join(changed, ", ")
	}
	http.Redirect(w, r, tenantURL(t.ID, "", msg), http.StatusSeeOther)
}

// step runs an onboarding step on the path's tenant: fn gets the tenant's
// onboarder (under its run lock, released after fn).
func (s *Server) step(w http.ResponseWriter, r *http.Request, api bool, fn func(t *store.Tenant, ob *tenant.Onboarder)) {
	t, ok := s.tenantOf(w, r, api)
	if !ok {
		return
	}
	ob, done, err := s.onboarder(r.Context(), t.ID)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, engine.ErrLocked) {
			code = http.StatusConflict
		}
		s.fail(w, r, api, code, err.Error())
		return
	}
	defer done()
	fn(t, ob)
}

func (s *Server) discover(r *http.Request, p *principal, t *store.Tenant, ob *tenant.Onboarder) (*tenant.Summary, error) {
	sum, err := ob.Discover(r.Context())
	if err != nil {
		s.audit(r, p, "onboard-discover", t.ID, err.Error(), "failed")
		return nil, err
	}
	s.audit(r, p, "onboard-discover", t.ID, fmt.Sprintf("%d users, %d to create", sum.Users, sum.Adds), "ok")
	return sum, nil
}

func (s *Server) postDiscover(w http.ResponseWriter, r *http.Request, p *principal) {
	s.step(w, r, false, func(t *store.Tenant, ob *tenant.Onboarder) {
		sum, err := s.discover(r, p, t, ob)
		if err != nil {
			s.fail(w, r, false, http.StatusInternalServerError, "discover: "+err.Error())
			return
		}
		http.Redirect(w, r, tenantURL(t.ID, "", "Discovered: "+summaryText(sum)), http.StatusSeeOther)
	})
}

// reviewRow is a row of the review page: its cells, and the errors of a
// review that was refused.
type reviewRow struct {
	*tenant.ReviewRow
	Cells  []reviewCell
	Errors []string
}

type reviewCell struct {
	Column, Value, Field string
	Editable             bool
}

func reviewRows(ob *tenant.Onboarder, rows []*tenant.ReviewRow) []*reviewRow {
	cols := ob.Columns()
	out := make([]*reviewRow, 0, len(rows))
	for _, r := range rows {
		rr := &reviewRow{ReviewRow: r}
		for _, c := range cols {
			editable := r.Include && contains(ob.OB.ReviewColumns, c)
			rr.Cells = append(rr.Cells, reviewCell{Column: c, Value: r.Values[c], Field: "v:" + c + ":" + r.ID, Editable: editable})
		}
		out = append(out, rr)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) pageReview(w http.ResponseWriter, r *http.Request, p *principal) {
	s.step(w, r, false, func(t *store.Tenant, ob *tenant.Onboarder) {
		rows, err := ob.ReviewRows(r.Context())
		if err != nil {
			s.fail(w, r, false, http.StatusInternalServerError, err.Error())
			return
		}
		s.renderReview(w, r, p, t, ob, reviewRows(ob, rows), nil)
	})
}

func (s *Server) renderReview(w http.ResponseWriter, r *http.Request, p *principal, t *store.Tenant, ob *tenant.Onboarder, rows []*reviewRow, errs []string) {
	if errs != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	s.render(w, r, p, "review", "Review the onboarding of "+t.Name, "tenants", map[string]any{
		"Tenant": t, "Columns": ob.Columns(), "Editable": ob.OB.ReviewColumns, "Rows": rows, "Errors": errs,
		"CanEdit": ob.OB.Review != ""})
}

func (s *Server) downloadReview(w http.ResponseWriter, r *http.Request, _ *principal) {
	s.step(w, r, false, func(t *store.Tenant, ob *tenant.Onboarder) { s.writeReviewCSV(w, r, t, ob) })
}

func (s *Server) writeReviewCSV(w http.ResponseWriter, r *http.Request, t *store.Tenant, ob *tenant.Onboarder) {
	rows, err := ob.ReviewRows(r.Context())
	if err != nil {
		s.fail(w, r, false, http.StatusInternalServerError, err.Error())
		return
	}
	var b bytes.Buffer
	if err := ob.WriteReviewCSV(&b, rows); err != nil {
		s.fail(w, r, false, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "review-"+t.ID+".csv"))
	_, _ = w.Write(b.Bytes())
}

// lineRE finds the line an ApplyReview error is about.
var lineRE = regexp.MustCompile(`^line (\d+): `)

// applyReview applies a review list (CSV) and audits it. On a refused
// list it returns the error's lines.
func (s *Server) applyReview(r *http.Request, p *principal, t *store.Tenant, ob *tenant.Onboarder, list io.Reader) (*tenant.ApplyResult, []string, error) {
	res, err := ob.ApplyReview(r.Context(), list)
	if err != nil {
		s.audit(r, p, "onboard-review", t.ID, err.Error(), "failed")
		var lines []string
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return nil, lines, err
	}
	s.audit(r, p, "onboard-review", t.ID, fmt.Sprintf("%d edited, %d excluded, %d included", res.Edited, res.Excluded, res.Included), "ok")
	return res, nil, nil
}

// postReview turns the review form into the review list's CSV — id,
// include, the editable columns — and applies it as `idsync onboard
// review --apply` does: checked whole, nothing changed unless valid.
func (s *Server) postReview(w http.ResponseWriter, r *http.Request, p *principal) {
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	s.step(w, r, false, func(t *store.Tenant, ob *tenant.Onboarder) {
		cur, err := ob.ReviewRows(r.Context())
		if err != nil {
			s.fail(w, r, false, http.StatusInternalServerError, err.Error())
			return
		}
		byID := map[string]*tenant.ReviewRow{}
		for _, c := range cur {
			byID[c.ID] = c
		}
		included := map[string]bool{}
		for _, id := range r.PostForm["include"] {
			included[id] = true
		}
		var b bytes.Buffer
		cw := csv.NewWriter(&b)
		_ = cw.Write(append([]string{"id", "include"}, ob.OB.ReviewColumns...))
		ids := r.PostForm["id"]
		// The rows as submitted, to show them again if refused.
		var shown []*tenant.ReviewRow
		for _, id := range ids {
			inc := "no"
			if included[id] {
				inc = "yes"
			}
			rec := []string{id, inc}
			row := &tenant.ReviewRow{ID: id, Include: included[id], State: "unknown", Values: map[string]string{}}
			if c := byID[id]; c != nil {
				row.State, row.Edited = c.State, c.Edited
				for k, v := range c.Values {
					row.Values[k] = v
				}
			}
			for _, col := range ob.OB.ReviewColumns {
				v, ok := r.PostForm["v:"+col+":"+id]
				if ok && len(v) > 0 {
					row.Values[col] = v[0]
				}
				rec = append(rec, row.Values[col])
			}
			_ = cw.Write(rec)
			shown = append(shown, row)
		}
		cw.Flush()
		res, errs, err := s.applyReview(r, p, t, ob, &b)
		if err != nil {
			rows := reviewRows(ob, shown)
			for i, rr := range rows {
				// A refused row keeps its inputs, edited or not.
				for j := range rr.Cells {
					rr.Cells[j].Editable = rr.Include && contains(ob.OB.ReviewColumns, rr.Cells[j].Column)
				}
				line := strconv.Itoa(i + 2)
				for k, e := range errs {
					if m := lineRE.FindStringSubmatch(e); m != nil && m[1] == line {
						rr.Errors = append(rr.Errors, strings.TrimPrefix(e, m[0]))
						errs[k] = fmt.Sprintf("user %s (line %s of the list): %s", rr.ID, line, strings.TrimPrefix(e, m[0]))
					}
				}
			}
			s.renderReview(w, r, p, t, ob, rows, errs)
			return
		}
		http.Redirect(w, r, tenantURL(t.ID, "/review", fmt.Sprintf("Review applied: %d values edited, %d users removed from the import, %d brought back. %s",
			res.Edited, res.Excluded, res.Included, summaryText(res.Summary))), http.StatusSeeOther)
	})
}

func (s *Server) confirm(r *http.Request, p *principal, t *store.Tenant, ob *tenant.Onboarder) (*ConfirmView, error) {
	res, err := ob.Confirm(r.Context())
	if err != nil {
		s.audit(r, p, "onboard-confirm", t.ID, err.Error(), "failed")
		return nil, err
	}
	v := &ConfirmView{Adds: res.Adds, Updates: res.Updates, Deletes: res.Deletes, Errors: res.Errors, Passwords: res.Passwords, Summary: res.Summary}
	s.audit(r, p, "onboard-confirm", t.ID, fmt.Sprintf("%d created, %d updated, %d deleted, %d errors; %d passwords await delivery",
		v.Adds, v.Updates, v.Deletes, v.Errors, v.Passwords), "ok")
	return v, nil
}

func (s *Server) postConfirm(w http.ResponseWriter, r *http.Request, p *principal) {
	s.step(w, r, false, func(t *store.Tenant, ob *tenant.Onboarder) {
		v, err := s.confirm(r, p, t, ob)
		if err != nil {
			s.fail(w, r, false, http.StatusInternalServerError, "confirm: "+err.Error())
			return
		}
		http.Redirect(w, r, tenantURL(t.ID, "", fmt.Sprintf("Confirmed: %d subscribers created, %d updated, %d deleted, %d errors; %d passwords await delivery",
			v.Adds, v.Updates, v.Deletes, v.Errors, v.Passwords)), http.StatusSeeOther)
	})
}

func (s *Server) postSpreadsheet(w http.ResponseWriter, r *http.Request, p *principal) {
	s.spreadsheet(w, r, p, false)
}

func (s *Server) apiSpreadsheet(w http.ResponseWriter, r *http.Request, p *principal) {
	s.spreadsheet(w, r, p, true)
}

// spreadsheet delivers the passwords awaiting delivery as XLSX (default)
// or CSV (format=csv), once: they are forgotten (Onboarder.Delivered)
// only after the whole file was written to the connection, so a failed
// download leaves them for the next one. Audited with who and how many.
func (s *Server) spreadsheet(w http.ResponseWriter, r *http.Request, p *principal, api bool) {
	format := r.FormValue("format")
	if format == "" {
		format = "xlsx"
	}
	if format != "xlsx" && format != "csv" {
		s.fail(w, r, api, http.StatusBadRequest, fmt.Sprintf("format %q: xlsx or csv", format))
		return
	}
	s.step(w, r, api, func(t *store.Tenant, ob *tenant.Onboarder) {
		rows, err := ob.Delivery(r.Context())
		if err != nil {
			s.audit(r, p, "onboard-spreadsheet", t.ID, err.Error(), "failed")
			s.fail(w, r, api, http.StatusInternalServerError, err.Error())
			return
		}
		if len(rows) == 0 {
			s.audit(r, p, "onboard-spreadsheet", t.ID, "no passwords await delivery", "failed")
			s.fail(w, r, api, http.StatusConflict, fmt.Sprintf("tenant %s: no passwords await delivery: a spreadsheet is delivered once; new subscribers' passwords come with the next confirm (a lost password is replaced by resetting it)", t.ID))
			return
		}
		sort.SliceStable(rows, func(i, j int) bool { return strings.Join(rows[i], "\x00") < strings.Join(rows[j], "\x00") })
		var b bytes.Buffer
		ctype := "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		if format == "csv" {
			ctype = "text/csv; charset=utf-8"
			err = tenant.WriteSpreadsheetCSV(&b, ob.OB.Spreadsheet, rows)
		} else {
			err = tenant.WriteXLSX(&b, "Subscribers", ob.OB.Spreadsheet, rows)
		}
		if err != nil {
			s.audit(r, p, "onboard-spreadsheet", t.ID, err.Error(), "failed")
			s.fail(w, r, api, http.StatusInternalServerError, err.Error())
			return
		}
		name := fmt.Sprintf("%s-passwords-%s.%s", t.ID, s.now().UTC().Format("20060102-150405"), format)
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		h.Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(http.StatusOK)
		n, werr := w.Write(b.Bytes())
		if werr == nil {
			werr = http.NewResponseController(w).Flush()
		}
		if werr != nil || n != b.Len() {
			s.audit(r, p, "onboard-spreadsheet", t.ID, fmt.Sprintf("%d passwords as %s: the download broke off (%v); they still await delivery", len(rows), format, werr), "failed")
			return
		}
		if err := ob.Delivered(context.WithoutCancel(r.Context())); err != nil {
			s.o.Log.Error("onboarding: forgetting delivered passwords", "tenant", t.ID, "err", err)
			s.audit(r, p, "onboard-spreadsheet", t.ID, fmt.Sprintf("%d passwords as %s delivered, but forgetting them failed (%v): they can be downloaded again", len(rows), format, err), "failed")
			return
		}
		s.audit(r, p, "onboard-spreadsheet", t.ID, fmt.Sprintf("%d passwords as %s (%s) at %s", len(rows), format, name, s.now().UTC().Format(time.RFC3339)), "ok")
	})
}

// The API.

func (s *Server) apiTenants(w http.ResponseWriter, r *http.Request, p *principal) {
	rows, err := s.tenantRows(r.Context(), p)
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func (s *Server) apiTenant(w http.ResponseWriter, r *http.Request, _ *principal) {
	t, ok := s.tenantOf(w, r, true)
	if !ok {
		return
	}
	v, err := s.tenantView(r.Context(), t)
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// decodeJSON reads a JSON body into v, answering 400 if it cannot.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any, example string) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		s.fail(w, r, true, http.StatusBadRequest, "the body must be JSON: "+example+" ("+err.Error()+")")
		return false
	}
	return true
}

func (s *Server) apiDomainAdd(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, true)
	if !ok {
		return
	}
	var req struct {
		Domain string `json:"domain"`
	}
	if !s.decodeJSON(w, r, &req, `{"domain": "contoso.com"}`) {
		return
	}
	d, err := s.addDomain(r, p, t, req.Domain)
	if err != nil {
		s.fail(w, r, true, tenantStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, DomainView{Domain: d, InUse: d.Name == t.Domain, Record: s.o.Tenants.Record(d)})
}

func (s *Server) apiDomainVerify(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, true)
	if !ok {
		return
	}
	d, err := s.verifyDomain(r, p, t)
	if err != nil {
		s.fail(w, r, true, tenantStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, DomainView{Domain: d, InUse: d.Name == t.Domain, Record: s.o.Tenants.Record(d)})
}

func (s *Server) apiDomainUse(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, true)
	if !ok {
		return
	}
	nt, err := s.useDomain(r, p, t)
	if err != nil {
		s.fail(w, r, true, tenantStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, nt)
}

func (s *Server) apiSetTenantSettings(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, true)
	if !ok {
		return
	}
	set := map[string]string{}
	if !s.decodeJSON(w, r, &set, `{"extensionStart": "2001"}`) {
		return
	}
	if _, err := s.setSettings(r, p, t, set); err != nil {
		s.fail(w, r, true, tenantStatus(err), err.Error())
		return
	}
	v, err := s.tenantView(r.Context(), t)
	if err != nil {
		s.storeError(w, r, true, err, "")
		return
	}
	writeJSON(w, http.StatusOK, v.Settings)
}

func (s *Server) apiOnboarding(w http.ResponseWriter, r *http.Request, _ *principal) {
	s.step(w, r, true, func(_ *store.Tenant, ob *tenant.Onboarder) {
		v, err := s.onboardingView(r.Context(), ob)
		if err != nil {
			s.fail(w, r, true, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

func (s *Server) apiDiscover(w http.ResponseWriter, r *http.Request, p *principal) {
	s.step(w, r, true, func(t *store.Tenant, ob *tenant.Onboarder) {
		sum, err := s.discover(r, p, t, ob)
		if err != nil {
			s.fail(w, r, true, http.StatusInternalServerError, "discover: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, sum)
	})
}

// apiReview is the review list: JSON, or with format=csv the CSV that
// POST takes back, edited.
func (s *Server) apiReview(w http.ResponseWriter, r *http.Request, _ *principal) {
	s.step(w, r, true, func(t *store.Tenant, ob *tenant.Onboarder) {
		if r.URL.Query().Get("format") == "csv" {
			s.writeReviewCSV(w, r, t, ob)
			return
		}
		rows, err := ob.ReviewRows(r.Context())
		if err != nil {
			s.fail(w, r, true, http.StatusInternalServerError, err.Error())
			return
		}
		if rows == nil {
			rows = []*tenant.ReviewRow{}
		}
		writeJSON(w, http.StatusOK, ReviewView{Columns: ob.Columns(), Editable: ob.OB.ReviewColumns, Rows: rows})
	})
}

// apiApplyReview applies an edited review list: a text/csv body as GET
// …/review?format=csv writes it.
func (s *Server) apiApplyReview(w http.ResponseWriter, r *http.Request, p *principal) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "text/csv" {
		s.fail(w, r, true, http.StatusUnsupportedMediaType, "send the review list as Content-Type: text/csv (as GET …/onboarding/review?format=csv writes it)")
		return
	}
	s.step(w, r, true, func(t *store.Tenant, ob *tenant.Onboarder) {
		res, errs, err := s.applyReview(r, p, t, ob, r.Body)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": err.Error(), "errors": errs})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

func (s *Server) apiConfirm(w http.ResponseWriter, r *http.Request, p *principal) {
	s.step(w, r, true, func(t *store.Tenant, ob *tenant.Onboarder) {
		v, err := s.confirm(r, p, t, ob)
		if err != nil {
			s.fail(w, r, true, http.StatusInternalServerError, "confirm: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}
