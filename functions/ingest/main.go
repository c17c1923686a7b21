// Command ingest is the Lambda function that ingests export files dropped in
// the landing bucket into the lake's Iceberg tables: batches of S3
// notifications from the ingest queue (SQS), or S3 events delivered directly.
//
// With TELCOLAKE_CPUPROFILE set to a directory, each invocation writes a CPU
// profile there (ingest-<pid>-<n>.pprof, lambdamain.Profiled), for profiling
// one batch locally: e.g. TELCOLAKE_CPUPROFILE=/tmp/prof make demo (the
// local stack's functions inherit its environment).
package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdamain"
)

func main() {
	lambdamain.Start("ingest", func(_ context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		in := conn.Ingester(log)
		return lambdamain.Profiled("ingest", log, func(ctx context.Context, ev json.RawMessage) (any, error) {
			return in.HandleEvent(ctx, conn.Cfg.LandingBucket, ev)
		}), nil
	})
}
