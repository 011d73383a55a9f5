package sealed

import (
	"context"
	"errors"

	"github.com/idsync/idsync/store"
)

// The batch reads open the objects' sealed values like the one-object
// reads. Through a store that has no batch reads, they read one object
// at a time.

var (
	_ store.BatchReader = (*Store)(nil)
	_ store.BatchReader = (*masked)(nil)
)

// GetCSMany opens the objects' sealed values.
func (s *Store) GetCSMany(ctx context.Context, ids []string) ([]*store.CSObject, error) {
	return getCSMany(ctx, s.Store, &codec{o: s.o}, ids)
}

// GetMVMany opens the objects' sealed values.
func (s *Store) GetMVMany(ctx context.Context, ids []string) ([]*store.MVObject, error) {
	return getMVMany(ctx, s.Store, &codec{o: s.o}, ids)
}

// CSForMVs opens the objects' sealed values.
func (s *Store) CSForMVs(ctx context.Context, mvids []string) ([]*store.CSObject, error) {
	return csForMVs(ctx, s.Store, &codec{o: s.o}, mvids)
}

func (m *masked) GetCSMany(ctx context.Context, ids []string) ([]*store.CSObject, error) {
	return getCSMany(ctx, m.Store, m.c, ids)
}

func (m *masked) GetMVMany(ctx context.Context, ids []string) ([]*store.MVObject, error) {
	return getMVMany(ctx, m.Store, m.c, ids)
}

func (m *masked) CSForMVs(ctx context.Context, mvids []string) ([]*store.CSObject, error) {
	return csForMVs(ctx, m.Store, m.c, mvids)
}

func getCSMany(ctx context.Context, st store.Store, c *codec, ids []string) ([]*store.CSObject, error) {
	return readMany(st, ids,
		func(b store.BatchReader) ([]*store.CSObject, error) { return b.GetCSMany(ctx, ids) },
		func(id string) ([]*store.CSObject, error) { return oneFound(st.GetCS(ctx, id)) },
		c.openCS)
}

func getMVMany(ctx context.Context, st store.Store, c *codec, ids []string) ([]*store.MVObject, error) {
	return readMany(st, ids,
		func(b store.BatchReader) ([]*store.MVObject, error) { return b.GetMVMany(ctx, ids) },
		func(id string) ([]*store.MVObject, error) { return oneFound(st.GetMV(ctx, id)) },
		c.openMV)
}

func csForMVs(ctx context.Context, st store.Store, c *codec, mvids []string) ([]*store.CSObject, error) {
	return readMany(st, mvids,
		func(b store.BatchReader) ([]*store.CSObject, error) { return b.CSForMVs(ctx, mvids) },
		func(id string) ([]*store.CSObject, error) { return st.CSForMV(ctx, id) },
		c.openCS)
}

// readMany reads the objects of ids with batch when st has batch reads,
// otherwise with one for each id in turn, then opens every object's
// sealed values.
func readMany[T any](st store.Store, ids []string, batch func(store.BatchReader) ([]T, error),
	one func(id string) ([]T, error), open func(T) error) ([]T, error) {
	var objs []T
	if b, ok := st.(store.BatchReader); ok {
		var err error
		if objs, err = batch(b); err != nil {
			return nil, err
		}
	} else {
		for _, id := range ids {
			got, err := one(id)
			if err != nil {
				return nil, err
			}
			objs = append(objs, got...)
		}
	}
	for _, o := range objs {
		if err := open(o); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// oneFound is a one-object read as a list: none when the object is not
// found, as a batch read leaves it out.
func oneFound[T any](o T, err error) ([]T, error) {
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []T{o}, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// CSByKeys returns IDs only: nothing to open.
func (s *Store) CSByKeys(ctx context.Context, connector string, keys []string) (map[string][]string, error) {
	return csByKeys(ctx, s.Store, connector, keys)
}

func (m *masked) CSByKeys(ctx context.Context, connector string, keys []string) (map[string][]string, error) {
	return csByKeys(ctx, m.Store, connector, keys)
}

func csByKeys(ctx context.Context, st store.Store, connector string, keys []string) (map[string][]string, error) {
	if b, ok := st.(store.BatchReader); ok {
		return b.CSByKeys(ctx, connector, keys)
	}
	out := map[string][]string{}
	for _, k := range keys {
		ids, err := st.CSByKey(ctx, connector, k)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			out[k] = ids
		}
	}
	return out, nil
}

// MVByKeys returns IDs only: nothing to open.
func (s *Store) MVByKeys(ctx context.Context, mvType string, keys []string) (map[string][]string, error) {
	return mvByKeys(ctx, s.Store, mvType, keys)
}

func (m *masked) MVByKeys(ctx context.Context, mvType string, keys []string) (map[string][]string, error) {
	return mvByKeys(ctx, m.Store, mvType, keys)
}

func mvByKeys(ctx context.Context, st store.Store, mvType string, keys []string) (map[string][]string, error) {
	if b, ok := st.(store.BatchReader); ok {
		return b.MVByKeys(ctx, mvType, keys)
	}
	out := map[string][]string{}
	for _, k := range keys {
		ids, err := st.MVByKey(ctx, mvType, k)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			out[k] = ids
		}
	}
	return out, nil
}
