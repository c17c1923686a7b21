package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runChild runs cmd to completion and returns its wall time, its peak RSS
// (from the rusage wait4 reports for that child alone) and its stdout.
func runChild(cmd *exec.Cmd) (runResult, []byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runResult{}, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	err := cmd.Wait()
	res := runResult{Wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSSKiB = ru.Maxrss // KiB on Linux
	}
	if err != nil {
		return res, stdout.Bytes(), fmt.Errorf("%s: %w\nstderr:\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String(), 4000))
	}
	return res, stdout.Bytes(), nil
}

// exitDetail adds the stderr an exec.ExitError carries to its message.
func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, tail(string(ee.Stderr), 4000))
	}
	return err
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
