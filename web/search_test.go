package web

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idsync/idsync/internal/secret"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/sealed"
)

// TestSearchAPI: the metaverse search through the store's index: by
// prefix or exact value, a page at a time with a cursor; an attribute not
// indexed, a bad match or limit, a bad cursor are refused with what to do.
func TestSearchAPI(t *testing.T) {
	s := newSite(t)
	var objs []*store.MVObject
	for i := range 120 {
		objs = append(objs, &store.MVObject{ID: fmt.Sprintf("pager-%03d", i), Type: "person",
			Attrs: model.Attrs{"cn": model.Str(fmt.Sprintf("Pager %03d", i)), "department": model.Str("Paging")}, Modified: time.Now()})
	}
	if err := s.st.Apply(t.Context(), &store.Batch{PutMV: objs}); err != nil {
		t.Fatal(err)
	}
	c := s.login("bea")
	get := func(q url.Values) (int, SearchPage, string) {
		t.Helper()
		r := c.do("GET", "/api/v1/metaverse?"+q.Encode(), nil)
		var p SearchPage
		if r.StatusCode == http.StatusOK {
			if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
				t.Fatalf("search answer: %v\n%s", err, r.Body)
			}
		}
		return r.StatusCode, p, r.Body
	}
	// Three pages of 50, 50 and 20, in order, each object once.
	q := url.Values{"attribute": {"CN"}, "value": {"pager"}, "limit": {"50"}}
	var got []string
	for page := 0; ; page++ {
		code, p, body := get(q)
		if code != http.StatusOK {
			t.Fatalf("page %d: %d %s", page+1, code, body)
		}
		for _, o := range p.Objects {
			got = append(got, o.ID)
			if !strings.HasPrefix(o.Match, "cn: Pager ") || o.DisplayName != strings.TrimPrefix(o.Match, "cn: ") || o.Type != "person" {
				t.Fatalf("result %+v", o)
			}
		}
		if p.Next == "" {
			if page != 2 || p.More {
				t.Fatalf("last page is page %d (more: %v), want 3", page+1, p.More)
			}
			break
		}
		if len(p.Objects) != 50 || !p.More {
			t.Fatalf("page %d: %d objects, more %v", page+1, len(p.Objects), p.More)
		}
		q.Set("after", p.Next)
	}
	if len(got) != 120 || got[0] != "pager-000" || got[119] != "pager-119" {
		t.Fatalf("paged results: %d, %v … %v", len(got), got[:1], got[len(got)-1:])
	}
	for _, tc := range []struct {
		q    url.Values
		code int
		want string // in the answer
	}{
		{url.Values{"attribute": {"cn"}, "value": {"pager 007"}, "match": {"exact"}}, http.StatusOK, `"pager-007"`},
		{url.Values{"attribute": {"cn"}, "value": {"pager 00"}, "match": {"exact"}}, http.StatusOK, `"objects": []`},
		{url.Values{"attribute": {"mail"}, "value": {"ADA@"}}, http.StatusOK, `"match": "mail: ada@example.org"`},
		{url.Values{"value": {"ada love"}}, http.StatusOK, `"displayName": "Ada Lovelace"`}, // displayName by default
		{url.Values{"attribute": {"department"}, "value": {"paging"}}, http.StatusBadRequest, `not indexed for search: search by accountName, cn, displayName`},
		{url.Values{"attribute": {"cn"}, "value": {"x"}, "match": {"contains"}}, http.StatusBadRequest, "match must be prefix or exact"},
		{url.Values{"attribute": {"cn"}, "value": {"x"}, "limit": {"5000"}}, http.StatusBadRequest, "limit must be a number from 1 to 1000"},
		{url.Values{"attribute": {"cn"}, "value": {"x"}, "after": {"!!"}}, http.StatusBadRequest, "not one a search returned"},
	} {
		code, _, body := get(tc.q)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET /api/v1/metaverse?%s: %d %s; want %d with %q", tc.q.Encode(), code, body, tc.code, tc.want)
		}
	}
	// After store.searchAttributes names department, it is searchable,
	// with the objects stored before.
	if err := s.st.SetSearchAttrs(t.Context(), []string{"cn", "department"}); err != nil {
		t.Fatal(err)
	}
	if code, p, body := get(url.Values{"attribute": {"department"}, "value": {"PAGING"}, "match": {"exact"}, "limit": {"1000"}}); code != http.StatusOK || len(p.Objects) != 120 {
		t.Fatalf("search by department after indexing it: %d, %d objects\n%.300s", code, len(p.Objects), body)
	}
}

// TestSearchPage: the console's search pages through results with a
// "Next page" link, and says which attributes it can search.
func TestSearchPage(t *testing.T) {
	s := newSite(t)
	var objs []*store.MVObject
	for i := range 60 {
		objs = append(objs, &store.MVObject{ID: fmt.Sprintf("pager-%03d", i), Type: "person",
			Attrs: model.Attrs{"displayName": model.Str(fmt.Sprintf("Pager %03d", i))}, Modified: time.Now()})
	}
	if err := s.st.Apply(t.Context(), &store.Batch{PutMV: objs}); err != nil {
		t.Fatal(err)
	}
	c := s.login("bea")
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">Next page</a>`)
	body := read(c.do("GET", "/metaverse?attribute=displayName&value=pager", nil))
	if n := strings.Count(body, `href="/metaverse/pager-`); n != store.DefaultSearchLimit {
		t.Fatalf("first page: %d objects, want %d", n, store.DefaultSearchLimit)
	}
	m := next.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no next page link:\n%s", body)
	}
	body = read(c.do("GET", html.UnescapeString(m[1]), nil))
	if n := strings.Count(body, `href="/metaverse/pager-`); n != 10 || !strings.Contains(body, "pager-059") || next.MatchString(body) {
		t.Fatalf("second page: %d objects (want 10, up to pager-059, no next link):\n%s", n, body)
	}
	body = read(c.do("GET", "/metaverse?attribute=department&value=x", nil))
	for _, want := range []string{"&#34;department&#34; is not indexed for search", "<code>userPrincipalName</code>"} {
		if !strings.Contains(body, want) {
			t.Errorf("search by an attribute not indexed: the page lacks %q:\n%s", want, body)
		}
	}
}

// TestSearchSecretRefused: a secret attribute is not searched, even when
// listed for search: its stored values are sealed.
func TestSearchSecretRefused(t *testing.T) {
	s := newSite(t)
	policy := secret.NewPolicy()
	s.web.o.View, s.web.o.Secret = sealed.Masked(s.st, policy), policy.IsSecret
	if err := s.st.SetSearchAttrs(t.Context(), []string{"displayName", "userPassword"}); err != nil {
		t.Fatal(err)
	}
	r := s.login("ann").do("GET", "/api/v1/metaverse?attribute=userPassword&value=Ada", nil)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "secret") || strings.Contains(r.Body, adaPassword) {
		t.Fatalf("search by a secret attribute: %d %s", r.StatusCode, r.Body)
	}
}
