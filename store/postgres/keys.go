package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/codec"
	"github.com/idsync/idsync/store/internal/keyhash"
)

// Keys (store.Keys): an object's DN key is the column dn_key of
// cs_objects; cs_keys holds, for every CS object, the keys of its
// reference values (for the connectors in index_attrs, side "ref") and the
// value keys of the CS attributes in index_attrs; mv_keys the value keys
// of the MV attributes in index_attrs. Apply maintains them with the
// objects, in the same transaction: a put replaces the object's keys
// (unless they hash the same as those it had: keys_hash), a delete deletes
// them, and a state-only put (Batch.PutCSState) leaves them alone.
//
// A key is stored as a 64-bit hash of the connector (or MV object type)
// and the key, with its object's ID. A lookup joins the IDs to the objects
// and keeps those of the connector (or type); the rare other object whose
// key hashes the same is one more the caller checks, as it checks all.
//
// What was declared with Index is kept in memory (idxMu): Apply holds the
// read lock while it computes and writes keys, so that a declaration,
// which builds the new attribute's keys from the stored objects under the
// write lock, never misses an object a concurrent Apply writes.

// hashKeys returns a hash of an object's stored keys, never 0, seeded with
// what was declared: after a declaration, every object's keys are written
// again at its next put, so none is left behind.
func hashKeys(seed string, keys []int64) int64 {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	h := fnv.New64a()
	h.Write([]byte(seed))
	var b [8]byte
	for _, k := range sorted {
		binary.LittleEndian.PutUint64(b[:], uint64(k))
		h.Write(b[:])
	}
	if v := int64(h.Sum64()); v != 0 {
		return v
	}
	return 1
}

// connSpec is what is keyed of a connector's objects.
type connSpec struct {
	conn  string
	attrs map[string]bool
	refs  bool
	seed  string
}

func (s *Store) connSpec(conn string) connSpec {
	attrs := connAttrs(s.csAttrs, conn)
	return connSpec{conn: conn, attrs: attrs, refs: s.refConns[conn],
		seed: fmt.Sprint(s.refConns[conn], strings.Join(slices.Sorted(maps.Keys(attrs)), "\x00"))}
}

func (s *Store) mvSeed() string { return strings.Join(slices.Sorted(maps.Keys(s.mvAttrs)), "\x00") }

