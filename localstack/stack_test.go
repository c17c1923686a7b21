package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/telcolake/telcolake/lake"
)

func TestMain(m *testing.M) {
	RunS3ChildIfRequested() // the embedded S3 server runs in a re-executed test binary
	code := m.Run()
	removeTestBinaries()
	os.Exit(code)
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

// TestStackIngestsUploads runs the real ingest binary in the local stack:
// exports uploaded with the AWS SDK reach Iceberg through versitygw's
// notification, the Runtime API and lambda.Start.
func TestStackIngestsUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function binaries")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tpl, err := LoadTemplate(filepath.Join("..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bins := testBinaries(ctx, t, tpl.Functions)
	deliveries := make(chan Delivery, 16)
	logs := &syncBuffer{}
	catalog := "sqlite://" + filepath.Join(dir, "catalog.db")
	st, err := Start(ctx, Config{
		Dir: dir, Repo: "..", S3Addr: freeAddr(t), HTTPAddr: "127.0.0.1:0", LambdaAddr: "127.0.0.1:0",
		Params:   map[string]string{"CatalogURI": catalog, "PseudonymKey": "stack-test-pseudonym-key", "IngestBatchWindow": "1"},
		Binaries: bins, Log: logs, OnDelivery: func(d Delivery) { deliveries <- d }, RetryDelay: 10 * time.Millisecond,
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

	landing := st.Buckets["LandingBucket"]
	s3c := st.S3.Client()
	put := func(key, body string) {
		t.Helper()
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(landing), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	await := func(key string) lake.Result {
		t.Helper()
		select {
		case d := <-deliveries:
			if d.Key != key {
				t.Fatalf("delivery for %s, want %s", d.Key, key)
			}
			if d.Err != nil {
				t.Fatalf("ingest %s: %v", key, d.Err)
			}
			var res lake.EventResult
			if err := json.Unmarshal(d.Response, &res); err != nil || len(res.Files) != 1 {
				t.Fatalf("ingest %s answered %s (%v)", key, d.Response, err)
			}
			return res.Files[0]
		case <-ctx.Done():
			t.Fatalf("no delivery for %s", key)
		}
		return lake.Result{}
	}

	var csv bytes.Buffer
	csv.WriteString("call_id,subscriber_id,msisdn,other_party,other_network,start_time,duration_s,call_type,direction,roaming,international,cell_id,region,data_kb,charge\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&csv, "C%d,S%d,4917000000%02d,4930123456,onnet,2026-10-%02dT10:00:00Z,%d,voice,out,false,false,CELL1,North,0,0.10\n", i, i%50, i%50, 1+i%28, 1+i)
	}
	key := "exports/cdr/2026/10/28/cdr-20261028.csv"
	put(key, csv.String())
	if r := await(key); r.Status != lake.StatusCommitted || r.RowsOK != 500 {
		t.Fatalf("first upload: %+v", r)
	}
	put(key, csv.String()) // the same file again: same ETag
	if r := await(key); r.Status != lake.StatusDuplicate {
		t.Errorf("second upload of the same bytes: status %s, want duplicate", r.Status)
	}
	bad := "exports/cdr/2026/10/29/broken.csv"
	put(bad, "CALLID;START\nC1;2026-10-29\n")
	if r := await(bad); r.Status != lake.StatusRejected {
		t.Errorf("malformed file: status %s, want rejected", r.Status)
	}
	rep, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(landing), Key: aws.String(lake.ReportKey(bad))})
	if err != nil {
		t.Fatalf("report of the malformed file: %v", err)
	}
	var report lake.Report
	json.NewDecoder(rep.Body).Decode(&report)
	rep.Body.Close()
	if !strings.Contains(report.Message, "comma-separated") {
		t.Errorf("report message %q should say why", report.Message)
	}
	put("uploads/not-an-export.csv", "x\n") // no subscription: no delivery

	// The rows are in Iceberg, read independently of the function.
	t.Setenv("AWS_ACCESS_KEY_ID", LocalAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", LocalSecretKey)
	cfg, err := lake.FromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{
			lake.EnvWarehouse: "s3://" + st.Buckets["LakeBucket"] + "/warehouse", lake.EnvCatalog: catalog,
			lake.EnvLandingBucket: landing, lake.EnvPseudonymKey: "stack-test-pseudonym-key", lake.EnvRegion: Region,
			lake.EnvEndpointURL: st.S3.Endpoint(),
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := lake.OpenCatalog(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	at, err := lake.ReadTable(ctx, cat, lake.CDRTable, "call_id")
	if err != nil {
		t.Fatal(err)
	}
	defer at.Release()
	if at.NumRows() != 500 {
		t.Errorf("crm.cdr has %d rows, want 500", at.NumRows())
	}
	select {
	case d := <-deliveries:
		t.Errorf("unexpected delivery for %s", d.Key)
	case <-time.After(300 * time.Millisecond):
	}
	// The reconcile function, run as its schedule would, finds both exports
	// concluded in crm.ingest_log; nothing failed for good.
	out, err := st.Invoke(ctx, "reconcile", []byte(`{"min_age":"0s"}`))
	var rc struct {
		Listed, Checked, Concluded int
		Redriven                   []json.RawMessage
	}
	if err != nil || json.Unmarshal(out, &rc) != nil {
		t.Fatalf("reconcile: %s, %v", out, err)
	}
	if rc.Listed != 2 || rc.Checked != 2 || rc.Concluded != 2 || len(rc.Redriven) != 0 {
		t.Errorf("reconcile answered %s; want 2 listed, checked and concluded, nothing re-driven", out)
	}
	if dead, err := st.DeadLetters(); err != nil || len(dead) != 0 {
		t.Errorf("dead letters %v (%v), want none", dead, err)
	}

	// A message ingest cannot act on (a notification from another bucket)
	// beside a good upload: the upload commits, the message is reported in
	// batchItemFailures, received again until the queue's maxReceiveCount,
	// then moved to the dead-letter queue.
	sq := sqs.New(sqs.Options{Region: Region, BaseEndpoint: aws.String(st.SQSURL), Credentials: aws.AnonymousCredentials{}})
	qurl, err := sq.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("telcolake-ingest-dev")})
	if err != nil {
		t.Fatal(err)
	}
	stray := "exports/cdr/2026/10/30/elsewhere.csv"
	body := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"someone-elses-bucket"},"object":{"key":"` + stray + `","eTag":"abc","size":3}}}]}`
	if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: qurl.QueueUrl, MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	good := "exports/cdr/2026/10/30/cdr-20261030.csv"
	put(good, strings.ReplaceAll(csv.String(), ",2026-10-", ",2026-09-"))
	got := map[string]Delivery{}
	for len(got) < 2 {
		select {
		case d := <-deliveries:
			got[d.Key] = d
		case <-ctx.Done():
			t.Fatalf("deliveries so far %v", got)
		}
	}
	var res lake.EventResult
	if d := got[good]; d.Err != nil || json.Unmarshal(d.Response, &res) != nil || len(res.Files) != 1 || res.Files[0].Status != lake.StatusCommitted {
		t.Errorf("good upload beside a bad message: %v, %s", d.Err, d.Response)
	}
	if d := got[stray]; d.Err == nil || !strings.Contains(d.Err.Error(), "dead-letter queue") || d.Attempts != 5 {
		t.Errorf("message from another bucket: err %v after %d receives, want the dead-letter queue after 5", d.Err, d.Attempts)
	}
	dlq, err := sq.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("telcolake-ingest-dlq-dev")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil || attrs.Attributes["ApproximateNumberOfMessages"] != "1" {
		t.Errorf("dead-letter queue holds %v messages (%v), want 1", attrs, err)
	}
	if dead, err := st.DeadLetters(); err != nil || len(dead) != 1 {
		t.Errorf("dead letters %v (%v), want the one message", dead, err)
	}
	// The gateway answers even with no HTTP routes yet.
	resp, err := httpGet(st.HTTPURL + "/customers/S1")
	if err != nil || !strings.Contains(resp, "Not Found") {
		t.Errorf("gateway: %q, %v", resp, err)
	}
	// The monthly state machine through the real features binary: plan, the
	// 8 buckets on a pool of processes, commit; then train, which finds no
	// bills here, so the execution fails in its last state.
	_, err = st.StartExecution(ctx, "MonthlyRun", []byte(`{"truth":""}`))
	var se *StateError
	if !errors.As(err, &se) || se.State != "Train" || !strings.Contains(se.Cause, "not enough history") {
		t.Errorf("MonthlyRun = %v; want it to reach Train, which has not enough history", err)
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
