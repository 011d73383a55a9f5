package conformance

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idsync/idsync/store"
)

// The Users group: the console's local accounts and their API tokens. The
// Audit group: the append-only audit log.

func consoleUser(name, role string) *store.User {
	return &store.User{
		Name:         name,
		Role:         role,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		Created:      ts,
		Modified:     ts.Add(time.Second),
	}
}

func putUser(t *testing.T, s store.Store, u *store.User) {
	t.Helper()
	if err := s.PutUser(t.Context(), u); err != nil {
		t.Fatalf("PutUser(%q): %v", u.Name, err)
	}
}

func sameUser(t *testing.T, what string, got, want *store.User) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil user", what)
	}
	checkTime(t, what+": Created", got.Created, want.Created)
	checkTime(t, what+": Modified", got.Modified, want.Modified)
	g, w := *got, *want
	g.Created, g.Modified, w.Created, w.Modified = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if g != w {
		t.Fatalf("%s = %+v, want %+v", what, g, w)
	}
}

func userNames(t *testing.T, s store.Store) []string {
	t.Helper()
	us, err := s.Users(t.Context())
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	return names
}

func apiToken(id, user string, created time.Time) *store.APIToken {
	return &store.APIToken{ID: id, User: user, Name: "token " + id, Hash: fmt.Sprintf("%064x", id), Created: created}
}

func putToken(t *testing.T, s store.Store, tok *store.APIToken) {
	t.Helper()
	if err := s.PutAPIToken(t.Context(), tok); err != nil {
		t.Fatalf("PutAPIToken(%s): %v", tok.ID, err)
	}
}

func optTime(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	if want != nil {
		checkTime(t, what, *got, *want)
	}
}

func sameToken(t *testing.T, what string, got, want *store.APIToken) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil token", what)
	}
	checkTime(t, what+": Created", got.Created, want.Created)
	optTime(t, what+": Expires", got.Expires, want.Expires)
	optTime(t, what+": LastUsed", got.LastUsed, want.LastUsed)
	g, w := *got, *want
	g.Created, w.Created = time.Time{}, time.Time{}
	g.Expires, g.LastUsed, w.Expires, w.LastUsed = nil, nil, nil, nil
	if g != w {
		t.Fatalf("%s = %+v, want %+v", what, g, w)
	}
}

func tokenIDs(t *testing.T, s store.Store, user string) []string {
	t.Helper()
	toks, err := s.APITokens(t.Context(), user)
	if err != nil {
		t.Fatalf("APITokens(%q): %v", user, err)
	}
	var ids []string
	for _, tok := range toks {
		ids = append(ids, tok.ID)
	}
	return ids
}