// csKeys returns the stored keys of a CS object (besides its DN key).
func csKeys(o *store.CSObject, sp connSpec) []int64 {
	ks := store.CSKeys(o, sp.attrs, sp.refs)
	out := make([]int64, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyhash.Of(o.Connector, k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func mvKeys(o *store.MVObject, attrs map[string]bool) []int64 {
	ks := store.MVKeys(o, attrs)
	out := make([]int64, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyhash.Of(o.Type, k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// connAttrs returns the attributes declared for connector conn among all
// (entries "connector \x00 attribute").
func connAttrs(all map[string]bool, conn string) map[string]bool {
	out := map[string]bool{}
	for k := range all {
		if c, a, ok := strings.Cut(k, "\x00"); ok && c == conn {
			out[a] = true
		}
	}
	return out
}

// dnKeyPrefix starts every store.DNKey; dnKey is the dn_key of a DN.
var dnKeyPrefix = store.DNKey("")

func dnKey(dn string) string {
	if dn == "" {
		return ""
	}
	return store.DNKey(dn)
}

// loadIndexAttrs reads what was declared.
func (s *Store) loadIndexAttrs(ctx context.Context) error {
	s.csAttrs, s.mvAttrs, s.refConns = map[string]bool{}, map[string]bool{}, map[string]bool{}
	rows, err := s.pool.Query(ctx, `SELECT side, attr FROM index_attrs`)
	if err != nil {
		return fmt.Errorf("read indexed attributes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var side string
		var attr []byte
		if err := rows.Scan(&side, &attr); err != nil {
			return fmt.Errorf("read indexed attributes: %w", err)
		}
		switch side {
		case "cs":
			s.csAttrs[string(attr)] = true
		case "mv":
			s.mvAttrs[string(attr)] = true
		case "ref":
			s.refConns[string(attr)] = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read indexed attributes: %w", err)
	}
	return nil
}

// keySpec is what a declaration adds: the value keys of cs (entries
// "connector \x00 attribute") and mv, and the reference keys of the
// connectors in refs.
type keySpec struct {
	cs, mv, refs map[string]bool
}

func (k keySpec) empty() bool { return len(k.cs) == 0 && len(k.mv) == 0 && len(k.refs) == 0 }

// Index declares what to keep keys for, building the keys of what is
// declared for the first time from the stored objects, in one transaction.
func (s *Store) Index(ctx context.Context, spec store.IndexSpec) error {
	s.idxMu.RLock()
	news := s.newIndex(spec)
	s.idxMu.RUnlock()
	if news.empty() {
		return nil
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if news = s.newIndex(spec); news.empty() {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for side, names := range map[string]map[string]bool{"cs": news.cs, "mv": news.mv, "ref": news.refs} {
			for n := range names {
				if _, err := tx.Exec(ctx, `INSERT INTO index_attrs (side, attr) VALUES ($1, $2) ON CONFLICT DO NOTHING`, side, []byte(n)); err != nil {
					return err
				}
			}
		}
		if err := buildKeys(ctx, tx, news); err != nil {
			return fmt.Errorf("build keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	maps.Copy(s.csAttrs, news.cs)
	maps.Copy(s.mvAttrs, news.mv)
	maps.Copy(s.refConns, news.refs)
	return nil
}

// buildKeys inserts the keys spec adds of every stored object. The keys an
// object had stay (ON CONFLICT DO NOTHING); its keys_hash, computed with
// the declarations before, differs from the one of its next put, which
// writes all its keys again.
func buildKeys(ctx context.Context, tx pgx.Tx, spec keySpec) error {
	if len(spec.cs) > 0 || len(spec.refs) > 0 {
		specs := map[string]connSpec{}
		err := eachBlob(ctx, tx, "cs_objects", true, func(b string) ([]int64, error) {
			o, err := codec.DecodeCS(b)
			if err != nil {
				return nil, err
			}
			sp, ok := specs[o.Connector]
			if !ok {
				sp = connSpec{attrs: connAttrs(spec.cs, o.Connector), refs: spec.refs[o.Connector]}
				specs[o.Connector] = sp
			}
			return csKeys(o, sp), nil
		}, "cs_keys")
		if err != nil {
			return fmt.Errorf("cs objects: %w", err)
		}
	}
	if len(spec.mv) > 0 {
		err := eachBlob(ctx, tx, "mv_objects", false, func(b string) ([]int64, error) {
			o, err := codec.DecodeMV(b)
			if err != nil {
				return nil, err
			}
			return mvKeys(o, spec.mv), nil
		}, "mv_keys")
		if err != nil {
			return fmt.Errorf("mv objects: %w", err)
		}
	}
	return nil
}

// eachBlob pages through a table's objects in tx, calls keys for each, and
// inserts the keys it returns into keyTable.
func eachBlob(ctx context.Context, tx pgx.Tx, table string, cs bool, keys func(string) ([]int64, error), keyTable string) error {
	after := []byte{}
	for {
		blobs, err := readBlobs(tx.Query(ctx, `SELECT data FROM `+table+` WHERE id > $1 ORDER BY id LIMIT $2`, after, scanChunk))
		if err != nil {
			return err
		}
		var ks []int64
		var ids [][]byte
		for _, b := range blobs {
			k, err := keys(b)
			if err != nil {
				return err
			}
			id, err := codec.BlobID(b, cs)
			if err != nil {
				return err
			}
			for _, x := range k {
				ks = append(ks, x)
				ids = append(ids, []byte(id))
			}
		}
		if err := replaceKeys(ctx, tx, keyTable, nil, ks, ids, false); err != nil {
			return err
		}
		if len(blobs) < scanChunk {
			return nil
		}
		last, err := codec.BlobID(blobs[len(blobs)-1], cs)
		if err != nil {
			return err
		}
		after = []byte(last)
	}
}

// newIndex returns what spec declares that was not declared before.
func (s *Store) newIndex(spec store.IndexSpec) keySpec {
	var cs []string
	for conn, attrs := range spec.CS {
		for _, a := range attrs {
			if a != "" {
				cs = append(cs, conn+"\x00"+a)
			}
		}
	}
	return keySpec{cs: newAttrs(s.csAttrs, cs), mv: newAttrs(s.mvAttrs, spec.MV), refs: newAttrs(s.refConns, spec.RefConnectors)}
}

func newAttrs(have map[string]bool, want []string) map[string]bool {
	out := map[string]bool{}
	for _, a := range want {
		if a != "" && !have[a] {
			out[a] = true
		}
	}
	return out
}

// CSByKey returns, sorted, the IDs of the CS objects of connector with key.
func (s *Store) CSByKey(ctx context.Context, connector, key string) ([]string, error) {
	var ids []string
	var err error
	if strings.HasPrefix(key, dnKeyPrefix) {
		ids, err = readIDs(s.pool.Query(ctx, `SELECT id FROM cs_objects WHERE connector = $1 AND dn_key = $2 AND dn_key <> ''`,
			[]byte(connector), []byte(key)))
	} else {
		ids, err = readIDs(s.pool.Query(ctx, `SELECT c.id FROM cs_keys k JOIN cs_objects c ON c.id = k.id
			WHERE k.key = $1 AND c.connector = $2`, keyhash.Of(connector, key), []byte(connector)))
	}
	if err != nil {
		return nil, fmt.Errorf("look up cs objects of %q by key: %w", connector, err)
	}
	return ids, nil
}

// MVByKey returns, sorted, the IDs of the MV objects of mvType with key.
func (s *Store) MVByKey(ctx context.Context, mvType, key string) ([]string, error) {
	ids, err := readIDs(s.pool.Query(ctx, `SELECT m.id FROM mv_keys k JOIN mv_objects m ON m.id = k.id
		WHERE k.key = $1 AND m.type = $2`, keyhash.Of(mvType, key), []byte(mvType)))
	if err != nil {
		return nil, fmt.Errorf("look up mv objects of type %q by key: %w", mvType, err)
	}
	return ids, nil
}

func readIDs(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, string(id))
	}
	slices.Sort(out)
	return out, rows.Err()
}
