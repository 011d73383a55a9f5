// Command idsync is the identity synchronization engine: it imports users,
// groups and contacts from directories, joins them in a metaverse through
// sync rules, and exports them to targets.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idsync:", masker.Mask(err.Error()))
		os.Exit(exitCode(err))
	}
}
