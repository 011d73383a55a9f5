package engine

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/idsync/idsync/store"
)

// NextFreeNumber in outbound flows (sequential extensions, R5.7): each
// object of a target keeps the number it holds in the flow's attribute
// (as imported, or as its pending export gives it) while no other object
// holds it; an object without one gets the lowest number of the range
// that no object of the target holds or is about to get (taken, as for
// SelectUniqueValue) and that no other object got earlier in this run.
// Numbers given in a run are reserved in the syncer, under a lock, so the
// parallel computeOut never gives one number twice; a later run sees them
// in the pending exports. Runs of one store do not overlap (the run lock
// and Engine.mu), so two imports never hand out the same number. Which of
// the objects new in one synchronization gets which number depends on the
// order they are computed in; once given, a number stays (an applyOnce
// flow does not even recompute it).

// numberPool is the numbers given in one run for one target attribute and
// range start.
type numberPool struct {
	mu     sync.Mutex
	next   int64            // no free number below it (for objects without one)
	holder map[int64]string // number → ID of the object given it in this run
	given  map[string]int64 // object ID → number given in this run
}

func (sy *syncer) numberPool(tc, attr string, start int64) *numberPool {
	sy.numMu.Lock()
	defer sy.numMu.Unlock()
	key := tc + "\x00" + attr + "\x00" + strconv.FormatInt(start, 10)
	p := sy.nums[key]
	if p == nil {
		if sy.nums == nil {
			sy.nums = map[string]*numberPool{}
		}
		p = &numberPool{next: start, holder: map[int64]string{}, given: map[string]int64{}}
		sy.nums[key] = p
	}
	return p
}

// nextNumber answers NextFreeNumber(start, end) for target object t of tc
// in attribute attr.
func (sy *syncer) nextNumber(tc string, t *store.CSObject, attr string, start, end int64) (int64, error) {
	p := sy.numberPool(tc, attr, start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.given[t.ID]; ok && t.ID != "" {
		return n, nil
	}
	give := func(n int64) int64 {
		if t.ID != "" {
			p.holder[n], p.given[t.ID] = t.ID, n
		}
		return n
	}
	// The number the object holds stays its own.
	vals := t.Object.Attrs[attr].Values
	if t.Pending != nil {
		vals = futureValues(vals, t.Pending.Changes, attr)
	}
	for _, v := range vals {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < start || n > end || strconv.FormatInt(n, 10) != v {
			continue
		}
		if h, ok := p.holder[n]; ok && h != t.ID {
			continue
		}
		if !sy.taken(tc, t, attr, v) {
			return give(n), nil
		}
	}
	for n := max(p.next, start); n <= end; n++ {
		if _, ok := p.holder[n]; ok {
			continue
		}
		if sy.taken(tc, t, attr, strconv.FormatInt(n, 10)) {
			continue
		}
		p.next = n + 1
		return give(n), nil
	}
	return 0, fmt.Errorf("no free number between %d and %d in %s of %s", start, end, attr, tc)
}
