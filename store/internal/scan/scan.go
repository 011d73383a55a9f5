// Package scan is the reading pipeline of the store backends' scans: rows
// are fetched, decoded and visited in three goroutines, a chunk apart.
package scan

import (
	"context"
	"fmt"
)

// FetchFunc reads the chunk of rows after key after; more is false at the end.
type FetchFunc[R any] func(ctx context.Context, after string) (rows []R, last string, more bool, err error)

type chunk[T any] struct {
	rows []T
	err  error // after rows
}

// send sends c on ch unless ctx is done first.
func send[T any](ctx context.Context, ch chan<- chunk[T], c chunk[T]) bool {
	select {
	case ch <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// Pipeline calls visit, in order, for every row fetch returns, decoded.
// Fetching, decoding and visiting run in three goroutines, a chunk apart, so
// a scan keeps up to two cores busy besides the caller's callback. visit's
// first error is returned unchanged. Pipeline returns only after its
// goroutines have ended.
func Pipeline[R, O any](ctx context.Context, fetch FetchFunc[R], decode func(R) (O, error),
	visit func(O) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	raw := make(chan chunk[R], 1)
	dec := make(chan chunk[O], 1)
	go func() {
		defer close(raw)
		after := ""
		for {
			rows, last, more, err := fetch(ctx, after)
			if !send(ctx, raw, chunk[R]{rows, err}) || err != nil || !more {
				return
			}
			after = last
		}
	}()
	go func() {
		defer close(dec)
		for c := range raw {
			out := chunk[O]{rows: make([]O, 0, len(c.rows)), err: c.err}
			for _, r := range c.rows {
				o, err := decode(r)
				if err != nil {
					out.err = err
					break
				}
				out.rows = append(out.rows, o)
			}
			if !send(ctx, dec, out) || out.err != nil {
				cancel()
				for range raw { // let the fetcher end
				}
				return
			}
		}
	}()
	stop := func(err error) error {
		cancel()
		for range dec { // let the decoder end
		}
		return err
	}
	for c := range dec {
		for _, o := range c.rows {
			if err := visit(o); err != nil {
				return stop(err)
			}
		}
		if c.err != nil {
			return stop(c.err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	return nil
}
