// Command idsync is the identity synchronization engine: it imports users,
// groups and contacts from directories, joins them in a metaverse through
// sync rules, and exports them to targets.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	stopProfile := cpuProfile(os.Getenv("IDSYNC_CPUPROFILE"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idsync:", masker.Mask(err.Error()))
		os.Exit(exitCode(err))
	}
}

// cpuProfile writes a CPU profile of the whole command to path
// ($IDSYNC_CPUPROFILE, for measuring: read it with go tool pprof); it
// returns the function that ends it. An empty path profiles nothing.
func cpuProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "idsync: IDSYNC_CPUPROFILE: %v (no profile written)\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "idsync: IDSYNC_CPUPROFILE: %v\n", err)
		}
	}
}
