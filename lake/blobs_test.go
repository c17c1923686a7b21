package lake_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/telcolake/telcolake/lake"
)

// TestBlobsReadAt: the same ranged reads from a file:// and an s3://
// store; a missing key is ErrNotFound.
func TestBlobsReadAt(t *testing.T) {
	tl := newTestLake(t, false)
	s3Blobs, err := lake.OpenBlobs(tl.cfg, tl.s3, "serving")
	if err != nil {
		t.Fatal(err)
	}
	fileCfg := tl.cfg
	fileCfg.Warehouse = "file://" + t.TempDir() + "/warehouse"
	fileBlobs, err := lake.OpenBlobs(fileCfg, nil, "serving")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := make([]byte, 10000)
	for i := range body {
		body[i] = byte(i * 7)
	}
	for name, b := range map[string]*lake.Blobs{"s3": s3Blobs, "file": fileBlobs} {
		if err := b.Put(ctx, "runs/r/detail.bin", body); err != nil {
			t.Fatalf("%s: put: %v", name, err)
		}
		for _, rg := range [][2]int{{0, 8}, {1234, 5000}, {9999, 1}, {0, 10000}} {
			p := make([]byte, rg[1])
			if err := b.ReadAt(ctx, "runs/r/detail.bin", p, int64(rg[0])); err != nil {
				t.Fatalf("%s: ReadAt(%d, %d): %v", name, rg[0], rg[1], err)
			}
			if !bytes.Equal(p, body[rg[0]:rg[0]+rg[1]]) {
				t.Errorf("%s: ReadAt(%d, %d) returned other bytes", name, rg[0], rg[1])
			}
		}
		if err := b.ReadAt(ctx, "runs/r/detail.bin", make([]byte, 10), 9995); err == nil {
			t.Errorf("%s: a read past the end succeeded", name)
		}
		if err := b.ReadAt(ctx, "runs/none", make([]byte, 1), 0); !errors.Is(err, lake.ErrNotFound) {
			t.Errorf("%s: missing key: %v, want ErrNotFound", name, err)
		}
	}
}
