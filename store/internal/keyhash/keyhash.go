// Package keyhash is the stored form of the store's keys (store.CSKeys,
// store.MVKeys), shared by the SQLite and PostgreSQL backends: a key of a
// space (a connector, or an MV object type) is kept as a 64-bit hash, and
// a lookup checks the objects it finds, as a hash may collide.
package keyhash

import (
	"hash/fnv"
	"slices"
)

// Of returns the stored form of key in space.
func Of(space, key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(space))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// Group returns the distinct hashes of keys in space, in the order first
// seen, and the keys of each hash (each key once), for a batch lookup to
// give every key the rows of its hash.
func Group(space string, keys []string) ([]int64, map[int64][]string) {
	var hashes []int64
	byHash := map[int64][]string{}
	for _, k := range keys {
		h := Of(space, k)
		if _, ok := byHash[h]; !ok {
			hashes = append(hashes, h)
		}
		if !slices.Contains(byHash[h], k) {
			byHash[h] = append(byHash[h], k)
		}
	}
	return hashes, byHash
}
