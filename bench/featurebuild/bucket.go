package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/telcolake/telcolake/bench/proc"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/models/features"
)

// bucketAnswer is what runBucket prints.
type bucketAnswer struct {
	*features.BucketResult
	// Digests are, per month ("2006-01"), a SHA-256 of the bucket's
	// feature rows in file order, every column but built_at (-digest): two
	// builds of the same lake agree row by row when their digests do.
	Digests map[string]string `json:"digests,omitempty"`
}

// runBucket builds one subscriber bucket of every month with bills, as the
// features function's bucket task does, and removes the files it wrote
// (nothing is committed), so that it can run again on the same lake: the
// diagnostic for one bucket's CPU and memory at scale.
func runBucket(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("bucket", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bucket := fs.Int("bucket", 0, "subscriber `bucket` to build")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this `file`")
	heapProfile := fs.String("heapprofile", "", "write a heap profile (pprof) to this `file` each time the live heap passes its highest so far by 32 MiB")
	digest := fs.Bool("digest", false, "print a digest of each month's rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := proc.CPUProfile(*cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer func() { err = errors.Join(err, stop()) }()
	}
	if *heapProfile != "" {
		stop := proc.WatchHeap(ctx, *heapProfile)
		defer stop()
	}
	conn, ctx, months, err := openWithMonths(ctx)
	if err != nil {
		return fmt.Errorf("bucket: %w", err)
	}
	defer conn.Close()
	b := &features.Builder{Tables: conn.Catalog, Now: func() time.Time { return time.Unix(0, 0) }}
	res, err := b.BuildBucket(ctx, months, *bucket)
	if err != nil {
		return err
	}
	ans := bucketAnswer{BucketResult: res}
	if *digest {
		ans.Digests = map[string]string{}
		for _, m := range res.Months {
			d, err := rowsDigest(ctx, conn.Catalog, m.Files)
			if err != nil {
				return err
			}
			ans.Digests[m.Month.Format("2006-01")] = d
		}
	}
	for _, m := range res.Months {
		err = errors.Join(err, lake.RemoveFiles(ctx, conn.Catalog, lake.FeaturesTable, m.Files),
			lake.RemoveFiles(ctx, conn.Catalog, lake.UsageCubeTable, m.CubeFiles))
	}
	if err != nil {
		return fmt.Errorf("bucket: remove the files written: %w", err)
	}
	return json.NewEncoder(stdout).Encode(ans)
}

// rowsDigest hashes the rows of feature files, every column but built_at,
// each value as Arrow prints it (NaN and null distinct).
func rowsDigest(ctx context.Context, tables lake.TableLoader, paths []string) (string, error) {
	h := sha256.New()
	err := lake.ReadFiles(ctx, tables, lake.FeaturesTable, paths, func(rec arrow.RecordBatch) error {
		for i := range int(rec.NumRows()) {
			for c, f := range rec.Schema().Fields() {
				if f.Name == "built_at" {
					continue
				}
				col := rec.Column(c)
				if col.IsNull(i) {
					io.WriteString(h, "\x00null")
				} else {
					io.WriteString(h, col.ValueStr(i))
				}
				h.Write([]byte{0x1f})
			}
			h.Write([]byte{'\n'})
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
