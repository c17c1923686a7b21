package lambdamain

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/lake"
)

// TestBuild: the wiring gets the open lake (its stores beside the
// warehouse, its AWS configuration in ctx) and the logger; an error in
// opening or wiring comes back before any handler starts.
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	cfg := lake.Config{Warehouse: "file://" + dir + "/warehouse", Catalog: "sqlite://" + filepath.Join(dir, "catalog.db"),
		LandingBucket: "landing", PseudonymKey: []byte("0123456789abcdef"), Region: "us-east-1"}
	open := func(ctx context.Context) (*lake.Conn, context.Context, error) { return lake.Connect(ctx, cfg) }
	log := slog.New(slog.DiscardHandler)
	errWire := errors.New("wire failed")
	tests := []struct {
		name    string
		open    func(context.Context) (*lake.Conn, context.Context, error)
		wireErr error
		wantErr string
	}{
		{"ok", open, nil, ""},
		{"open fails", func(ctx context.Context) (*lake.Conn, context.Context, error) {
			return nil, ctx, &lake.ConfigError{Var: lake.EnvWarehouse, Reason: "is not set"}
		}, nil, "TELCOLAKE_WAREHOUSE is not set"},
		{"wire fails", open, errWire, "wire failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *lake.Conn
			h, _, err := build(tc.open, func(ctx context.Context, conn *lake.Conn, l *slog.Logger) (any, error) {
				got = conn
				if l != log {
					t.Error("the wiring got another logger")
				}
				return "handler", tc.wireErr
			}, log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || h != nil {
					t.Fatalf("build = %v, %v; want no handler and an error with %q", h, err, tc.wantErr)
				}
				return
			}
			if err != nil || h != "handler" {
				t.Fatalf("build = %v, %v; want the wired handler", h, err)
			}
			if u := got.Models().URI("churn/promoted.json"); u != "file://"+dir+"/models/churn/promoted.json" {
				t.Errorf("model store at %s, want beside the warehouse", u)
			}
			if u := got.Serving().URI("latest.json"); u != "file://"+dir+"/serving/latest.json" {
				t.Errorf("serving store at %s, want beside the warehouse", u)
			}
			got.Close()
		})
	}
}
