package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCleanStackDir: everything but bin/ goes (a trash directory an
// interrupted run left too), bin/ stays as it was, and the stack
// directory is empty of the old entries as soon as cleanStackDir returns.
func TestCleanStackDir(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"bin/ingest/bootstrap", "s3/data/lake/x.parquet", "generated/exports/a.csv", "catalog.db", ".trash-123/s3/old"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names := func() []string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	removed, err := cleanStackDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// At once: bin/ and the new trash directory only.
	for _, n := range names() {
		if n != "bin" && (!strings.HasPrefix(n, ".trash-") || n == ".trash-123") {
			t.Errorf("old entry %s still in the stack directory", n)
		}
	}
	if err := removed(); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, []string{"bin"}) {
		t.Errorf("after the removal the stack directory holds %v, want [bin]", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "bin", "ingest", "bootstrap")); err != nil || string(b) != "bin/ingest/bootstrap" {
		t.Errorf("bin/ingest/bootstrap = %q, %v; want it kept", b, err)
	}
	// A directory that does not exist yet is nothing to clean.
	if removed, err := cleanStackDir(filepath.Join(dir, "none")); err != nil || removed() != nil {
		t.Errorf("cleanStackDir(missing) = %v", err)
	}
}
