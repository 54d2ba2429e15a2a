//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time this process has used so far,
// so that speeds can also be given per CPU-second, which is steadier than
// wall time on a machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
