package localstack

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/telcolake/telcolake/lake"
)

// TestIngestRequeuesToItsQueue: the ingest function, in the environment
// the template gives it, sends a deferred file's notification to the
// ingest queue (TELCOLAKE_INGEST_QUEUE_URL, reached through the local SQS
// endpoint), where the queue's event source mapping takes it again.
func TestIngestRequeuesToItsQueue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	params := map[string]string{"CatalogURI": "sqlite://" + filepath.Join(dir, "catalog.db"), "PseudonymKey": "stack-test-pseudonym-key"}
	tpl, err := LoadTemplateWith(filepath.Join("..", "infra", "template.yaml"), params)
	if err != nil {
		t.Fatal(err)
	}
	var ingest *FunctionDef
	for i, f := range tpl.Functions {
		if f.Package == "ingest" {
			ingest = &tpl.Functions[i]
		}
	}
	if ingest == nil || len(ingest.SQS) == 0 {
		t.Fatal("the template has no ingest function fed by a queue")
	}
	st, _ := startStackOf(ctx, t, dir, params, nil, []string{})
	env, err := st.functionEnv(*ingest)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{lake.EnvRegion: Region}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_SQS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, vars[k])
	}
	cfg, err := lake.FromEnv(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := st.SQS.queueURL(st.queueNames[ingest.SQS[0].Queue])
	if cfg.IngestQueueURL != want {
		t.Fatalf("TELCOLAKE_INGEST_QUEUE_URL = %q, want the ingest queue %q", cfg.IngestQueueURL, want)
	}
	conn, ctx, err := lake.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	in := conn.Ingester(slog.New(slog.DiscardHandler))
	if in.Requeue == nil {
		t.Fatal("the ingest function has no Requeuer")
	}
	const body = `{"Records":[],"telcolakeDeferrals":1}`
	if err := in.Requeue.Requeue(ctx, body); err != nil {
		t.Fatal(err)
	}
	c := sqs.New(sqs.Options{Region: Region, BaseEndpoint: aws.String(st.SQSURL), Credentials: aws.AnonymousCredentials{}})
	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(want), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != body {
		t.Fatalf("the ingest queue holds %+v, want the one notification sent", got.Messages)
	}
}
