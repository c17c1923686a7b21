package main

// The api part's cold start runs in the apicold child (apicold/main.go);
// this file runs it and starts the embedded S3 it reads from.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/localstack"
)

// coldResult is what the apicold child prints.
type coldResult struct {
	Load       time.Duration   `json:"load"` // serving.Load: pointer, meta, columns.bin, validation
	New        time.Duration   `json:"new"`  // api.New
	HeapMiB    float64         `json:"heap_mib"`
	RSSMiB     float64         `json:"rss_mib"`  // after loading
	First      latency         `json:"first"`    // first look-up of each id
	Again      latency         `json:"again"`    // the same ids again
	Reads      int64           `json:"reads"`    // detail ranges read
	Load1      string          `json:"loadavg"`  // the machine's 1-minute load average at the start (it is shared)
	PeakRSSMiB float64         `json:"peak_mib"` // VmHWM at the end
	CPU        time.Duration   `json:"cpu"`      // user+sys CPU time of the cold start (Load and New)
	All        []time.Duration `json:"-"`        // every run's cold start (medianCold)
	AllCPU     []time.Duration `json:"-"`        // every run's CPU time of it
}

// storeFor opens the serving store under warehouse (S3 at endpoint for
// an s3:// one).
func storeFor(warehouse, endpoint string) (*lake.Blobs, error) {
	var client *s3.Client
	if endpoint != "" {
		client = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(localstack.LocalAccessKey, localstack.LocalSecretKey, "")})
	}
	return lake.OpenBlobs(lake.Config{Warehouse: warehouse}, client, "serving")
}

// measureCold runs the apicold child (binary bin) against warehouse.
func measureCold(ctx context.Context, bin, warehouse, endpoint string, customers, lookups int) (*coldResult, error) {
	cmd := exec.CommandContext(ctx, bin, warehouse, endpoint, strconv.Itoa(customers), strconv.Itoa(lookups))
	_, out, err := runChild(cmd)
	if err != nil {
		return nil, err
	}
	var res coldResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("apicold: %w: %s", err, tail(string(out), 300))
	}
	return &res, nil
}

// coldRuns is how many fresh processes measure each cold start; the
// report shows the one with the median cold start (the machine is shared).
const coldRuns = 3

// medianCold runs measureCold coldRuns times and returns the median run
// by cold start (Load + New), with every run's cold start in All.
func medianCold(ctx context.Context, bin, warehouse, endpoint string, customers, lookups int) (*coldResult, error) {
	var runs []*coldResult
	for range coldRuns {
		r, err := measureCold(ctx, bin, warehouse, endpoint, customers, lookups)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b *coldResult) int { return cmp.Compare(a.Load+a.New, b.Load+b.New) })
	med := runs[len(runs)/2]
	for _, r := range runs {
		med.All = append(med.All, r.Load+r.New)
		med.AllCPU = append(med.AllCPU, r.CPU)
	}
	return med, nil
}

// startBenchS3 starts the embedded S3 of the local stack on a free port
// with a lake bucket.
func startBenchS3(ctx context.Context, root string) (*localstack.S3Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	return localstack.StartS3(ctx, localstack.S3Config{Root: root, Addr: addr, Buckets: []string{"lake"}}, nil)
}
