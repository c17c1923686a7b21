// Package proc runs the benchmarks' child processes and measures each
// alone: wall time, CPU time (user + system) and peak RSS, from the
// rusage wait4 reports for that child. The bench parts and `make scale`
// use it, so a figure means the same in every table.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
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
	err := cmd.Wait()
	res := Result{Wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSSKiB = ru.Maxrss
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return res, stdout.Bytes(), stderr.Bytes(), err
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
