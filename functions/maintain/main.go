// Command maintain is the Lambda function that, daily, maintains every
// crm.* table: orphan files, compaction, manifests, ledger, snapshot expiry
// (lake.Maintainer), reporting to its log and crm.maintenance_log.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdamain"
)

func main() {
	lambdamain.Start("maintain", func(_ context.Context, conn *lake.Conn, log *slog.Logger) (any, error) {
		mcfg, err := lake.MaintainConfigFromEnv(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		m := lake.NewMaintainer(mcfg, conn.Catalog, log)
		m.AWS = &conn.AWS
		return func(ctx context.Context) (lake.MaintainReport, error) { return m.Run(ctx) }, nil
	})
}
