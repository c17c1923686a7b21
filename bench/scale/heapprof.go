package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"
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
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".pprof")
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var top uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			metrics.Read(s)
			if s[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			if live := s[0].Value.Uint64(); live > top+32<<20 {
				top = live
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
