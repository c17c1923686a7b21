package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/churn/liblinear"
	"github.com/telcolake/telcolake/models/features"
	"github.com/telcolake/telcolake/models/registry"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/serving"
	"github.com/telcolake/telcolake/models/training"
)

// stepMode is the hidden first argument of one invocation: the child
// process reads the event on stdin, opens the lake from the environment as
// the function's main does (lake.OpenEnv), calls the handler the
// function's main hands to lambda.Start, and prints the answer as JSON.
const stepMode = "-step"

// ingestEvent is one ingest invocation: a batch of files, as the ingest
// queue hands them to the function (lake.Ingester.IngestBatch); the
// landing directory plays the landing bucket.
type ingestEvent struct {
	Landing string   `json:"landing"`
	Keys    []string `json:"keys"`
}

type ingestAnswer struct {
	Files, Failed int
	Rows          int64
}

// apiEvent is the api step: requests against the newest snapshot, the
// first of which loads it (the cold start).
type apiEvent struct {
	Lookups, Filters, Cubes int
	Seed                    uint64
}

// apiAnswer is what the api step measured, milliseconds.
type apiAnswer struct {
	Customers                     int
	ColdMS                        float64 // the first request: key check, snapshot load, answer
	LookupP50, LookupP99          float64
	FilterP50, FilterP99          float64
	CubeP50, CubeP99              float64
	Lookups, Filters, Cubes, Errs int
}

const apiSecret = "scale-admin-secret-0123456789"

