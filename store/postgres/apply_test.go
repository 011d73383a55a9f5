package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/codec"
)

// TestBulkPuts: batches big enough to be copied (copyMin) behave as the
// statements do: new objects and their keys are found; an anchor taken by a
// stored object, or twice in the batch, fails the batch with
// store.ErrAlreadyExists and writes nothing of it; a batch of objects
// partly stored upserts them.
func TestBulkPuts(t *testing.T) {
	s := openTest(t, peers.Postgres(t))
	ctx := t.Context()
	if err := s.Index(ctx, store.IndexSpec{CS: map[string][]string{"ad": {"mail"}}, MV: []string{"mail"}}); err != nil {
		t.Fatal(err)
	}
	n := copyMin + 44
	users := func(from, count int) ([]*store.CSObject, []*store.MVObject) {
		var cs []*store.CSObject
		var mv []*store.MVObject
		for i := from; i < from+count; i++ {
			o := benchUser(i, func() string { return uuid.Must(uuid.NewV7()).String() })
			o.Object.Anchor = fmt.Sprintf("anchor-%d", i)
			o.MVID = "mv-" + o.ID
			cs = append(cs, o)
			mv = append(mv, &store.MVObject{ID: o.MVID, Type: "person", Attrs: model.Attrs{"mail": o.Object.Attrs["mail"]}})
		}
		return cs, mv
	}
	cs, mv := users(0, n)
	if err := s.Apply(ctx, &store.Batch{PutCS: cs, PutMV: mv}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		mail := cs[i].Object.Attrs["mail"].Values[0]
		if ids, err := s.CSByKey(ctx, "ad", store.ValueKey("mail", mail)); err != nil || len(ids) != 1 || ids[0] != cs[i].ID {
			t.Errorf("CSByKey(mail %s) = %v, %v; want [%s]", mail, ids, err, cs[i].ID)
		}
		if ids, err := s.MVByKey(ctx, "person", store.ValueKey("mail", mail)); err != nil || len(ids) != 1 || ids[0] != mv[i].ID {
			t.Errorf("MVByKey(mail %s) = %v, %v; want [%s]", mail, ids, err, mv[i].ID)
		}
		if ids, err := s.CSByKey(ctx, "ad", store.DNKey(cs[i].Object.DN)); err != nil || len(ids) != 1 || ids[0] != cs[i].ID {
			t.Errorf("CSByKey(DN %s) = %v, %v; want [%s]", cs[i].Object.DN, ids, err, cs[i].ID)
		}
	}
	for _, tc := range []struct {
		name  string
		taken func(batch []*store.CSObject)
	}{
		{"anchor of a stored object", func(b []*store.CSObject) { b[n/3].Object.Anchor = cs[7].Object.Anchor }},
		{"anchor twice in the batch", func(b []*store.CSObject) { b[n-1].Object.Anchor = b[1].Object.Anchor }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch, mvs := users(10*n, n)
			tc.taken(batch)
			err := s.Apply(ctx, &store.Batch{PutCS: batch, PutMV: mvs})
			if !errors.Is(err, store.ErrAlreadyExists) || !strings.Contains(err.Error(), "anchor") {
				t.Fatalf("Apply = %v, want store.ErrAlreadyExists naming the anchor", err)
			}
			if got, err := s.CountCS(ctx, ""); err != nil || got != int64(n) {
				t.Errorf("CountCS = %d, %v; want %d (nothing of the failed batch)", got, err, n)
			}
			if got, err := s.CountMV(ctx); err != nil || got != int64(n) {
				t.Errorf("CountMV = %d, %v; want %d (nothing of the failed batch)", got, err, n)
			}
			mail := batch[0].Object.Attrs["mail"].Values[0]
			if ids, err := s.CSByKey(ctx, "ad", store.ValueKey("mail", mail)); err != nil || len(ids) != 0 {
				t.Errorf("CSByKey(mail %s) = %v, %v; want none", mail, ids, err)
			}
		})
	}
	// Half stored, half new: upserted, keys replaced.
	more, moreMV := users(n, n)
	mixed := append(append([]*store.CSObject{}, cs[n/2:]...), more...)
	for _, o := range mixed {
		o.Object.Attrs["mail"] = model.Str("new-" + o.Object.Attrs["mail"].Values[0])
	}
	if err := s.Apply(ctx, &store.Batch{PutCS: mixed, PutMV: moreMV}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CountCS(ctx, ""); err != nil || got != int64(2*n) {
		t.Errorf("CountCS = %d, %v; want %d", got, err, 2*n)
	}
	for _, o := range []*store.CSObject{cs[n-1], more[0]} {
		mail := o.Object.Attrs["mail"].Values[0]
		if ids, err := s.CSByKey(ctx, "ad", store.ValueKey("mail", mail)); err != nil || len(ids) != 1 || ids[0] != o.ID {
			t.Errorf("CSByKey(mail %s) = %v, %v; want [%s]", mail, ids, err, o.ID)
		}
		old := strings.TrimPrefix(mail, "new-")
		if ids, err := s.CSByKey(ctx, "ad", store.ValueKey("mail", old)); err != nil || len(ids) != 0 {
			t.Errorf("CSByKey(old mail %s) = %v, %v; want none", old, ids, err)
		}
	}
}

