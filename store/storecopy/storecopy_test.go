package storecopy

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/postgres"
	"github.com/idsync/idsync/store/sqlite"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)

func openSQLite(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "idsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t *testing.T) *postgres.Store {
	s, err := postgres.Open(t.Context(), peers.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill writes n CS objects (every third with a pending export) joined to
// n MV objects, and one or more of everything else.
func fill(t *testing.T, s Store, n int) {
	ctx := t.Context()
	var b store.Batch
	for i := range n {
		cs := &store.CSObject{ID: fmt.Sprintf("cs-%05d", i), Connector: "ad", Partition: "DC=x", MVID: fmt.Sprintf("mv-%05d", i),
			LinkRule: "join", SyncPending: i%2 == 0, Modified: t0,
			Object: model.Object{Anchor: fmt.Sprintf("\x00\xff%d", i), DN: fmt.Sprintf("CN=u%d,DC=x", i), Type: "user",
				Attrs: model.Attrs{"mail": model.Str(fmt.Sprintf("u%d@x.test", i)), "guid": {Type: model.Binary, Values: []string{"\x00\xfe"}}}}}
		if i%3 == 0 {
			cs.Pending = &store.PendingExport{ID: fmt.Sprint("p", i), Op: connector.OpUpdate, State: store.ExportPending, Created: t0,
				Changes: []connector.AttrChange{{Name: "mail", Mode: connector.Replace, Values: []string{"new@x.test"}}}}
		}
		b.PutCS = append(b.PutCS, cs)
		b.PutMV = append(b.PutMV, &store.MVObject{ID: fmt.Sprintf("mv-%05d", i), Type: "person", Modified: t0,
			Attrs:   model.Attrs{"mail": model.Str(fmt.Sprintf("u%d@x.test", i))},
			Lineage: store.NewLineage(map[string]store.Contribution{"mail": {Rule: "in", Connector: "ad", CSID: cs.ID, Precedence: 1}})})
	}
	b.Watermarks = []store.Watermark{{Connector: "ad", Partition: "DC=x", Value: "cookie\x00\xff"}, {Connector: "hr", Value: "42"}}
	if err := s.Apply(ctx, &b); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		fin := t0.Add(time.Minute)
		r := &store.Run{Connector: "ad", Profile: fmt.Sprint("p", i), Started: t0, Finished: &fin, Status: store.RunWithError,
			Counts: store.RunCounts{Adds: 1, Errors: 1}, Message: "m", Done: 2, Total: 3,
			Sync: &store.SyncStats{Joins: 4, Outbound: []store.OutboundStats{{Connector: "cloud", ProvisioningAdds: 1}}}}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.AddRunErrors(ctx, []store.RunError{{RunID: r.ID, Object: "CN=a", CSID: "cs-1", Message: fmt.Sprint("e", i), Time: t0}}); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{"scheduler.enabled": "false", "sealed": "idsync-secret:v1:abc"} {
		if err := s.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutUser(ctx, &store.User{Name: "Ann", Role: "admin", PasswordHash: "$argon2id$x", Created: t0, Modified: t0}); err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(time.Hour)
	if err := s.PutAPIToken(ctx, &store.APIToken{ID: "t1", User: "ann", Name: "ci", Hash: "ab12", Created: t0, Expires: &exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTenant(ctx, &store.Tenant{ID: "contoso", Name: "Contoso", Domain: "contoso.com", Settings: `{"a":"1"}`, Created: t0, Modified: t0}); err != nil {
		t.Fatal(err)
	}
	for i, dn := range []string{"contoso.com", "contoso.net"} {
		d := &store.Domain{Tenant: "contoso", Name: dn, Token: "tok", State: store.DomainVerified, Attempts: i + 1, Added: t0, Verified: &t0}
		if i == 1 {
			next := t0.Add(time.Minute)
			d.State, d.Verified, d.NextCheck, d.Reason = store.DomainPending, nil, &next, "no TXT record"
		}
		if err := s.PutDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"login", "user-add"} {
		if err := s.AddAudit(ctx, &store.AuditEntry{Time: t0, User: "Ann", Action: a, Outcome: store.AuditOK}); err != nil {
			t.Fatal(err)
		}
	}
}

// dump reads everything of s, without the IDs a copy renumbers.
func dump(t *testing.T, s Store) map[string]any {
	ctx := t.Context()
	out := map[string]any{}
	var cs []*store.CSObject
	if err := s.ScanCS(ctx, "", func(o *store.CSObject) error { cs = append(cs, o); return nil }); err != nil {
		t.Fatal(err)
	}
	var mv []*store.MVObject
	if err := s.ScanMV(ctx, func(o *store.MVObject) error { mv = append(mv, o); return nil }); err != nil {
		t.Fatal(err)
	}
	out["cs"], out["mv"] = cs, mv
	runs, err := s.Runs(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var runErrs []store.RunError
	for _, r := range runs {
		errs, err := s.RunErrors(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			e.RunID = 0
			runErrs = append(runErrs, e)
		}
		r.ID = 0
	}
	out["runs"], out["runErrors"] = runs, runErrs
	audit, err := s.Audit(ctx, store.AuditFilter{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range audit {
		e.ID = 0
	}
	out["audit"] = audit
	if out["settings"], err = s.Settings(ctx); err != nil {
		t.Fatal(err)
	}
	if out["watermarks"], err = s.Watermarks(ctx); err != nil {
		t.Fatal(err)
	}
	if out["users"], err = s.Users(ctx); err != nil {
		t.Fatal(err)
	}
	if out["tokens"], err = s.APITokens(ctx, ""); err != nil {
		t.Fatal(err)
	}
	tenants, err := s.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out["tenants"] = tenants
	for _, tn := range tenants {
		if out["domains-"+tn.ID], err = s.Domains(ctx, tn.ID); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sameDump(t *testing.T, a, b map[string]any) {
	t.Helper()
	for k := range a {
		if !reflect.DeepEqual(a[k], b[k]) {
			t.Errorf("%s differ:\n%#v\n%#v", k, a[k], b[k])
		}
	}
}

// TestCopy moves a store from SQLite to PostgreSQL in several batches and
// back to another SQLite file: everything arrives, and the way back gives
// the same store.
func TestCopy(t *testing.T) {
	src, pg, back := openSQLite(t), openPostgres(t), openSQLite(t)
	fill(t, src, 250)
	var progress []int64
	counts, err := Copy(t.Context(), src, pg, Options{BatchSize: 100, Progress: func(what string, n int64) {
		if what == "cs objects" {
			progress = append(progress, n)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{CS: 250, MV: 250, PendingExports: 84, Watermarks: 2, Runs: 3, RunErrors: 3, Settings: 2, Users: 1, APITokens: 1, Audit: 2, Tenants: 1, Domains: 2}
	if counts != want {
		t.Fatalf("Copy counted %+v, want %+v", counts, want)
	}
	if !reflect.DeepEqual(progress, []int64{100, 200, 250}) {
		t.Errorf("progress %v, want batches of 100", progress)
	}
	orig := dump(t, src)
	sameDump(t, orig, dump(t, pg))
	if _, err := Copy(t.Context(), pg, back, Options{}); err != nil {
		t.Fatal(err)
	}
	sameDump(t, orig, dump(t, back))
	// Targeted reads work on the copy (the engine declares its keys).
	if err := pg.Index(t.Context(), store.IndexSpec{CS: map[string][]string{"ad": {"mail"}}}); err != nil {
		t.Fatal(err)
	}
	if ids, err := pg.CSByKey(t.Context(), "ad", store.ValueKey("mail", "U7@x.test")); err != nil || !reflect.DeepEqual(ids, []string{"cs-00007"}) {
		t.Fatalf("CSByKey on the copy = %v, %v", ids, err)
	}
	if ids, err := pg.CSByKey(t.Context(), "ad", store.DNKey("cn=u7,dc=x")); err != nil || !reflect.DeepEqual(ids, []string{"cs-00007"}) {
		t.Fatalf("CSByKey(DN) on the copy = %v, %v", ids, err)
	}
}

// TestCopyRefusesNonEmpty: a destination holding anything is refused
// before anything is written, unless IntoNonEmpty.
func TestCopyRefusesNonEmpty(t *testing.T) {
	src, dst := openSQLite(t), openPostgres(t)
	fill(t, src, 5)
	if err := dst.AddAudit(t.Context(), &store.AuditEntry{User: "cli", Action: "x", Outcome: store.AuditOK}); err != nil {
		t.Fatal(err)
	}
	_, err := Copy(t.Context(), src, dst, Options{})
	if !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Copy into a non-empty store = %v, want ErrNotEmpty", err)
	}
	if n, _ := dst.CountCS(t.Context(), ""); n != 0 {
		t.Fatalf("the refused copy wrote %d cs objects", n)
	}
	if _, err := Copy(t.Context(), src, dst, Options{IntoNonEmpty: true}); err != nil {
		t.Fatalf("Copy with IntoNonEmpty: %v", err)
	}
	got, err := Count(t.Context(), dst)
	if err != nil || got.CS != 5 || got.Audit != 3 {
		t.Fatalf("after Copy with IntoNonEmpty: %+v, %v", got, err)
	}
}
