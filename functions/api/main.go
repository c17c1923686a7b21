// Command api is the Lambda function behind the HTTP API (API Gateway v2 /
// function URL events): it loads the newest serving snapshot at cold start
// and answers from memory (package api).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/serving"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := lake.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	ctx := context.Background()
	awsCfg, err := lake.LoadAWSConfig(ctx, cfg)
	if err != nil {
		return err
	}
	ctx = lake.WithAWS(ctx, &awsCfg)
	keys, err := api.LoadKeys(ctx, os.Getenv, nil)
	if err != nil {
		return err
	}
	// Read-only: the api never creates tables.
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		return err
	}
	conn := &lake.Conn{Cfg: cfg, AWS: awsCfg, S3: lake.NewS3Client(awsCfg, cfg), Catalog: cat}
	store, err := conn.Blobs("serving")
	if err != nil {
		return err
	}
	log := lambdacontext.NewLogger()
	h := &handler{store: store, src: api.LakeSources{Tables: cat}, cfg: api.Config{Keys: keys, Log: log, Audit: log.With("audit", true)}, log: log}
	lambda.StartWithOptions(h.handle, lambda.WithContext(ctx))
	return nil
}

// handler holds the server built from the newest snapshot. It loads the
// snapshot at the first request (a cold start before any scoring run still
// answers /healthz) and looks for a newer one at most once a minute.
type handler struct {
	store serving.Store
	src   api.Sources
	cfg   api.Config
	log   *slog.Logger

	mu      sync.Mutex
	srv     *api.Server
	run     string
	checked time.Time
}

func (h *handler) handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	srv, err := h.server(ctx)
	if err != nil {
		status, title := 500, "snapshot unavailable"
		if errors.Is(err, serving.ErrNoSnapshot) {
			status, title = 503, "no scores yet: the score function has not run"
		}
		h.log.ErrorContext(ctx, "serving snapshot", "error", err)
		return events.APIGatewayV2HTTPResponse{StatusCode: status,
			Headers: map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"},
			Body:    fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d}`, title, status)}, nil
	}
	return srv.Handle(ctx, ev)
}

func (h *handler) server(ctx context.Context) (*api.Server, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil && time.Since(h.checked) < time.Minute {
		return h.srv, nil
	}
	h.checked = time.Now()
	notFound := func(err error) bool { return errors.Is(err, lake.ErrNotFound) }
	if h.srv != nil {
		if p, err := serving.Latest(ctx, h.store, notFound); err == nil && p.Run == h.run {
			return h.srv, nil
		}
	}
	meta, customers, err := serving.Read(ctx, h.store, notFound)
	if err != nil {
		if h.srv != nil {
			h.log.WarnContext(ctx, "keeping the loaded snapshot", "error", err)
			return h.srv, nil
		}
		return nil, err
	}
	if h.srv != nil && meta.Run == h.run {
		return h.srv, nil
	}
	srv, err := api.New(meta, customers, h.src, h.cfg)
	if err != nil {
		return nil, err
	}
	h.log.InfoContext(ctx, "snapshot loaded", "run", meta.Run, "customers", len(customers), "seconds", time.Since(h.checked).Seconds())
	h.srv, h.run = srv, meta.Run
	return srv, nil
}
