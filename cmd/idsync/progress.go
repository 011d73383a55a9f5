package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/idsync/idsync/store"
)

// progressBar draws a run's progress on a terminal; it stays silent when
// stderr is not a terminal (scripts, CI, logs).
type progressBar struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	last time.Time
	line bool
}

func newProgressBar() *progressBar {
	return &progressBar{w: os.Stderr, tty: term.IsTerminal(int(os.Stderr.Fd()))}
}

func (p *progressBar) update(r *store.Run) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	finished := r.Status != store.RunRunning
	if !finished && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	label := fmt.Sprintf("%s %s", r.Connector, r.Profile)
	var bar string
	if r.Total > 0 {
		frac := float64(r.Done) / float64(r.Total)
		frac = min(frac, 1)
		n := int(frac * 30)
		bar = fmt.Sprintf("[%s%s] %3.0f%% %d/%d", strings.Repeat("=", n), strings.Repeat(" ", 30-n), frac*100, r.Done, r.Total)
	} else {
		bar = fmt.Sprintf("%d objects", r.Done)
	}
	fmt.Fprintf(p.w, "\r\033[K%-28s %s", label, bar)
	p.line = true
	if finished {
		fmt.Fprint(p.w, "\r\033[K")
		p.line = false
	}
}
