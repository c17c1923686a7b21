package infra

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/localstack"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/training"
	"github.com/telcolake/telcolake/synth"
)

func TestMain(m *testing.M) {
	localstack.RunS3ChildIfRequested() // the embedded S3 server runs in a re-executed test binary
	os.Exit(m.Run())
}

// qemuAarch64 finds qemu's user-mode emulator for arm64.
func qemuAarch64() string {
	for _, name := range []string{"qemu-aarch64-static", "qemu-aarch64"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestPackagedFunctionsRun runs the Lambda packages themselves — each
// function's bootstrap taken from its zip, linux/arm64, under qemu-user —
// in the local stack, through a short version of the demo: a few months
// of exports ingested, train, score, a look-up and a filtered count
// through the HTTP gateway. With TELCOLAKE_DIST set (make test sets it
// to dist/, built by make package) the zips there are the ones run;
// otherwise Build makes them in a temporary directory.
func TestPackagedFunctionsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and emulates the Lambda packages")
	}
	qemu := qemuAarch64()
	if qemu == "" {
		t.Skip("qemu-user-static is not installed (Debian: apt-get install qemu-user-static): the arm64 packages were not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	names, err := Functions("..")
	if err != nil {
		t.Fatal(err)
	}
	dist := os.Getenv("TELCOLAKE_DIST")
	if dist == "" {
		dist = filepath.Join(dir, "dist")
		if _, err := Build(ctx, BuildOptions{Repo: "..", Out: dist}); err != nil {
			t.Fatal(err)
		}
	}
	bins := map[string]string{}
	for _, name := range names {
		bin := filepath.Join(dir, "bin", name, Handler)
		if err := Unzip(filepath.Join(dist, name+".zip"), bin); err != nil {
			t.Fatalf("%v (run make package first, or unset TELCOLAKE_DIST)", err)
		}
		if err := CheckBinary(bin, RuntimeGlibc); err != nil {
			t.Fatal(err)
		}
		bins[name] = bin
	}

	keys := map[string]string{"agent": "pkg-test-agent-key", "analyst": "pkg-test-analyst-key"}
	var hashes []string
	for role, k := range keys {
		sum := sha256.Sum256([]byte(k))
		hashes = append(hashes, "pkg-"+role+":"+role+":"+hex.EncodeToString(sum[:]))
	}
	deliveries := make(chan localstack.Delivery, 256)
	logs := &lockedBuffer{}
	st, err := localstack.Start(ctx, localstack.Config{
		Dir: dir, Repo: "..", S3Addr: freeAddr(t), HTTPAddr: "127.0.0.1:0", LambdaAddr: "127.0.0.1:0",
		Params: map[string]string{"CatalogURI": "sqlite://" + filepath.Join(dir, "catalog.db"),
			"PseudonymKey": "packaged-test-pseudonym-key", "ApiKeys": strings.Join(hashes, ","), "ApiKeysParameter": ""},
		Binaries: bins, Emulator: []string{qemu}, Log: logs,
		OnDelivery: func(d localstack.Delivery) { deliveries <- d },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer func() {
		if t.Failed() {
			t.Logf("stack logs:\n%s", logs.String())
		}
	}()

	// Six months ending last month (ingest refuses future timestamps), one
	// CDR file a month.
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month()-6, 1, 0, 0, 0, 0, time.UTC)
	gen := filepath.Join(dir, "generated")
	man, err := synth.Generate(ctx, synth.Config{Subscribers: 600, Months: 6, Start: start, Seed: 3, CDRFileSpan: "month"}, synth.DirSink(gen))
	if err != nil {
		t.Fatal(err)
	}
	landing := st.Buckets["LandingBucket"]
	s3c := st.S3.Client()
	for _, key := range man.Deliveries {
		f, err := os.Open(filepath.Join(gen, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(landing), Key: aws.String(key), Body: f})
		f.Close()
		if err != nil {
			t.Fatalf("upload %s: %v", key, err)
		}
	}
	for range man.Deliveries {
		select {
		case d := <-deliveries:
			var res lake.EventResult
			if d.Err != nil || json.Unmarshal(d.Response, &res) != nil || len(res.Files) != 1 {
				t.Fatalf("ingest %s: %v (answer %.300s)", d.Key, d.Err, d.Response)
			}
			if r := res.Files[0]; r.Status != lake.StatusCommitted || r.RowsOK == 0 {
				t.Errorf("ingest %s: status %s, %d rows; want committed rows", d.Key, r.Status, r.RowsOK)
			}
		case <-ctx.Done():
			t.Fatalf("not every upload was ingested: %v", ctx.Err())
		}
	}

	out, err := st.Invoke(ctx, "train", []byte("{}"))
	if err != nil {
		t.Fatalf("train: %v", err)
	}
	var tr training.Result
	if err := json.Unmarshal(out, &tr); err != nil || tr.Version == "" || !tr.Churn.Promoted || tr.TrainRows == 0 {
		t.Fatalf("train answered %.500s (%v); want a promoted first model", out, err)
	}
	out, err = st.Invoke(ctx, "score", []byte("{}"))
	if err != nil {
		t.Fatalf("score: %v", err)
	}
	var sc scoring.Result
	if err := json.Unmarshal(out, &sc); err != nil || sc.Scored == 0 || sc.ChurnModel != tr.Version {
		t.Fatalf("score answered %.500s (%v); want customers scored with model %s", out, err, tr.Version)
	}

	get := func(path, role string, v any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.HTTPURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-Key", keys[role])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s as %s: %s: %.300s", path, role, resp.Status, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %.300s", path, err, body)
		}
	}
	type page struct {
		Count int `json:"count"`
		Items []struct {
			SubscriberID string `json:"subscriber_id"`
		} `json:"items"`
	}
	var all, risky page
	get("/v1/customers?status=active&limit=5", "analyst", &all)
	get("/v1/customers?status=active&churn_min=0.2&limit=5", "analyst", &risky)
	if all.Count == 0 || all.Count > sc.Scored || risky.Count > all.Count || len(all.Items) == 0 {
		t.Errorf("filtered counts: %d active (of %d scored), %d with churn ≥ 20%%; want 0 < active ≤ scored and risky ≤ active",
			all.Count, sc.Scored, risky.Count)
	}
	id := all.Items[0].SubscriberID
	var one map[string]any
	get("/v1/customers/"+id, "agent", &one)
	if c, ok := one["customer"].(map[string]any); !ok || c["subscriber_id"] != id {
		t.Errorf("look-up of %s answered %.300v", id, one)
	}
	t.Logf("packaged functions under %s: %d files ingested, train %s (AUC %.3f), %d scored, %d active customers",
		filepath.Base(qemu), len(man.Deliveries), tr.Version, tr.Churn.AUC, sc.Scored, all.Count)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects the stack's logs from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
