package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/idsync/idsync/internal/peers"
	"github.com/idsync/idsync/model"
	"github.com/idsync/idsync/store"
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
