package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/telcolake/telcolake/bench/proc"
)

// envHeapProfile names a directory: when set, each step writes a heap
// profile (pprof) there, <function>-<action>.pprof, each time its live
// heap passes its highest so far by 32 MiB, so that the file left is the
// heap near the step's peak (as of the GC before it: what was live).
// A diagnostic for the memory of one invocation; not set by make scale.
const envHeapProfile = "SCALE_HEAP_PROFILE"

// watchHeap starts the profiler of envHeapProfile for step name; the
// returned function stops it.
func watchHeap(ctx context.Context, name string) func() {
	dir := os.Getenv(envHeapProfile)
	if dir == "" {
		return func() {}
	}
	return proc.WatchHeap(ctx, filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".pprof"))
}
