// Package proc runs the benchmarks' child processes and measures each
// alone: wall time, CPU time (user + system) and peak RSS, from the
// rusage wait4 reports for that child (and, where that figure is the
// parent's, the child's own VmHWM: see Run). The bench parts and `make scale`
// use it, so a figure means the same in every table.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is what one child used.
type Result struct {
	Wall      time.Duration
	CPU       time.Duration // user + system
	MaxRSSKiB int64         // KiB on Linux
}

// RSSMiB is the peak RSS in MiB.
func (r Result) RSSMiB() float64 { return float64(r.MaxRSSKiB) / 1024 }

// Run runs cmd to completion with its stdout and stderr captured (unless
// the caller set them) and returns what it used, its stdout and its
// stderr. The error is cmd.Wait's (an *exec.ExitError for a failed
// child, so callers can read its exit code), or Start's wrapped.
func Run(cmd *exec.Cmd) (Result, []byte, []byte, error) {
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, nil, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	parent := hwmKiB("self")
	done := make(chan struct{})
	polled := make(chan int64)
	go func() { polled <- pollHWM(cmd.Process.Pid, done) }()
	err := cmd.Wait()
	close(done)
	seen := <-polled
	res := Result{Wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSSKiB = ru.Maxrss
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// Linux carries the high-water RSS of the address space a process
	// execs from into its own maxrss, and Go starts a child with vfork,
	// in the parent's address space: so wait4's figure is at least the
	// parent's peak (a bench that held 900 MiB made every child report
	// 900 MiB). A figure above the parent's peak is the child's own; at
	// or below it, the child's own peak is what its VmHWM showed while
	// it ran (read every pollEvery: a lower bound, short only by what it
	// grew in its last few milliseconds).
	if parent > 0 && res.MaxRSSKiB <= parent && seen > 0 {
		res.MaxRSSKiB = seen
	}
	return res, stdout.Bytes(), stderr.Bytes(), err
}

// pollEvery is how often Run reads a child's VmHWM.
const pollEvery = 10 * time.Millisecond

// pollHWM reads the VmHWM of process pid until done and returns the
// largest value seen (0 if none could be read).
func pollHWM(pid int, done <-chan struct{}) int64 {
	var most int64
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		most = max(most, hwmKiB(strconv.Itoa(pid)))
		select {
		case <-done:
			return most
		case <-tick.C:
		}
	}
}

// hwmKiB is the VmHWM (peak RSS of its current address space) of
// /proc/<pid>, in KiB; 0 when it cannot be read.
func hwmKiB(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// Tail returns at most the last n bytes of s, marked when cut.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// LoadAvg is /proc/loadavg's 1-, 5- and 15-minute figures ("unknown" when
// unreadable): the machine is shared, so every figure says its load.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// LoadAvg1 is the 1-minute figure alone.
func LoadAvg1() string { return strings.Fields(LoadAvg())[0] }