// flagIDs returns the IDs ScanCSSyncPending and ScanCSExports give for a
// connector, and CountCSExports.
func flagIDs(t *testing.T, s *Store, conn string) (syncIDs, exportIDs []string, exports int64) {
	t.Helper()
	ctx := t.Context()
	if err := s.ScanCSSyncPending(ctx, conn, func(o *store.CSObject) error {
		syncIDs = append(syncIDs, o.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.ScanCSExports(ctx, conn, func(o *store.CSObject) error {
		exportIDs = append(exportIDs, o.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n, err := s.CountCSExports(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return syncIDs, exportIDs, n
}

// TestFlagTables: the flag tables follow the objects through every kind of
// write (state puts, full puts, bulk puts, a move to another connector,
// deletes), and migration 5 fills them from a store of version 4.
func TestFlagTables(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, peers.Postgres(t))
	obj := func(id, conn string, sync, export bool) *store.CSObject {
		o := &store.CSObject{ID: id, Connector: conn, SyncPending: sync, Object: model.Object{Anchor: "a-" + id, DN: "CN=" + id}}
		if export {
			o.Pending = &store.PendingExport{ID: "x-" + id, State: store.ExportPending}
		}
		return o
	}
	check := func(step, conn string, wantSync, wantExports []string) {
		t.Helper()
		gotSync, gotExports, n := flagIDs(t, s, conn)
		if fmt.Sprint(gotSync) != fmt.Sprint(wantSync) || fmt.Sprint(gotExports) != fmt.Sprint(wantExports) || n != int64(len(wantExports)) {
			t.Errorf("%s: %s sync pending %v, exports %v (count %d); want %v, %v", step, conn, gotSync, gotExports, n, wantSync, wantExports)
		}
	}
	apply := func(b *store.Batch) {
		t.Helper()
		if err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	apply(&store.Batch{PutCS: []*store.CSObject{obj("1", "ad", true, false), obj("2", "ad", true, true), obj("3", "ad", false, false)}})
	check("put", "ad", []string{"1", "2"}, []string{"2"})
	apply(&store.Batch{PutCSState: []*store.CSObject{obj("1", "ad", false, true), obj("2", "ad", false, false), obj("3", "ad", true, false)}})
	check("state put", "ad", []string{"3"}, []string{"1"})
	apply(&store.Batch{PutCS: []*store.CSObject{obj("3", "ad", false, true)}})
	check("full put", "ad", nil, []string{"1", "3"})
	apply(&store.Batch{PutCS: []*store.CSObject{obj("3", "hr", true, true)}})
	check("moved away", "ad", nil, []string{"1"})
	check("moved in", "hr", []string{"3"}, []string{"3"})
	apply(&store.Batch{DeleteCS: []string{"1", "3"}})
	check("deleted", "ad", nil, nil)
	check("deleted", "hr", nil, nil)
	// A batch of new objects (copied).
	var bulk []*store.CSObject
	var wantSync, wantExports []string
	for i := range copyMin + 10 {
		id := fmt.Sprintf("b%04d", i)
		bulk = append(bulk, obj(id, "ad", i%2 == 0, i%3 == 0))
		if i%2 == 0 {
			wantSync = append(wantSync, id)
		}
		if i%3 == 0 {
			wantExports = append(wantExports, id)
		}
	}
	apply(&store.Batch{PutCS: bulk})
	check("bulk put", "ad", wantSync, wantExports)

	// Migration 5 on a store of version 4.
	dsn := peers.Postgres(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for i, m := range migrations[:4] {
		if _, err := pool.Exec(ctx, m); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		id      string
		sync    bool
		pending *string
	}{{"m1", true, nil}, {"m2", false, new(string)}, {"m3", false, nil}} {
		if _, err := pool.Exec(ctx, `INSERT INTO cs_objects (id, connector, anchor, dn, dn_key, mvid, sync_pending, pending_state, keys_hash, data)
			VALUES ($1, 'ad', $1, '', '', '', $2, $3, 1, $4)`, []byte(r.id), r.sync, r.pending, codec.EncodeCS(nil, obj(r.id, "ad", r.sync, r.pending != nil))); err != nil {
			t.Fatal(err)
		}
	}
	s = openTest(t, dsn)
	check("migrated", "ad", []string{"m1"}, []string{"m2"})
}

// TestChunkedStatements: batches of more than stmtRows objects are written
// in several statements of one transaction, with the results of one: a
// failure in a later statement undoes the earlier ones.
func TestChunkedStatements(t *testing.T) {
	s := openTest(t, peers.Postgres(t))
	ctx := t.Context()
	n := stmtRows + 10
	objs := make([]*store.CSObject, n)
	for i := range objs {
		objs[i] = &store.CSObject{ID: fmt.Sprintf("c%05d", i), Connector: "ad", SyncPending: true,
			Object: model.Object{Anchor: fmt.Sprintf("a%05d", i), DN: fmt.Sprintf("CN=u%05d", i)}}
	}
	if err := s.Apply(ctx, &store.Batch{PutCS: objs}); err != nil {
		t.Fatal(err)
	}
	linked := func(o *store.CSObject, mv string) *store.CSObject {
		c := *o
		c.MVID, c.SyncPending = mv, false
		return &c
	}
	var states []*store.CSObject
	for _, o := range objs {
		states = append(states, linked(o, "mv-"+o.ID))
	}
	missing := linked(&store.CSObject{ID: "absent", Connector: "ad", Object: model.Object{Anchor: "x"}}, "mv-x")
	if err := s.Apply(ctx, &store.Batch{PutCSState: append(append([]*store.CSObject{}, states...), missing)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("state puts with an absent object = %v, want store.ErrNotFound", err)
	}
	if got, err := s.GetCS(ctx, objs[0].ID); err != nil || got.MVID != "" {
		t.Fatalf("after the failed batch, the first object is %+v, %v; want it unlinked", got, err)
	}
	if err := s.Apply(ctx, &store.Batch{PutCSState: states}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, stmtRows - 1, stmtRows, n - 1} {
		if got, err := s.GetCS(ctx, objs[i].ID); err != nil || got.MVID != "mv-"+objs[i].ID || got.SyncPending {
			t.Errorf("object %d after the state puts: %+v, %v", i, got, err)
		}
	}
	if syncIDs, _, _ := flagIDs(t, s, "ad"); len(syncIDs) != 0 {
		t.Errorf("%d objects still marked for synchronization, want 0", len(syncIDs))
	}
	// Full puts of stored objects (the upsert statements), the anchor of
	// the last one taken: nothing of the batch is written.
	var puts []*store.CSObject
	for _, o := range states {
		c := *o
		c.Object.DN += ",OU=moved"
		puts = append(puts, &c)
	}
	puts[n-1].Object.Anchor = puts[0].Object.Anchor
	if err := s.Apply(ctx, &store.Batch{PutCS: puts}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("puts with a taken anchor = %v, want store.ErrAlreadyExists", err)
	}
	if got, err := s.GetCS(ctx, objs[1].ID); err != nil || strings.HasSuffix(got.Object.DN, ",OU=moved") {
		t.Fatalf("after the failed batch, object 1 is %+v, %v; want it unchanged", got, err)
	}
	puts[n-1].Object.Anchor = objs[n-1].Object.Anchor
	if err := s.Apply(ctx, &store.Batch{PutCS: puts}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetCS(ctx, objs[n-1].ID); err != nil || !strings.HasSuffix(got.Object.DN, ",OU=moved") {
		t.Errorf("last object after the puts: %+v, %v", got, err)
	}
}