func runStep(ctx context.Context, fn string, stdin io.Reader, stdout io.Writer) error {
	ev, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	var task struct {
		Action string `json:"action"`
		Bucket int    `json:"bucket"`
	}
	_ = json.Unmarshal(ev, &task)
	defer watchHeap(ctx, fmt.Sprintf("%s-%s-%d", fn, task.Action, task.Bucket))()
	conn, ctx, err := lake.OpenEnv(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var out any
	switch fn {
	case "ingest":
		out, err = stepIngest(ctx, conn, log, ev)
	case "features":
		var t features.Task
		if err := json.Unmarshal(ev, &t); err != nil {
			return fmt.Errorf("features event: %w", err)
		}
		out, err = (&features.Builder{Tables: conn.Catalog, Log: log}).Handle(ctx, t)
	case "train":
		var req struct {
			FeaturesBuilt bool   `json:"features_built"`
			Truth         string `json:"truth"`
		}
		_ = json.Unmarshal(ev, &req)
		models, err := conn.Blobs("models")
		if err != nil {
			return err
		}
		r := &training.Runner{Tables: conn.Catalog, Registry: &registry.Registry{Store: models}, Log: log, Logistic: liblinear.Fit}
		out, err = r.Run(ctx, training.Options{FeaturesBuilt: req.FeaturesBuilt, Truth: req.Truth, Seed: 1})
		if err != nil {
			return err
		}
	case "score":
		models, err := conn.Blobs("models")
		if err != nil {
			return err
		}
		snaps, err := conn.Blobs("serving")
		if err != nil {
			return err
		}
		costs := serving.DefaultCosts
		t := scoring.Task{Costs: &costs}
		_ = json.Unmarshal(ev, &t)
		// As functions/score wires it: the serving layout from the environment.
		shards, err := serving.ShardsFromEnv(os.Getenv)
		if err != nil {
			return err
		}
		r := &scoring.Runner{Tables: conn.Catalog, Models: &registry.Registry{Store: models}, Serving: snaps, Log: log, Shards: shards}
		out, err = r.Handle(ctx, t)
		if err != nil {
			return err
		}
	case "api":
		out, err = stepAPI(ctx, conn, ev)
	default:
		return fmt.Errorf("no step %q", fn)
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(out)
	if err != nil {
		// The function's lambda.Start would fail the same way; the work is
		// done (committed), so the run goes on and the report says so.
		fmt.Fprintln(os.Stderr, "answer not JSON:", err)
		os.Exit(exitNotJSON)
	}
	_, err = stdout.Write(b)
	return err
}

// exitNotJSON is the step's exit code when its work is done but its
// answer cannot be encoded as JSON (as lambda.Start would encode it).
const exitNotJSON = 3

func stepIngest(ctx context.Context, conn *lake.Conn, log *slog.Logger, raw []byte) (*ingestAnswer, error) {
	var ev ingestEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("ingest event: %w", err)
	}
	in := lake.NewIngester(conn.Cfg, conn.Catalog, lake.DirStore{Root: filepath.Dir(ev.Landing)}, log)
	var objs []lake.Object
	for _, k := range ev.Keys {
		fi, err := os.Stat(filepath.Join(ev.Landing, filepath.FromSlash(k)))
		if err != nil {
			return nil, err
		}
		objs = append(objs, lake.Object{Bucket: filepath.Base(ev.Landing), Key: k, ETag: lake.LocalETag(fi), Size: fi.Size()})
	}
	a := &ingestAnswer{}
	for _, o := range in.IngestBatch(ctx, objs) {
		a.Files++
		if o.Err != nil || (o.Status != "committed" && o.Status != "duplicate") {
			a.Failed++
			continue
		}
		a.Rows += o.RowsOK
	}
	return a, nil
}

// stepAPI serves the requests through api.Live, the api function's
// handler (here without the lambdahttp event adapter): keys checked, then
// the newest snapshot loaded by the first request.
func stepAPI(ctx context.Context, conn *lake.Conn, raw []byte) (*apiAnswer, error) {
	var ev apiEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("api event: %w", err)
	}
	store, err := conn.Blobs("serving")
	if err != nil {
		return nil, err
	}
	live, err := api.NewLive(api.LiveConfig{Store: store, NotFound: func(err error) bool { return errors.Is(err, lake.ErrNotFound) },
		Config: api.Config{Keys: []api.Key{{Name: "scale", Role: api.RoleAdmin, Hash: api.HashKey(apiSecret)}}}})
	if err != nil {
		return nil, err
	}
	a := &apiAnswer{}
	get := func(target string) (int, []byte, float64) {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		req.Header.Set("X-API-Key", apiSecret)
		rec := httptest.NewRecorder()
		t0 := time.Now()
		live.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes(), float64(time.Since(t0).Microseconds()) / 1000
	}
	code, body, ms := get("/v1/customers?limit=500&sort=-churn_probability")
	if code != http.StatusOK {
		return nil, fmt.Errorf("api: first request: status %d: %.300s", code, body)
	}
	a.ColdMS = ms
	var page struct {
		Count int `json:"count"`
		Items []struct {
			ID string `json:"subscriber_id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Items) == 0 {
		return nil, fmt.Errorf("api: first page %.300s: %v", body, err)
	}
	a.Customers = page.Count
	rng := rand.New(rand.NewPCG(ev.Seed, 1))
	var lookups, filters, cubes []float64
	for range ev.Lookups {
		id := page.Items[rng.IntN(len(page.Items))].ID
		code, _, ms := get("/v1/customers/" + id)
		if code != http.StatusOK {
			a.Errs++
		}
		lookups = append(lookups, ms)
	}
	filterQs := []string{"region=north&churn_min=0.2", "segment=2,3&value_min=30&sort=-value_at_risk",
		"churn_min=0.5", "sort=-clv", "arrears_min=1&months_in_arrears_min=2", "lifecycle=loyal&tenure_min=24"}
	for i := range ev.Filters {
		code, _, ms := get("/v1/customers?limit=50&" + filterQs[i%len(filterQs)])
		if code != http.StatusOK {
			a.Errs++
		}
		filters = append(filters, ms)
	}
	cubeQs := []string{"dims=region", "dims=region,plan", "dims=region,plan,segment"}
	for i := range ev.Cubes {
		code, _, ms := get("/v1/cube?measures=count,churn_rate,monthly_value_sum,value_at_risk_sum&" + cubeQs[i%len(cubeQs)])
		if code != http.StatusOK {
			a.Errs++
		}
		cubes = append(cubes, ms)
	}
	a.Lookups, a.Filters, a.Cubes = len(lookups), len(filters), len(cubes)
	a.LookupP50, a.LookupP99 = pct(lookups, 50), pct(lookups, 99)
	a.FilterP50, a.FilterP99 = pct(filters, 50), pct(filters, 99)
	a.CubeP50, a.CubeP99 = pct(cubes, 50), pct(cubes, 99)
	return a, nil
}

// pct is the p-th percentile by nearest rank (0 for none).
func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	k := (p*len(s)+99)/100 - 1
	return s[min(len(s)-1, max(0, k))]
}
