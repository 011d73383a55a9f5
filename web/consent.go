package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/idsync/idsync/connector/graph"
	"github.com/idsync/idsync/store"
)

// The Entra ID admin consent of the provider's multi-tenant application
// (R5.5): an admin of the tenant (or of the provider) starts it from the
// tenant's page; Microsoft sends the browser back to /consent/callback,
// which completes it at /consent/complete in the admin's session and
// writes the consenting directory's ID into the tenant's settings, where
// the template's graph connector reads it.

// ConsentOptions are what the console needs for the admin consent.
type ConsentOptions struct {
	Consent *graph.Consent
	// Peek tells which idsync tenant a pending request (by its state's
	// key) is for, without taking it.
	Peek func(r *http.Request, key string) (tenant string, found bool, err error)
	// RedirectURL is the console's /consent/callback as registered.
	RedirectURL string
	// Setting is the tenant setting the directory ID goes to.
	Setting string
}

func (s *Server) postConsent(w http.ResponseWriter, r *http.Request, p *principal) {
	t, ok := s.tenantOf(w, r, false)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	dir := strings.TrimSpace(r.PostForm.Get("directory"))
	if dir == "" {
		dir = t.Domain
	}
	u, _, err := s.o.Consent.Consent.URL(r.Context(), graph.ConsentRequest{Tenant: t.ID, RedirectURI: s.o.Consent.RedirectURL, Directory: dir})
	if err != nil {
		s.audit(r, p, "tenant-consent-start", t.ID, err.Error(), "failed")
		s.fail(w, r, false, http.StatusBadRequest, err.Error())
		return
	}
	s.audit(r, p, "tenant-consent-start", t.ID, "directory "+dashIfEmpty(dir), "ok")
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "(any: organizations)"
	}
	return s
}

// consentParams are the callback's parameters carried to /consent/complete.
var consentParams = []string{"admin_consent", "tenant", "state", "scope", "error", "error_description", "error_uri"}

var consentHop = template.Must(template.New("hop").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={{.}}">
<title>Completing the consent</title></head>
<body><p>Completing the consent… <a href="{{.}}">Continue</a></p></body></html>
`))

// consentCallback is where Microsoft sends the browser. The session cookie
// is SameSite=Strict, so it is not sent on that cross-site navigation: the
// page moves on at once to /consent/complete, a same-site navigation on
// which it is.
func (s *Server) consentCallback(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := url.Values{}
	for _, k := range consentParams {
		if v, ok := r.URL.Query()[k]; ok && len(v) > 0 {
			q.Set(k, v[0])
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentHop.Execute(w, "/consent/complete?"+q.Encode())
}

func (s *Server) consentComplete(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	tid, found, err := s.o.Consent.Peek(r, graph.ConsentStateKey(q.Get("state")))
	switch {
	case err != nil:
		s.fail(w, r, false, http.StatusInternalServerError, err.Error())
		return
	case !found:
		s.audit(r, p, "tenant-consent", "", "unknown, used or expired state", "denied")
		s.fail(w, r, false, http.StatusBadRequest, "this consent link is unknown, already used or expired: start the consent again from the tenant's page")
		return
	case p.Tenant != "" && p.Tenant != tid:
		s.audit(r, p, "denied", r.URL.Path, "consent of tenant "+tid+" by a user of tenant "+p.Tenant, "denied")
		s.fail(w, r, false, http.StatusForbidden, fmt.Sprintf("%s is limited to the tenant %s", p.User, p.Tenant))
		return
	case !p.can("admin"):
		s.fail(w, r, false, http.StatusForbidden, "completing a consent needs the admin role")
		return
	}
	res, err := s.o.Consent.Consent.Callback(r.Context(), tid, q)
	if err != nil {
		s.audit(r, p, "tenant-consent", tid, err.Error(), "failed")
		code := http.StatusBadRequest
		if errors.Is(err, graph.ErrConsentDenied) {
			code = http.StatusForbidden
		}
		s.fail(w, r, false, code, "the consent did not complete: "+err.Error())
		return
	}
	t, err := s.o.Store.GetTenant(r.Context(), tid)
	if err != nil {
		s.storeError(w, r, false, err, "tenant "+tid)
		return
	}
	if _, err := s.setSettings(r, p, t, map[string]string{s.o.Consent.Setting: res.DirectoryID}); err != nil {
		s.fail(w, r, false, tenantStatus(err), err.Error())
		return
	}
	s.audit(r, p, "tenant-consent", tid, "directory "+res.DirectoryID+" consented", store.AuditOK)
	http.Redirect(w, r, tenantURL(tid, "", "Consent granted by directory "+res.DirectoryID+": discover the tenant's users next"), http.StatusSeeOther)
}