var userTests = []testCase{
	{"PutGetReplace", func(t *testing.T, s store.Store) {
		if _, err := s.GetUser(t.Context(), "ann"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetUser of an unknown user: %v, want store.ErrNotFound", err)
		}
		ann := consoleUser("Ann", "admin")
		ann.Tenant = "contoso"
		ann.Disabled = true
		putUser(t, s, ann)
		for _, name := range []string{"Ann", "ann", "ANN"} {
			got, err := s.GetUser(t.Context(), name)
			if err != nil {
				t.Fatalf("GetUser(%q): %v", name, err)
			}
			sameUser(t, "GetUser("+name+")", got, ann)
		}
		// A put of the same name in another case replaces the user, with
		// the new spelling.
		repl := consoleUser("ANN", "browse")
		repl.Created = ts.Add(-time.Hour)
		repl.PasswordHash = ""
		putUser(t, s, repl)
		got, err := s.GetUser(t.Context(), "ann")
		if err != nil {
			t.Fatal(err)
		}
		sameUser(t, "GetUser after a replace", got, repl)
		if names := userNames(t, s); !slices.Equal(names, []string{"ANN"}) {
			t.Fatalf("Users = %q, want [ANN]", names)
		}
		if err := s.PutUser(t.Context(), consoleUser("", "admin")); err == nil {
			t.Fatal("PutUser accepted an empty name")
		}
	}},
	{"ListAndDelete", func(t *testing.T, s store.Store) {
		for _, n := range []string{"carol", "Bob", "alice", "Émile", "dave"} {
			putUser(t, s, consoleUser(n, "operator"))
		}
		if names := userNames(t, s); !slices.Equal(names, []string{"alice", "Bob", "carol", "dave", "Émile"}) {
			t.Fatalf("Users = %q, want them by folded name", names)
		}
		if err := s.DeleteUser(t.Context(), "BOB"); err != nil {
			t.Fatalf("DeleteUser(BOB): %v", err)
		}
		if err := s.DeleteUser(t.Context(), "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteUser of a deleted user: %v, want store.ErrNotFound", err)
		}
		if names := userNames(t, s); !slices.Equal(names, []string{"alice", "carol", "dave", "Émile"}) {
			t.Fatalf("Users after delete = %q", names)
		}
		if _, err := s.GetUser(t.Context(), "émile"); err != nil {
			t.Fatalf("GetUser folds non-ASCII letters: %v", err)
		}
	}},
	{"Tokens", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("Ann", "admin"))
		putUser(t, s, consoleUser("bob", "browse"))
		exp, used := ts.Add(90*24*time.Hour), ts.Add(time.Minute)
		t1 := apiToken("t1", "ann", ts)
		t1.Expires, t1.LastUsed = &exp, &used
		t2 := apiToken("t2", "Ann", ts.Add(-time.Microsecond)) // created first
		t3 := apiToken("t3", "BOB", ts)
		for _, tok := range []*store.APIToken{t1, t2, t3} {
			putToken(t, s, tok)
		}
		got, err := s.APITokenByHash(t.Context(), t1.Hash)
		if err != nil {
			t.Fatalf("APITokenByHash: %v", err)
		}
		want := *t1
		want.User = "Ann" // the user's name as stored
		sameToken(t, "APITokenByHash", got, &want)
		if _, err := s.APITokenByHash(t.Context(), fmt.Sprintf("%064x", "nope")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("APITokenByHash of an unknown hash: %v, want store.ErrNotFound", err)
		}
		if ids := tokenIDs(t, s, ""); !slices.Equal(ids, []string{"t2", "t1", "t3"}) {
			t.Fatalf("APITokens(\"\") = %q, want by user, then creation time", ids)
		}
		if ids := tokenIDs(t, s, "ANN"); !slices.Equal(ids, []string{"t2", "t1"}) {
			t.Fatalf("APITokens(ANN) = %q", ids)
		}
		if ids := tokenIDs(t, s, "nobody"); len(ids) != 0 {
			t.Fatalf("APITokens(nobody) = %q", ids)
		}
		// A put of the same ID replaces the token (recording its use).
		later := ts.Add(time.Hour)
		t2.LastUsed = &later
		putToken(t, s, t2)
		toks, err := s.APITokens(t.Context(), "ann")
		if err != nil || len(toks) != 2 {
			t.Fatalf("APITokens(ann) = %v, %v", toks, err)
		}
		want = *t2
		want.User = "Ann"
		sameToken(t, "token after a replace", toks[0], &want)
		if !toks[1].Expired(exp) || toks[1].Expired(exp.Add(-time.Nanosecond)) || toks[0].Expired(exp.Add(1000*time.Hour)) {
			t.Fatal("Expired: want true from Expires on, false before and without Expires")
		}
		// Another token with a taken hash, or of an unknown user.
		dup := apiToken("t4", "ann", ts)
		dup.Hash = t3.Hash
		if err := s.PutAPIToken(t.Context(), dup); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("PutAPIToken with another token's hash: %v, want store.ErrAlreadyExists", err)
		}
		if err := s.PutAPIToken(t.Context(), apiToken("t5", "carol", ts)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("PutAPIToken of an unknown user: %v, want store.ErrNotFound", err)
		}
		if err := s.DeleteAPIToken(t.Context(), "t3"); err != nil {
			t.Fatalf("DeleteAPIToken: %v", err)
		}
		if err := s.DeleteAPIToken(t.Context(), "t3"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteAPIToken of a deleted token: %v, want store.ErrNotFound", err)
		}
		if _, err := s.APITokenByHash(t.Context(), t3.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("APITokenByHash of a deleted token: %v", err)
		}
	}},
	{"ReplaceKeepsTokensDeleteDropsThem", func(t *testing.T, s store.Store) {
		putUser(t, s, consoleUser("ann", "admin"))
		putUser(t, s, consoleUser("bob", "admin"))
		putToken(t, s, apiToken("a1", "ann", ts))
		putToken(t, s, apiToken("b1", "bob", ts))
		putUser(t, s, consoleUser("Ann", "operator")) // a replace keeps the user's tokens
		if ids := tokenIDs(t, s, "ann"); !slices.Equal(ids, []string{"a1"}) {
			t.Fatalf("tokens after replacing their user = %q, want [a1]", ids)
		}
		if err := s.DeleteUser(t.Context(), "ann"); err != nil {
			t.Fatal(err)
		}
		if ids := tokenIDs(t, s, ""); !slices.Equal(ids, []string{"b1"}) {
			t.Fatalf("tokens after deleting their user = %q, want [b1]", ids)
		}
		if _, err := s.APITokenByHash(t.Context(), apiToken("a1", "", ts).Hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a deleted user's token is still found: %v", err)
		}
		// A user of the same name made again does not get the old tokens.
		putUser(t, s, consoleUser("ann", "admin"))
		if ids := tokenIDs(t, s, "ann"); len(ids) != 0 {
			t.Fatalf("a new user of a deleted one's name has tokens %q", ids)
		}
	}},
}

