package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/telcolake/telcolake/bench/proc"
)

// runChild runs cmd to completion and returns its wall time, its peak RSS
// and its stdout (proc.Run); a failure carries the command and the tail
// of its stderr.
func runChild(cmd *exec.Cmd) (runResult, []byte, error) {
	res, stdout, stderr, err := proc.Run(cmd)
	out := runResult{Wall: res.Wall, CPU: res.CPU, MaxRSSKiB: res.MaxRSSKiB}
	if err != nil {
		return out, stdout, fmt.Errorf("%s: %w\nstderr:\n%s", strings.Join(cmd.Args, " "), err, tail(string(stderr), 4000))
	}
	return out, stdout, nil
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
func tail(s string, n int) string { return proc.Tail(s, n) }
