package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/idsync/idsync/store"
	"github.com/idsync/idsync/store/internal/codec"
	"github.com/idsync/idsync/store/internal/keyhash"
)

var _ store.BatchReader = (*Store)(nil)

// batchIDs is the number of IDs per query of the batch reads (one array
// parameter; the bound keeps each reply a reasonable size).
const batchIDs = 5000

func (s *Store) anyQuery(ctx context.Context, query string, ids []string) ([]string, error) {
	var all []string
	for start := 0; start < len(ids); start += batchIDs {
		part := ids[start:min(start+batchIDs, len(ids))]
		arg := make([][]byte, len(part))
		for i, id := range part {
			arg[i] = []byte(id)
		}
		blobs, err := readBlobs(s.pool.Query(ctx, query, arg))
		if err != nil {
			return nil, err
		}
		all = append(all, blobs...)
	}
	return all, nil
}

func decodeAllCS(blobs []string) ([]*store.CSObject, error) {
	objs := make([]*store.CSObject, 0, len(blobs))
	for _, b := range blobs {
		o, err := codec.DecodeCS(b)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// GetCSMany returns the CS objects with these IDs (absent ones left out).
func (s *Store) GetCSMany(ctx context.Context, ids []string) ([]*store.CSObject, error) {
	blobs, err := s.anyQuery(ctx, `SELECT data FROM cs_objects WHERE id = ANY($1)`, ids)
	if err == nil {
		var objs []*store.CSObject
		if objs, err = decodeAllCS(blobs); err == nil {
			return objs, nil
		}
	}
	return nil, fmt.Errorf("get %d cs objects: %w", len(ids), err)
}

// GetMVMany returns the MV objects with these IDs (absent ones left out).
func (s *Store) GetMVMany(ctx context.Context, ids []string) ([]*store.MVObject, error) {
	blobs, err := s.anyQuery(ctx, `SELECT data FROM mv_objects WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("get %d mv objects: %w", len(ids), err)
	}
	objs := make([]*store.MVObject, 0, len(blobs))
	for _, b := range blobs {
		o, err := codec.DecodeMV(b)
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
	blobs, err := s.anyQuery(ctx, `SELECT data FROM cs_objects WHERE mvid = ANY($1) AND mvid <> ''`, ids)
	if err == nil {
		var objs []*store.CSObject
		if objs, err = decodeAllCS(blobs); err == nil {
			return objs, nil
		}
	}
	return nil, fmt.Errorf("cs objects of %d mv objects: %w", len(mvids), err)
}

// CSByKeys looks several keys of one connector up at once.
func (s *Store) CSByKeys(ctx context.Context, connector string, keys []string) (map[string][]string, error) {
	out := map[string][]string{}
	var dns [][]byte
	var others []string
	for _, k := range keys {
		if strings.HasPrefix(k, dnKeyPrefix) {
			dns = append(dns, []byte(k))
		} else {
			others = append(others, k)
		}
	}
	hashes, byHash := keyhash.Group(connector, others)
	collect := func(query string, args []any, add func(key any, id string)) error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			id, _ := vals[1].([]byte)
			add(vals[0], string(id))
		}
		return rows.Err()
	}
	var err error
	for start := 0; start < len(dns) && err == nil; start += batchIDs {
		part := dns[start:min(start+batchIDs, len(dns))]
		err = collect(`SELECT dn_key, id FROM cs_objects WHERE connector = $1 AND dn_key = ANY($2) AND dn_key <> ''`, []any{[]byte(connector), part},
			func(key any, id string) {
				b, _ := key.([]byte)
				out[string(b)] = append(out[string(b)], id)
			})
	}
	for start := 0; start < len(hashes) && err == nil; start += batchIDs {
		part := hashes[start:min(start+batchIDs, len(hashes))]
		err = collect(`SELECT k.key, c.id FROM cs_keys k JOIN cs_objects c ON c.id = k.id
			WHERE k.key = ANY($1) AND c.connector = $2`, []any{part, []byte(connector)},
			func(key any, id string) {
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

// MVByKeys looks several keys of one MV object type up at once.
func (s *Store) MVByKeys(ctx context.Context, mvType string, keys []string) (map[string][]string, error) {
	hashes, byHash := keyhash.Group(mvType, keys)
	out := map[string][]string{}
	for start := 0; start < len(hashes); start += batchIDs {
		part := hashes[start:min(start+batchIDs, len(hashes))]
		rows, err := s.pool.Query(ctx, `SELECT k.key, m.id FROM mv_keys k JOIN mv_objects m ON m.id = k.id
			WHERE k.key = ANY($1) AND m.type = $2`, part, []byte(mvType))
		if err != nil {
			return nil, fmt.Errorf("look up mv objects of type %q by %d keys: %w", mvType, len(keys), err)
		}
		for rows.Next() {
			var h int64
			var id []byte
			if err := rows.Scan(&h, &id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up mv objects of type %q by %d keys: %w", mvType, len(keys), err)
			}
			for _, k := range byHash[h] {
				out[k] = append(out[k], string(id))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("look up mv objects of type %q by %d keys: %w", mvType, len(keys), err)
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out, nil
}
