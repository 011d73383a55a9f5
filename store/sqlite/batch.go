package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/keyhash"
)

// batchParams is the number of IDs per query of the batch reads: well
// under SQLite's limit of bound parameters.
const batchParams = 500

var _ store.BatchReader = (*Store)(nil)

// inQuery runs query, whose "%s" is replaced by a list of placeholders,
// for each batch of ids, and returns the blobs of every row.
func (s *Store) inQuery(ctx context.Context, query string, ids []string) ([]string, error) {
	var all []string
	for start := 0; start < len(ids); start += batchParams {
		part := ids[start:min(start+batchParams, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		q := fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat("?,", len(part)), ","))
		blobs, err := readBlobs(s.r.QueryContext(ctx, q, args...))
		if err != nil {
			return nil, err
		}
		all = append(all, blobs...)
	}
	return all, nil
}

func (s *Store) decodeAllCS(blobs []string) ([]*store.CSObject, error) {
	objs := make([]*store.CSObject, 0, len(blobs))
	for _, b := range blobs {
		o, err := decodeCS(b)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// GetCSMany returns the CS objects with these IDs (absent ones left out).
func (s *Store) GetCSMany(ctx context.Context, ids []string) ([]*store.CSObject, error) {
	blobs, err := s.inQuery(ctx, `SELECT data FROM cs_objects WHERE id IN (%s)`, ids)
	if err == nil {
		var objs []*store.CSObject
		if objs, err = s.decodeAllCS(blobs); err == nil {
			return objs, nil
		}
	}
	return nil, fmt.Errorf("get %d cs objects: %w", len(ids), err)
}

// GetMVMany returns the MV objects with these IDs (absent ones left out).
func (s *Store) GetMVMany(ctx context.Context, ids []string) ([]*store.MVObject, error) {
	blobs, err := s.inQuery(ctx, `SELECT data FROM mv_objects WHERE id IN (%s)`, ids)
	if err != nil {
		return nil, fmt.Errorf("get %d mv objects: %w", len(ids), err)
	}
	objs := make([]*store.MVObject, 0, len(blobs))
	for _, b := range blobs {
		o, err := decodeMV(b)
		if err != nil {
			return nil, fmt.Errorf("get %d mv objects: %w", len(ids), err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// CSForMVs returns the CS objects joined to any of these MV objects.
func (s *Store) CSForMVs(ctx context.Context, mvids []string) ([]*store.CSObject, error) {
	ids := make([]string, 0, len(mvids))
	for _, id := range mvids {
		if id != "" {
			ids = append(ids, id)
		}
	}
	// The mvid <> '' term lets SQLite use the partial index cs_objects_mvid.
	blobs, err := s.inQuery(ctx, `SELECT data FROM cs_objects WHERE mvid IN (%s) AND mvid <> ''`, ids)
	if err == nil {
		var objs []*store.CSObject
		if objs, err = s.decodeAllCS(blobs); err == nil {
			return objs, nil
		}
	}
	return nil, fmt.Errorf("cs objects of %d mv objects: %w", len(mvids), err)
}

// CSByKeys looks several keys of one connector up at once.
func (s *Store) CSByKeys(ctx context.Context, connector string, keys []string) (map[string][]string, error) {
	out := map[string][]string{}
	var dns []any
	var others []string
	for _, k := range keys {
		if strings.HasPrefix(k, dnKeyPrefix) {
			dns = append(dns, k)
		} else {
			others = append(others, k)
		}
	}
	hs, byHash := keyhash.Group(connector, others)
	hashes := anys(hs)
	read := func(query string, args []any, add func(key any, id string)) error {
		return s.keyRows(ctx, query, connector, args, add)
	}
	err := read(`SELECT dn_key, id FROM cs_objects WHERE connector = ? AND dn_key IN (%s)`, dns, func(key any, id string) {
		k := fmt.Sprint(key)
		if b, ok := key.([]byte); ok {
			k = string(b)
		}
		out[k] = append(out[k], id)
	})
	if err == nil {
		err = read(`SELECT k.key, c.id FROM cs_keys k CROSS JOIN cs_objects c WHERE c.rowid = k.crow AND c.connector = ? AND k.key IN (%s)`, hashes, func(key any, id string) {
			h, _ := key.(int64)
			for _, k := range byHash[h] {
				out[k] = append(out[k], id)
			}
		})
	}
	if err != nil {
		return nil, fmt.Errorf("look up cs objects of %q by %d keys: %w", connector, len(keys), err)
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out, nil
}

// keyRows runs query, whose "%s" is replaced by a list of placeholders,
// for each batch of args with first as its first parameter, and calls add
// with the two columns (a key and an ID) of every row.
func (s *Store) keyRows(ctx context.Context, query string, first any, args []any, add func(key any, id string)) error {
	for start := 0; start < len(args); start += batchParams {
		part := args[start:min(start+batchParams, len(args))]
		q := fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat("?,", len(part)), ","))
		rows, err := s.r.QueryContext(ctx, q, append([]any{first}, part...)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var key any
			var id string
			if err := rows.Scan(&key, &id); err != nil {
				rows.Close()
				return err
			}
			add(key, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// MVByKeys looks several keys of one MV object type up at once.
func (s *Store) MVByKeys(ctx context.Context, mvType string, keys []string) (map[string][]string, error) {
	hashes, byHash := keyhash.Group(mvType, keys)
	out := map[string][]string{}
	err := s.keyRows(ctx, `SELECT k.key, m.id FROM mv_keys k CROSS JOIN mv_objects m WHERE m.rowid = k.mrow AND m.type = ? AND k.key IN (%s)`,
		mvType, anys(hashes), func(key any, id string) {
			h, _ := key.(int64)
			for _, k := range byHash[h] {
				out[k] = append(out[k], id)
			}
		})
	if err != nil {
		return nil, fmt.Errorf("look up mv objects of type %q by %d keys: %w", mvType, len(keys), err)
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out, nil
}

// anys returns xs as query arguments.
func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
