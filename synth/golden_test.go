package synth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/digests.golden")

// TestOutputDigests pins the bytes a seed gives: a speed-up of the
// generator must not change what it writes (go test -update rewrites the
// digests when a change of the data is meant).
func TestOutputDigests(t *testing.T) {
	var got strings.Builder
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"day gzip mess truth", with(small, func(c *Config) { c.Gzip, c.Truth = true, true })},
		{"day plain", with(small, func(c *Config) { c.Mess = false })},
		{"month gzip", with(small, func(c *Config) { c.Gzip, c.CDRFileSpan = true, "month" })},
	} {
		s := newMemSink()
		if _, err := Generate(context.Background(), tc.cfg, s); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h := sha256.New()
		for _, k := range slices.Sorted(maps.Keys(s.objects)) {
			fmt.Fprintf(h, "%s %d\n", k, len(s.objects[k]))
			h.Write(s.objects[k])
		}
		fmt.Fprintf(&got, "%s: %d objects, sha256 %s\n", tc.name, len(s.objects), hex.EncodeToString(h.Sum(nil)))
	}
	path := filepath.Join("testdata", "digests.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("output digests changed:\n%s\nwant (%s):\n%s", got.String(), path, want)
	}
}
