package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallel computes fn(i) for i in [0, n) on every CPU and returns the
// results in order. fn must only read shared state. seq runs them one
// after the other (a targeted state reads the store as it goes).
func parallel[T any](seq bool, n int, fn func(i int) T) []T {
	out := make([]T, n)
	workers := runtime.GOMAXPROCS(0)
	if seq || n < 256 || workers == 1 {
		for i := range out {
			out[i] = fn(i)
		}
		return out
	}
	const chunk = 64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= n {
					return
				}
				for i := start; i < min(start+chunk, n); i++ {
					out[i] = fn(i)
				}
			}
		}()
	}
	wg.Wait()
	return out
}
