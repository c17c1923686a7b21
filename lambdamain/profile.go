package lambdamain

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"
)

// EnvCPUProfile names a directory: with it set, a handler wrapped by
// Profiled writes one CPU profile per invocation there
// (<name>-<pid>-<n>.pprof). The local stack's functions inherit its
// environment, so e.g. TELCOLAKE_CPUPROFILE=/tmp/prof make demo profiles
// every invocation of those functions.
const EnvCPUProfile = "TELCOLAKE_CPUPROFILE"

// Profiled wraps h so that each invocation is profiled when EnvCPUProfile
// is set (h itself otherwise). A profile that cannot start is logged and
// skipped; it never fails the invocation.
func Profiled[T, R any](name string, log *slog.Logger, h func(context.Context, T) (R, error)) func(context.Context, T) (R, error) {
	dir := os.Getenv(EnvCPUProfile)
	if dir == "" {
		return h
	}
	var n atomic.Int64
	return func(ctx context.Context, ev T) (R, error) {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.pprof", name, os.Getpid(), n.Add(1)))
		f, err := os.Create(path)
		if err == nil {
			if err = pprof.StartCPUProfile(f); err != nil {
				f.Close()
			} else {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
		if err != nil {
			log.WarnContext(ctx, "CPU profile not written", "path", path, "error", err)
		}
		return h(ctx, ev)
	}
}
