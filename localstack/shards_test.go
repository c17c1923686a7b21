package localstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/models/serving"
)

// s3Store is the lake bucket's serving/ prefix as a serving.Store.
type s3Store struct {
	c      *s3.Client
	bucket string
}

func (st s3Store) Put(ctx context.Context, key string, body []byte) error {
	_, err := st.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(st.bucket), Key: aws.String("serving/" + key), Body: bytes.NewReader(body)})
	return err
}

func (st s3Store) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := st.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.bucket), Key: aws.String("serving/" + key)})
	if err != nil {
		var nk *s3types.NoSuchKey
		if errors.As(err, &nk) {
			return nil, serving.ErrMemNotFound
		}
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// shardCustomers are n customers of the serving contract, sorted by id.
func shardCustomers(n int) (*serving.Meta, []serving.Customer) {
	rng := rand.New(rand.NewPCG(17, 4))
	cs := make([]serving.Customer, n)
	var ranked []string
	for i := range cs {
		c := &cs[i]
		c.SubscriberID = fmt.Sprintf("S%06d", i*3+1)
		c.Name, c.MSISDN = fmt.Sprintf("Person %d", i), fmt.Sprintf("4917%08d", i)
		c.Region = []string{"North", "South", "East"}[rng.IntN(3)]
		c.Plan = fmt.Sprintf("PLAN%d", rng.IntN(5))
		c.Status = serving.Statuses[rng.IntN(len(serving.Statuses))]
		c.Lifecycle = serving.Lifecycles[rng.IntN(len(serving.Lifecycles))]
		c.AgeBand = serving.AgeBands[rng.IntN(len(serving.AgeBands))]
		c.ValueTier = serving.Tiers[rng.IntN(len(serving.Tiers))]
		c.Probability = float64(rng.IntN(1000)) / 1000
		c.Reasons = []string{"voice use falling"}
		c.SegmentID, c.SegmentName = int32(rng.IntN(3)), "segment"
		c.MonthlyValue, c.CLV = serving.FromCents(int64(rng.IntN(9000))), serving.FromCents(int64(rng.IntN(900000)))
		c.ValueAtRisk = serving.FromCents(int64(c.Probability * float64(rng.IntN(900000))))
		c.TenureMonths = int32(rng.IntN(120))
		c.ActivationDate, c.StatusDate = "2024-01-15", "2026-11-01"
		c.History = []serving.Month{{Month: "2026-10", VoiceMinutes: float64(rng.IntN(500)), AmountDue: 20, AmountPaid: 20}}
		if i%7 == 0 {
			ranked = append(ranked, c.SubscriberID)
		}
	}
	rng.Shuffle(len(ranked), func(i, j int) { ranked[i], ranked[j] = ranked[j], ranked[i] })
	meta := &serving.Meta{Run: "run-shards", FeatureMonth: "2026-10", Customers: n,
		Segments: []serving.Segment{{ID: 0, Name: "segment"}, {ID: 1, Name: "segment"}, {ID: 2, Name: "segment"}},
		Lists:    []serving.List{{Name: "churn-risk", Title: "Churn risk", IDs: ranked}}}
	return meta, cs
}

// TestStackShardedServing runs the sharded layout of the template in the
// local stack: ServingShards 0,1,2 makes three api shard functions (the
// api binary, Fn::ForEach in the template), a run written in three shards
// to the lake bucket, and the api function answering through the HTTP
// gateway by invoking them. Every answer is byte for byte the one an
// unsharded api over the same run gives.
func TestStackShardedServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the api function")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	params := map[string]string{"CatalogURI": "sqlite://" + filepath.Join(dir, "catalog.db"), "PseudonymKey": "stack-test-pseudonym-key",
		"ServingShards": "0,1,2"}
	secret := "shard-test-analyst-key"
	sum := sha256.Sum256([]byte(secret))
	params["ApiKeys"] = "bi:analyst:" + hex.EncodeToString(sum[:])
	tpl, err := LoadTemplateWith(filepath.Join("..", "infra", "template.yaml"), params)
	if err != nil {
		t.Fatal(err)
	}
	run := []string{}
	var fns []FunctionDef
	for _, f := range tpl.Functions {
		if f.Package == "api" {
			run = append(run, f.Name)
			fns = append(fns, f)
		}
	}
	if len(run) != 4 {
		t.Fatalf("ServingShards 0,1,2: the api package runs as %v, want the api function and 3 shards", run)
	}
	bins := testBinaries(ctx, t, fns)
	st, logs := startStackOf(ctx, t, dir, params, bins, run)

	meta, cs := shardCustomers(600)
	if _, err := serving.WriteSharded(ctx, s3Store{c: st.S3.Client(), bucket: st.Buckets["LakeBucket"]}, meta, cs, 3); err != nil {
		t.Fatal(err)
	}
	// The unsharded answer: one api over the whole run, the same keys.
	mem := serving.NewMemStore()
	if _, err := serving.Write(ctx, mem, meta, cs); err != nil {
		t.Fatal(err)
	}
	snap, err := serving.Load(ctx, mem, serving.IsNotFound, serving.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := api.ParseKeys(params["ApiKeys"])
	if err != nil {
		t.Fatal(err)
	}
	whole, err := api.New(snap, nil, api.Config{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}

	get := func(target string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.HTTPURL+target, nil)
		req.Header.Set("X-API-Key", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, target := range []string{
		"/v1/customers?status=active&sort=-clv&limit=7",
		"/v1/customers?region=North&limit=5",
		"/v1/customers/" + cs[10].SubscriberID,
		"/v1/customers/" + cs[301].SubscriberID,
		"/v1/cube?dims=region,plan&measures=count,churn_rate,clv_sum",
		"/v1/lists/churn-risk?limit=6",
		"/v1/customers?region=North&format=csv",
	} {
		code, body := get(target)
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("X-API-Key", secret)
		whole.ServeHTTP(w, r)
		if code != w.Code || body != w.Body.String() {
			t.Errorf("%s through the sharded stack:\n got %d %.300s\nwant %d %.300s", target, code, body, w.Code, w.Body.String())
		}
	}
	if code, body := get("/v1/customers?status=active&limit=1"); code != http.StatusOK {
		t.Fatalf("sharded stack: %d %s", code, body)
	}
	// Each shard function loaded its own shard, and the api function none.
	for k := range 3 {
		want := fmt.Sprintf(`"shard":%d,"shards":3`, k)
		if !bytes.Contains([]byte(logs.String()), []byte(want)) {
			t.Errorf("no shard function logged loading shard %d of 3 (%s)", k, want)
		}
	}
}

// startStackOf starts the local stack in dir with the template's
// parameters, the built binaries and only the functions named in run; it
// is closed when the test ends, and its log is printed if the test failed.
func startStackOf(ctx context.Context, t *testing.T, dir string, params, bins map[string]string, run []string) (*Stack, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	st, err := Start(ctx, Config{Dir: dir, Repo: "..", S3Addr: freeAddr(t), HTTPAddr: "127.0.0.1:0", LambdaAddr: "127.0.0.1:0",
		Params: params, Binaries: bins, Log: logs, Functions: run})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stack logs:\n%s", logs.String())
		}
		st.Close()
	})
	return st, logs
}
