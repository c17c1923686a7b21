package localstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/telcolake/telcolake/lake"
)

// TestMaintenanceLeavesS3Usable ingests a few hundred files in batches into
// a lake on the embedded S3, limited to few connections and requests, then
// runs maintenance as the queue bench does (its own catalog, no shared AWS
// configuration): the ledger repair reads and writes one ledger object per
// source of the expiring snapshots. It must finish, the S3 server must
// answer afterwards, and every file delivered again must be a duplicate.
func TestMaintenanceLeavesS3Usable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded S3")
	}
	const (
		files   = 600
		batch   = 100
		maxConn = 48
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := StartS3(ctx, S3Config{Root: filepath.Join(dir, "s3"), Addr: freeAddr(t), Buckets: []string{"lake"},
		MaxConnections: maxConn, MaxRequests: maxConn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Setenv("AWS_ACCESS_KEY_ID", LocalAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", LocalSecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	env := map[string]string{
		lake.EnvWarehouse: "s3://lake/warehouse", lake.EnvCatalog: "sqlite://" + filepath.Join(dir, "catalog.db"),
		lake.EnvLandingBucket: "landing", lake.EnvPseudonymKey: "maintain-test-pseudonym-key", lake.EnvRegion: Region,
		lake.EnvEndpointURL: srv.Endpoint(),
	}
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	conn, ictx, err := lake.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	root := filepath.Join(dir, "exports")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := lake.NewIngester(cfg, conn.Catalog, lake.DirStore{Root: root}, quiet)
	objs := make([]lake.Object, files)
	for i := range objs {
		key := fmt.Sprintf("exports/cdr/2026/10/07/m-%05d.csv", i)
		p := filepath.Join(root, "landing", filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		row := fmt.Sprintf("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n"+
			"M%05d,S%07d,4917%08d,4930%06d,offnet,2026-10-07T%02d:%02d:00Z,%d,voice,out,false,false,CELL001,North,0,0.10\n", i, i, i, i, i/60%24, i%60, 1+i%300)
		if err := os.WriteFile(p, []byte(row), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		objs[i] = lake.Object{Bucket: "landing", Key: key, ETag: lake.LocalETag(fi), Size: fi.Size()}
	}
	for lo := 0; lo < files; lo += batch {
		for _, out := range in.IngestBatch(ictx, objs[lo:lo+batch]) {
			if out.Err != nil || out.Status != lake.StatusCommitted {
				t.Fatalf("ingest %s: %s, %v", out.Source, out.Status, out.Err)
			}
		}
	}

	// Without crm.cdr's ledger objects (as after a crash between commit and
	// object), the repair must write one for each expiring source.
	lakeBucket := lake.S3Bucket{Client: srv.Client(), Name: "lake"}
	removed := 0
	err = lake.ListAll(ctx, lakeBucket, "warehouse/_ledger/cdr/", func(o lake.Listed) error {
		if strings.Contains(o.Key, "/batches/") {
			return nil
		}
		removed++
		return lakeBucket.Delete(ctx, o.Key)
	})
	if err != nil || removed < files {
		t.Fatalf("removed %d ledger objects (%v), want %d", removed, err, files)
	}

	// Maintenance as bench/queue_maintain.go runs it: a catalog of its own,
	// the plain context, every snapshot past the newest expiring.
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	m := lake.NewMaintainer(lake.MaintainConfig{SnapshotAge: 0, KeepSnapshots: 1, OrphanAge: time.Hour, TargetFileBytes: 128 << 20}, cat, quiet)
	m.Defs = []lake.TableDef{lake.CDRTable, lake.IngestLogTable}
	rep, err := m.Run(ctx)
	if err != nil {
		t.Fatalf("maintenance: %v", err)
	}
	if got := rep.Tables[0]; got.SnapshotsExpired < files/batch-1 || got.LedgerRepaired < files-batch {
		t.Errorf("crm.cdr: %d snapshots expired, %d ledger objects repaired; want at least %d and %d", got.SnapshotsExpired, got.LedgerRepaired, files/batch-1, files-batch)
	}

	// The server still answers a new client at once.
	if _, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), MaxKeys: aws.Int32(1)}); err != nil {
		t.Fatalf("S3 after maintenance: %v", err)
	}
	// The expired snapshots' files are still recognised through the ledger.
	for lo := 0; lo < files; lo += 2 * batch {
		for _, out := range in.IngestBatch(ictx, objs[lo:lo+batch]) {
			if out.Err != nil || out.Status != lake.StatusDuplicate {
				t.Fatalf("redelivery of %s after maintenance: %s, %v; want duplicate", out.Source, out.Status, out.Err)
			}
		}
	}
}
