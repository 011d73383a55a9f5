package conformance

import (
	"errors"
	"slices"
	"testing"

	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
)

// Targeted reads: the partial scans (sync-pending objects, pending
// exports), state-only puts and the keys a synchronization looks objects up
// by (store.Keys).

func scanWith(t *testing.T, scan func(fn func(*store.CSObject) error) error) []string {
	t.Helper()
	var ids []string
	if err := scan(func(o *store.CSObject) error {
		ids = append(ids, o.ID)
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return ids
}

func syncPendingIDs(t *testing.T, s store.Store, conn string) []string {
	t.Helper()
	return scanWith(t, func(fn func(*store.CSObject) error) error { return s.ScanCSSyncPending(t.Context(), conn, fn) })
}

func exportIDs(t *testing.T, s store.Store, conn string) []string {
	t.Helper()
	return scanWith(t, func(fn func(*store.CSObject) error) error { return s.ScanCSExports(t.Context(), conn, fn) })
}

func csByKey(t *testing.T, s store.Store, conn, key string) []string {
	t.Helper()
	ids, err := s.CSByKey(t.Context(), conn, key)
	if err != nil {
		t.Fatalf("CSByKey(%q, %q): %v", conn, key, err)
	}
	return ids
}

func mvByKey(t *testing.T, s store.Store, typ, key string) []string {
	t.Helper()
	ids, err := s.MVByKey(t.Context(), typ, key)
	if err != nil {
		t.Fatalf("MVByKey(%q, %q): %v", typ, key, err)
	}
	return ids
}

func sameIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

var targetedTests = []testCase{
	{"ScanSyncPendingAndExports", func(t *testing.T, s store.Store) {
		var objs []*store.CSObject
		for i := range 5000 {
			o := user(id("cs", i), "ad", id("a", i))
			o.SyncPending = i%1000 == 7
			if i%1500 == 3 {
				o.Pending = fullUser(o.ID, "ad", o.Object.Anchor).Pending
			}
			objs = append(objs, o)
		}
		other := user("cs-other", "hr", "x")
		other.SyncPending = true
		other.Pending = fullUser("cs-other", "hr", "x").Pending
		objs = append(objs, other)
		putCS(t, s, objs...)
		sameIDs(t, "ScanCSSyncPending(ad)", syncPendingIDs(t, s, "ad"),
			"cs-00007", "cs-01007", "cs-02007", "cs-03007", "cs-04007")
		sameIDs(t, "ScanCSExports(ad)", exportIDs(t, s, "ad"), "cs-00003", "cs-01503", "cs-03003", "cs-04503")
		sameIDs(t, "ScanCSSyncPending(hr)", syncPendingIDs(t, s, "hr"), "cs-other")
		sameIDs(t, "ScanCSExports(none)", exportIDs(t, s, "none"))
		for conn, want := range map[string]int64{"ad": 4, "none": 0} {
			if n, err := s.CountCSExports(t.Context(), conn); err != nil || n != want {
				t.Errorf("CountCSExports(%s) = %d, %v; want %d", conn, n, err, want)
			}
		}
		// The scans give whole objects.
		_ = s.ScanCSExports(t.Context(), "hr", func(o *store.CSObject) error {
			sameCS(t, "ScanCSExports", o, other)
			return nil
		})
		// A state-only put clears the flag and the export.
		a, b := getCS(t, s, "cs-00007"), getCS(t, s, "cs-01503")
		a.SyncPending = false
		b.Pending = nil
		apply(t, s, &store.Batch{PutCSState: []*store.CSObject{a, b}})
		sameIDs(t, "ScanCSSyncPending after state put", syncPendingIDs(t, s, "ad"),
			"cs-01007", "cs-02007", "cs-03007", "cs-04007")
		sameIDs(t, "ScanCSExports after state put", exportIDs(t, s, "ad"), "cs-00003", "cs-03003", "cs-04503")
	}},
	{"PutCSStateWritesLinkAndFlags", func(t *testing.T, s store.Store) {
		putCS(t, s, user("cs-1", "ad", "a1"))
		o := fullUser("cs-1", "ad", "a1")
		o.Deleted = false
		apply(t, s, &store.Batch{PutCSState: []*store.CSObject{o}})
		sameCS(t, "GetCS after state put", getCS(t, s, "cs-1"), o)
		linked, err := s.CSForMV(t.Context(), o.MVID)
		if err != nil || len(linked) != 1 || linked[0].ID != "cs-1" {
			t.Fatalf("CSForMV(%s) = %v, %v; want cs-1", o.MVID, linked, err)
		}
		// The keys stay those of the object's values.
		sameIDs(t, "CSByKey(DN)", csByKey(t, s, "ad", store.DNKey(o.Object.DN)), "cs-1")
	}},
	{"PutCSStateOfAbsentObjectFailsBatch", func(t *testing.T, s store.Store) {
		putCS(t, s, user("cs-1", "ad", "a1"))
		err := s.Apply(t.Context(), &store.Batch{
			PutCS:      []*store.CSObject{user("cs-2", "ad", "a2")},
			PutCSState: []*store.CSObject{user("cs-absent", "ad", "a3")},
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Apply = %v, want store.ErrNotFound", err)
		}
		_, err = s.GetCS(t.Context(), "cs-2")
		wantNotFound(t, "GetCS of the failed batch's put", err)
		// Nor may a state-only put move an object to another anchor.
		moved := user("cs-1", "ad", "elsewhere")
		if err := s.Apply(t.Context(), &store.Batch{PutCSState: []*store.CSObject{moved}}); err == nil {
			t.Fatal("a state-only put that changes the anchor succeeded")
		}
		sameCS(t, "GetCS after the refused put", getCS(t, s, "cs-1"), user("cs-1", "ad", "a1"))
	}},
	{"DNAndReferenceKeys", func(t *testing.T, s store.Store) {
		boss := user("cs-boss", "ad", "boss")
		a, b := user("cs-a", "ad", "a"), user("cs-b", "ad", "b")
		g := &store.CSObject{ID: "cs-g", Connector: "ad", Object: model.Object{Anchor: "g", DN: "CN=G,DC=test", Type: "group",
			Attrs: model.Attrs{"member": model.Ref(a.Object.DN, "anchor-of-b")}}}
		hr := user("cs-hr", "hr", "a")
		putCS(t, s, boss, a, b, g, hr)
		// Reference keys are kept for declared connectors only; those of
		// the objects stored before are built by the declaration.
		sameIDs(t, "CSByKey(ref) before the declaration", csByKey(t, s, "ad", store.RefKey(boss.Object.DN)))
		if err := s.Index(t.Context(), store.IndexSpec{RefConnectors: []string{"ad"}}); err != nil {
			t.Fatalf("Index: %v", err)
		}
		sameIDs(t, "CSByKey(ref) of an undeclared connector", csByKey(t, s, "hr", store.RefKey(boss.Object.DN)))
		sameIDs(t, "CSByKey(DN, other case)", csByKey(t, s, "ad", store.DNKey("cn=A,ou=USERS,dc=contoso,dc=test")), "cs-a")
		sameIDs(t, "CSByKey(DN) of the other connector", csByKey(t, s, "hr", store.DNKey(a.Object.DN)), "cs-hr")
		// Every user's manager is boss.
		sameIDs(t, "CSByKey(ref boss)", csByKey(t, s, "ad", store.RefKey(boss.Object.DN)), "cs-a", "cs-b", "cs-boss")
		sameIDs(t, "CSByKey(ref a)", csByKey(t, s, "ad", store.RefKey(a.Object.DN)), "cs-g")
		sameIDs(t, "CSByKey(ref by anchor)", csByKey(t, s, "ad", store.RefKey("ANCHOR-of-b")), "cs-g")
		// Undeclared attributes have no value keys.
		sameIDs(t, "CSByKey(undeclared value)", csByKey(t, s, "ad", store.ValueKey("cn", "a")))
		// A new version replaces the keys; a delete removes them.
		g2 := *g
		g2.Object.Attrs = model.Attrs{"member": model.Ref(b.Object.DN)}
		g2.Object.DN = "CN=G2,DC=test"
		putCS(t, s, &g2)
		sameIDs(t, "CSByKey(ref a) after the update", csByKey(t, s, "ad", store.RefKey(a.Object.DN)))
		sameIDs(t, "CSByKey(ref b) after the update", csByKey(t, s, "ad", store.RefKey(b.Object.DN)), "cs-g")
		sameIDs(t, "CSByKey(old DN)", csByKey(t, s, "ad", store.DNKey("CN=G,DC=test")))
		sameIDs(t, "CSByKey(new DN)", csByKey(t, s, "ad", store.DNKey("cn=g2,dc=test")), "cs-g")
		apply(t, s, &store.Batch{DeleteCS: []string{"cs-g", "cs-a"}})
		sameIDs(t, "CSByKey(ref b) after the delete", csByKey(t, s, "ad", store.RefKey(b.Object.DN)))
		sameIDs(t, "CSByKey(DN a) after the delete", csByKey(t, s, "ad", store.DNKey(a.Object.DN)))
		sameIDs(t, "CSByKey(ref boss) after the delete", csByKey(t, s, "ad", store.RefKey(boss.Object.DN)), "cs-b", "cs-boss")
	}},
	{"ValueKeys", func(t *testing.T, s store.Store) {
		// Objects stored before the declaration get keys when it is made.
		putCS(t, s, user("cs-1", "ad", "ann"), user("cs-2", "ad", "bob"))
		m1, m2 := mvUser("mv-1"), mvUser("mv-2")
		m2.Attrs["displayName"] = model.Str("Bob", "Robert")
		group := &store.MVObject{ID: "mv-g", Type: "group", Attrs: model.Attrs{"displayName": model.Str("Ann Example")}}
		putMV(t, s, m1, m2, group)
		if err := s.Index(t.Context(), store.IndexSpec{CS: map[string][]string{"ad": {"cn"}}, MV: []string{"displayName", "employeeID"}}); err != nil {
			t.Fatalf("Index: %v", err)
		}
		sameIDs(t, "CSByKey(cn)", csByKey(t, s, "ad", store.ValueKey("cn", "ANN")), "cs-1")
		putCS(t, s, user("cs-hr", "hr", "ann"))
		sameIDs(t, "CSByKey(cn) of a connector it is not declared for", csByKey(t, s, "hr", store.ValueKey("cn", "ann")))
		sameIDs(t, "MVByKey(displayName)", mvByKey(t, s, "person", store.ValueKey("displayName", "ann example")), "mv-1")
		sameIDs(t, "MVByKey(displayName, second value)", mvByKey(t, s, "person", store.ValueKey("displayName", "robert")), "mv-2")
		sameIDs(t, "MVByKey(displayName) of groups", mvByKey(t, s, "group", store.ValueKey("displayName", "Ann Example")), "mv-g")
		sameIDs(t, "MVByKey(employeeID)", mvByKey(t, s, "person", store.ValueKey("employeeID", "42")), "mv-1", "mv-2")
		// Declaring again, or a subset, changes nothing.
		if err := s.Index(t.Context(), store.IndexSpec{CS: map[string][]string{"ad": {"cn"}}}); err != nil {
			t.Fatalf("Index again: %v", err)
		}
		sameIDs(t, "MVByKey(displayName) after a second declaration", mvByKey(t, s, "person", store.ValueKey("displayName", "Ann Example")), "mv-1")
		// Objects written after the declaration are kept up to date.
		c3 := user("cs-3", "ad", "cy")
		c3.Object.Attrs["cn"] = model.Str("Ann")
		m1.Attrs["displayName"] = model.Str("Ann New")
		apply(t, s, &store.Batch{PutCS: []*store.CSObject{c3}, PutMV: []*store.MVObject{m1}, DeleteMV: []string{"mv-2"}})
		sameIDs(t, "CSByKey(cn) after a put", csByKey(t, s, "ad", store.ValueKey("cn", "ann")), "cs-1", "cs-3")
		sameIDs(t, "MVByKey(old displayName)", mvByKey(t, s, "person", store.ValueKey("displayName", "Ann Example")))
		sameIDs(t, "MVByKey(new displayName)", mvByKey(t, s, "person", store.ValueKey("displayName", "ann new")), "mv-1")
		sameIDs(t, "MVByKey(employeeID) after a delete", mvByKey(t, s, "person", store.ValueKey("employeeID", "42")), "mv-1")
	}},
	{"LongKeysAreCut", func(t *testing.T, s store.Store) {
		long := string(make([]byte, 2*store.MaxKeyLen))
		o := user("cs-1", "ad", "a")
		o.Object.Attrs["manager"] = model.Ref(long + "x")
		putCS(t, s, o)
		if err := s.Index(t.Context(), store.IndexSpec{RefConnectors: []string{"ad"}}); err != nil {
			t.Fatalf("Index: %v", err)
		}
		// A lookup of another value with the same first MaxKeyLen bytes
		// finds it: callers check the object.
		sameIDs(t, "CSByKey(long ref)", csByKey(t, s, "ad", store.RefKey(long+"y")), "cs-1")
	}},
}
