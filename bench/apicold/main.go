// Command apicold is the api part's cold start: a fresh process, as a new
// api function instance would be, that loads the newest serving snapshot
// from a store (local files or S3 on the embedded local stack), builds the
// server, then times first look-ups of random ids (each customer's detail
// read by byte range from the store) and the same look-ups again (from the
// detail cache). It prints one JSON object. The bench program builds and
// runs it (a binary without DuckDB, so its RSS is the API's); it is not
// meant to be used by hand.
//
// Usage:
//
//	apicold WAREHOUSE ENDPOINT CUSTOMERS LOOKUPS
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/lambdahttp"
	"github.com/telcolake/telcolake/localstack"
	"github.com/telcolake/telcolake/models/serving"
)

// latency and result are decoded by the bench program (api_cold.go).
type latency struct {
	N        int
	P50, P99 time.Duration
}

type result struct {
	Load    time.Duration `json:"load"` // serving.Load: pointer, meta, columns.bin, validation
	New     time.Duration `json:"new"`  // api.New
	HeapMiB float64       `json:"heap_mib"`
	RSSMiB  float64       `json:"rss_mib"`  // after loading
	PeakMiB float64       `json:"peak_mib"` // VmHWM at the end (wait4's figure would include the parent's, kept across exec)
	First   latency       `json:"first"`    // first look-up of each id
	Again   latency       `json:"again"`    // the same ids again
	Reads   int64         `json:"reads"`    // detail ranges read
	Load1   string        `json:"loadavg"`  // the machine's 1-minute load average at the start (it is shared)
	CPU     time.Duration `json:"cpu"`      // user+sys CPU time of Load and New (the wall time at load is mostly waiting)
}

// cpuTime is this process's user+sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const secret = "bench-cold-secret-0123456789"

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "apicold:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) != 4 {
		return errors.New("usage: apicold WAREHOUSE ENDPOINT CUSTOMERS LOOKUPS")
	}
	n, err1 := strconv.Atoi(args[2])
	lookups, err2 := strconv.Atoi(args[3])
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	var client *s3.Client
	if args[1] != "" {
		client = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(args[1]), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(localstack.LocalAccessKey, localstack.LocalSecretKey, "")})
	}
	st, err := lake.OpenBlobs(lake.Config{Warehouse: args[0]}, client, "serving")
	if err != nil {
		return err
	}
	var res result
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.Load1, _, _ = strings.Cut(string(b), " ")
	}
	cpu0 := cpuTime()
	t := time.Now()
	snap, err := serving.Load(ctx, st, func(err error) bool { return errors.Is(err, lake.ErrNotFound) }, serving.Options{})
	if err != nil {
		return err
	}
	res.Load = time.Since(t)
	t = time.Now()
	srv, err := api.New(snap, nil, api.Config{Keys: []api.Key{{Name: "bench", Role: api.RoleAdmin, Hash: api.HashKey(secret)}}})
	if err != nil {
		return err
	}
	res.New = time.Since(t)
	res.CPU = cpuTime() - cpu0
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapMiB, res.RSSMiB = float64(ms.HeapInuse)/(1<<20), statusMiB("VmRSS:")

	rng := rand.New(rand.NewPCG(7, 8))
	ids := make([]string, lookups)
	for i := range ids {
		ids[i] = fmt.Sprintf("S%08d", 1+rng.IntN(n)) // as bench/api_data.go numbers them
	}
	fn := lambdahttp.Handler(srv) // as the api function serves it
	for _, pass := range []*latency{&res.First, &res.Again} {
		ds := make([]time.Duration, 0, len(ids))
		for _, id := range ids {
			ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: "/v1/customers/" + id, Headers: map[string]string{"x-api-key": secret},
				RequestContext: events.APIGatewayV2HTTPRequestContext{Stage: "$default",
					HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: "/v1/customers/" + id}}}
			t := time.Now()
			resp, _ := fn(ctx, ev)
			ds = append(ds, time.Since(t))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /v1/customers/%s: %d", id, resp.StatusCode)
			}
		}
		*pass = summarize(ds)
	}
	res.Reads = snap.DetailReads()
	res.PeakMiB = statusMiB("VmHWM:")
	return json.NewEncoder(os.Stdout).Encode(res)
}

func summarize(ds []time.Duration) latency {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[max(0, min(int(math.Ceil(p*float64(len(s))))-1, len(s)-1))] }
	return latency{N: len(s), P50: q(0.5), P99: q(0.99)}
}

// statusMiB is a field of /proc/self/status (VmRSS:, VmHWM:) in MiB.
func statusMiB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kib, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kib / 1024
		}
	}
	return 0
}
