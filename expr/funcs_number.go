package expr

import (
	"errors"
	"fmt"
)

// NumberAllocator is the hook NextFreeNumber asks for a number: the sync
// engine's outbound flows implement it from the target's connector space.
type NumberAllocator interface {
	// NextFreeNumber returns the number between start and end (inclusive)
	// the object being mapped keeps or gets in the flow's attribute: the
	// one it holds if still its own, else the lowest no other object of
	// the target holds or has been given.
	NextFreeNumber(start, end int64) (int64, error)
}

// maxNumber is NextFreeNumber's default end.
const maxNumber = 1<<53 - 1

// fnNextFreeNumber: NextFreeNumber(start[, end]), in both dialects: the
// object's number in the flow's target attribute, or the lowest free one
// from start (sequential extensions, employee numbers). It needs a target:
// without one (an inbound flow, idsync expr eval) it is an error.
func fnNextFreeNumber(c *ctx, a []value) (value, error) {
	start, err := argNum(a, 0)
	if err != nil {
		return null, err
	}
	end := int64(maxNumber)
	if len(a) > 1 && !a[1].isNull() {
		if end, err = argNum(a, 1); err != nil {
			return null, err
		}
	}
	if start < 0 || end < start {
		return null, fmt.Errorf("the range %d–%d is empty or negative: give 0 ≤ start ≤ end", start, end)
	}
	alloc, ok := c.env.(NumberAllocator)
	if !ok {
		return null, errors.New("NextFreeNumber hands out numbers of a target's attribute: use it in an outbound flow")
	}
	n, err := alloc.NextFreeNumber(start, end)
	if err != nil {
		return null, err
	}
	return num(n), nil
}

func init() {
	register(fixed("NextFreeNumber", 1, 2, false, fnNextFreeNumber))
}
