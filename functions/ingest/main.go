// Command ingest is the Lambda function that ingests export files dropped in
// the landing bucket into the lake's Iceberg tables: batches of S3
// notifications from the ingest queue (SQS), or S3 events delivered directly.
//
// With TELCOLAKE_INGEST_CPUPROFILE set to a directory, each invocation
// writes a CPU profile there (ingest-<pid>-<n>.pprof), for profiling one
// batch locally: e.g. TELCOLAKE_INGEST_CPUPROFILE=/tmp/prof make demo (the
// local stack's functions inherit its environment).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync/atomic"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdamain"
)

func main() {
	lambdamain.Start("ingest", func(_ context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		in := conn.Ingester(log)
		profiles := os.Getenv("TELCOLAKE_INGEST_CPUPROFILE")
		var n atomic.Int64
		return func(ctx context.Context, ev json.RawMessage) (any, error) {
			if profiles != "" {
				stop := startProfile(ctx, log, filepath.Join(profiles, fmt.Sprintf("ingest-%d-%d.pprof", os.Getpid(), n.Add(1))))
				defer stop()
			}
			return in.HandleEvent(ctx, conn.Cfg.LandingBucket, ev)
		}, nil
	})
}

// startProfile profiles the CPU into path until stop; a profile that
// cannot start is logged and skipped, never failing the invocation.
func startProfile(ctx context.Context, log *slog.Logger, path string) (stop func()) {
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		log.WarnContext(ctx, "CPU profile not written", "path", path, "error", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
