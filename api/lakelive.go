package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/forecast"
	"github.com/telcolake/telcolake/groups"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
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
	cfg := LiveConfig{Store: conn.Serving(), NotFound: func(err error) bool { return errors.Is(err, lake.ErrNotFound) },
		Sources: LakeSources{Tables: conn.Catalog}, Config: Config{Keys: keys, Log: log, Audit: log.With("audit", true),
			Campaigns: campaign.LakeStore{Tables: conn.Catalog}, Groups: groups.LakeStore{Tables: conn.Catalog},
			Forecasts: forecast.LakeStore{Tables: conn.Catalog}, Scenarios: forecast.ScenarioStore{Tables: conn.Catalog}}}
	if err := shardLayout(&cfg, getenv, lambda.NewFromConfig(conn.AWS)); err != nil {
		return nil, err
	}
	if cfg.Every, err = checkEvery(getenv); err != nil {
		return nil, err
	}
	return NewLive(cfg)
}

// EnvCheckEvery is how often a warm instance reads serving/latest.json
// for a newer run, a Go duration (the template's ServingCheckEvery;
// unset: LiveConfig's default, one minute).
const EnvCheckEvery = "TELCOLAKE_SERVING_CHECK_EVERY"

// checkEvery is the interval EnvCheckEvery names (0, the default, when
// unset), or an error naming the variable.
func checkEvery(getenv func(string) string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(EnvCheckEvery))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 1m or 10s", EnvCheckEvery, v)
	}
	return d, nil
}

// EnvShardFunction names the api shard functions a sharded front
// invokes: the name of shard k's with {shard} for k (the template's
// FunctionName of the shard functions).
const EnvShardFunction = "TELCOLAKE_SERVING_SHARD_FUNCTION"

// LambdaInvoke is the part of the Lambda API's client a front uses.
type LambdaInvoke interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, opts ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// shardLayout sets cfg's place in the sharded layout from the environment
// (serving.EnvShards, serving.EnvShard, EnvShardFunction): one instance
// serving everything, shard k of n, or a front invoking the n shard
// functions through c.
func shardLayout(cfg *LiveConfig, getenv func(string) string, c LambdaInvoke) error {
	n, err := serving.ShardsFromEnv(getenv)
	if err != nil || n == 1 {
		return err
	}
	if v := getenv(serving.EnvShard); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 || k >= n {
			return fmt.Errorf("%s=%q: want a shard number below %d (%s)", serving.EnvShard, v, n, serving.EnvShards)
		}
		cfg.Shard, cfg.Shards = k, n
		return nil
	}
	pattern := getenv(EnvShardFunction)
	if !strings.Contains(pattern, "{shard}") {
		return fmt.Errorf("%s=%q: a sharded front needs its shards' function name with {shard} for the number", EnvShardFunction, pattern)
	}
	for k := range n {
		cfg.Front = append(cfg.Front, InvokeShard(LambdaInvoker(c, strings.ReplaceAll(pattern, "{shard}", strconv.Itoa(k)))))
	}
	return nil
}

// LambdaInvoker invokes function name through c, synchronously: a
// function error (the function failed, not answered) is an error.
func LambdaInvoker(c LambdaInvoke, name string) Invoker {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload})
		if err != nil {
			return nil, fmt.Errorf("invoke %s: %w", name, err)
		}
		if out.FunctionError != nil {
			return nil, fmt.Errorf("invoke %s: function error %s: %.300s", name, *out.FunctionError, out.Payload)
		}
		return out.Payload, nil
	}
}
