//go:build unix

package postgres

import (
	"syscall"
	"time"
)

// cpuTime returns the user plus system CPU time of the process, a measure
// that is less disturbed than wall time by other programs on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