func addAudit(t *testing.T, s store.Store, e *store.AuditEntry) *store.AuditEntry {
	t.Helper()
	if err := s.AddAudit(t.Context(), e); err != nil {
		t.Fatalf("AddAudit(%+v): %v", e, err)
	}
	return e
}

func auditIDs(t *testing.T, s store.Store, f store.AuditFilter) []int64 {
	t.Helper()
	es, err := s.Audit(t.Context(), f)
	if err != nil {
		t.Fatalf("Audit(%+v): %v", f, err)
	}
	var ids []int64
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

var auditTests = []testCase{
	{"AddAndRead", func(t *testing.T, s store.Store) {
		full := &store.AuditEntry{Time: ts, User: "Ann", Role: "admin", Action: "run-profile", Target: "contoso",
			Detail: "full-import\nwith ünïcödé", Remote: "192.0.2.7:51234", Outcome: store.AuditOK}
		want := *full
		addAudit(t, s, full)
		if full.ID <= 0 {
			t.Fatalf("AddAudit set ID %d, want a positive one", full.ID)
		}
		bare := addAudit(t, s, &store.AuditEntry{User: "cli", Action: "user-add", Outcome: store.AuditOK})
		if bare.ID <= full.ID {
			t.Fatalf("IDs %d then %d: want increasing", full.ID, bare.ID)
		}
		if bare.Time.IsZero() || time.Since(bare.Time) > time.Minute {
			t.Fatalf("AddAudit of a zero time set it to %v, want now", bare.Time)
		}
		es, err := s.Audit(t.Context(), store.AuditFilter{})
		if err != nil || len(es) != 2 {
			t.Fatalf("Audit = %v, %v; want 2 entries", es, err)
		}
		if es[0].ID != bare.ID {
			t.Fatalf("Audit[0] is %d, want the newest (%d)", es[0].ID, bare.ID)
		}
		checkTime(t, "AuditEntry.Time", es[1].Time, want.Time)
		checkTime(t, "AuditEntry.Time (set by the store)", es[0].Time, bare.Time)
		got := *es[1]
		got.Time, want.Time, want.ID = time.Time{}, time.Time{}, full.ID
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Audit entry = %+v, want %+v", got, want)
		}
		if err := s.AddAudit(t.Context(), &store.AuditEntry{User: "ann", Outcome: store.AuditOK}); err == nil {
			t.Fatal("AddAudit accepted an entry without an action")
		}
	}},
	{"Filters", func(t *testing.T, s store.Store) {
		e := func(age time.Duration, user, action string) int64 {
			return addAudit(t, s, &store.AuditEntry{Time: ts.Add(-age), User: user, Action: action, Outcome: store.AuditOK}).ID
		}
		a := e(3*time.Hour, "ann", "login")
		b := e(2*time.Hour, "Bob", "login-failed")
		c := e(time.Hour, "ANN", "run-profile")
		// At the cut-off, and a microsecond before it (within the same
		// second: compared as times, not as RFC 3339 text).
		d := e(30*time.Minute, "bob", "login")
		_ = e(30*time.Minute+time.Microsecond, "carol", "login")
		f := e(0, "ann", "login")
		since := ts.Add(-30 * time.Minute)
		all := auditIDs(t, s, store.AuditFilter{})
		if len(all) != 6 || all[0] != f || all[5] != a {
			t.Fatalf("Audit = %v, want all 6, newest first", all)
		}
		carol := all[1]
		for _, tc := range []struct {
			f    store.AuditFilter
			want []int64
		}{
			{store.AuditFilter{User: "Ann"}, []int64{f, c, a}},
			{store.AuditFilter{Action: "login"}, []int64{f, carol, d, a}},
			{store.AuditFilter{Since: since}, []int64{f, d}},
			{store.AuditFilter{Since: ts.Add(-2 * time.Hour), User: "bob"}, []int64{d, b}},
			{store.AuditFilter{User: "ann", Action: "login", Limit: 1}, []int64{f}},
			{store.AuditFilter{Limit: -1}, all},
			{store.AuditFilter{Action: "nothing"}, nil},
		} {
			if got := auditIDs(t, s, tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("Audit(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		}
	}},
	{"DefaultLimitAndPrune", func(t *testing.T, s store.Store) {
		n := store.DefaultAuditLimit + 20
		var ids []int64
		for i := range n {
			ids = append(ids, addAudit(t, s, &store.AuditEntry{Time: ts.Add(time.Duration(i) * time.Millisecond), User: "ann",
				Action: "download-preview", Outcome: store.AuditOK}).ID)
		}
		got := auditIDs(t, s, store.AuditFilter{})
		if len(got) != store.DefaultAuditLimit || got[0] != ids[n-1] {
			t.Fatalf("Audit with no limit: %d entries from %v, want the newest %d", len(got), got[:1], store.DefaultAuditLimit)
		}
		if got := auditIDs(t, s, store.AuditFilter{Limit: -1}); len(got) != n {
			t.Fatalf("Audit with a negative limit: %d entries, want %d", len(got), n)
		}
		pruned, err := s.PruneAudit(t.Context(), ts.Add(20*time.Millisecond))
		if err != nil || pruned != 20 {
			t.Fatalf("PruneAudit = %d, %v; want 20", pruned, err)
		}
		got = auditIDs(t, s, store.AuditFilter{Limit: -1})
		if len(got) != n-20 || got[len(got)-1] != ids[20] {
			t.Fatalf("after PruneAudit: %d entries, oldest %d; want %d, oldest %d", len(got), got[len(got)-1], n-20, ids[20])
		}
		if pruned, err := s.PruneAudit(t.Context(), ts.Add(20*time.Millisecond)); err != nil || pruned != 0 {
			t.Fatalf("second PruneAudit = %d, %v; want 0", pruned, err)
		}
	}},
}
