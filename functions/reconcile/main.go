// Command reconcile is the Lambda function that, on a schedule, ingests
// export files no S3 event brought (package reconcile).
package main

import (
	"context"
	"log/slog"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdamain"
	"github.com/telcolake/telcolake/reconcile"
)

func main() {
	lambdamain.Start("reconcile", func(_ context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		rc := &reconcile.Reconciler{Bucket: conn.Cfg.LandingBucket, Store: conn.Landing(), Ingest: conn.Ingester(log), Log: log,
			Ledger: func(ctx context.Context) ([]lake.LogEntry, error) {
				return lake.ReadIngestLog(conn.Context(ctx), conn.Catalog)
			}}
		return rc.Run, nil
	})
}
