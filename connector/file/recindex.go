package file

// recIndex is a hash table of record numbers (the image's index by anchor
// key and by DN): open addressing with linear probing, 8 bytes a slot,
// at most three quarters full. It stores 32 bits of each key's hash, not
// the key: a lookup checks the record each matching slot names, so keys
// whose hashes are equal are told apart by their records. The maps it
// replaced cost about 60 bytes per object each (a string key and value,
// at the maps' load).
type recIndex struct {
	// slots hold the low 32 bits of a key's hash (which also give the slot
	// the key starts probing from) over the record number plus one; 0 is
	// an empty slot.
	slots []uint64
	n     int
}

func slotOf(h uint64, rec uint32) uint64 { return h<<32 | (uint64(rec) + 1) }

// find returns the record among those whose key has the hash h for which
// match reports true.
func (x *recIndex) find(h uint64, match func(rec uint32) bool) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	tag := h << 32 >> 32
	for i := tag & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 == tag && match(uint32(s)-1) {
			return uint32(s) - 1, true
		}
	}
}

// insert adds rec, whose key has the hash h.
func (x *recIndex) insert(h uint64, rec uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.place(slotOf(h, rec))
	x.n++
}

func (x *recIndex) place(s uint64) {
	mask := uint64(len(x.slots) - 1)
	i := s >> 32 & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

func (x *recIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, max(16, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			x.place(s)
		}
	}
}

// remove removes rec, whose key has the hash h, if the index holds it. The
// slots after it that would no longer be reached from where their probes
// start move back (deletion without tombstones).
func (x *recIndex) remove(h uint64, rec uint32) {
	if x.n == 0 {
		return
	}
	mask := uint64(len(x.slots) - 1)
	want := slotOf(h, rec)
	i := want >> 32 & mask
	for x.slots[i] != want {
		if x.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		s := x.slots[j]
		if s == 0 {
			break
		}
		// s stays unless its home slot k lies cyclically outside (i, j].
		k := s >> 32 & mask
		if (i < j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		x.slots[i] = s
		i = j
	}
	x.slots[i] = 0
	x.n--
}
