//go:build unix

package cputime

import (
	"syscall"
	"time"
)

// self returns this process's CPU time from getrusage, in which the kernel
// brings the calling thread's time up to date (schedstat shows a running
// thread's time as of its last tick or switch).
func self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
