package file

import "hash/maphash"

// lineSet maps the keys of a scan (anchors, DNs) to the line each was first
// on, to report duplicates. It holds a 128-bit hash of each key, not the key:
// a scan checks every object of the file, and at a million objects the
// strings (a lower-cased copy of every DN) cost more memory than the map.
// Two different keys with one hash would read as a duplicate; with 128
// bits from two random seeds the chance is about n²/2¹²⁹ for n keys, some
// 10⁻²⁵ for ten million.
type lineSet struct {
	s1, s2 maphash.Seed
	m      map[[2]uint64]int
}

func newLineSet() *lineSet {
	return &lineSet{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), m: map[[2]uint64]int{}}
}

func (ls *lineSet) hash(key string) [2]uint64 {
	return [2]uint64{maphash.String(ls.s1, key), maphash.String(ls.s2, key)}
}

// first returns the line key was first on, and whether it was met before.
func (ls *lineSet) first(key string) (int, bool) {
	line, ok := ls.m[ls.hash(key)]
	return line, ok
}

// add records that key is on line, unless it was met before.
func (ls *lineSet) add(key string, line int) {
	h := ls.hash(key)
	if _, ok := ls.m[h]; !ok {
		ls.m[h] = line
	}
}
