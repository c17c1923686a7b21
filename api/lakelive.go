package api

import (
	"context"
	"errors"
	"log/slog"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/lake"
)

// LakeLive is the api function's Live over an open lake: snapshots from
// its serving store, model runs and ingested files from its tables,
// campaigns, saved groups, forecasts and scenarios in it, keys from getenv (or the parameter
// store it names). log gets the requests; audit records go to it too,
// marked audit=true.
func LakeLive(ctx context.Context, conn *lake.Conn, getenv func(string) string, log *slog.Logger) (*Live, error) {
	keys, err := LoadKeys(ctx, getenv, nil)
	if err != nil {
		return nil, err
	}
	return NewLive(LiveConfig{Store: conn.Serving(), NotFound: func(err error) bool { return errors.Is(err, lake.ErrNotFound) },
		Sources: LakeSources{Tables: conn.Catalog}, Config: Config{Keys: keys, Log: log, Audit: log.With("audit", true),
			Campaigns: campaign.LakeStore{Tables: conn.Catalog}, Groups: groups.LakeStore{Tables: conn.Catalog},
			Forecasts: forecast.LakeStore{Tables: conn.Catalog}, Scenarios: forecast.ScenarioStore{Tables: conn.Catalog}}})
}
