package serving_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// keyLog is a Source that records the keys it is asked for.
type keyLog struct {
	*serving.MemStore
	mu   sync.Mutex
	keys map[string]int64 // key → bytes read
}

func (l *keyLog) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := l.MemStore.Get(ctx, key)
	l.mu.Lock()
	l.keys[key] += int64(len(b))
	l.mu.Unlock()
	return b, err
}

func (l *keyLog) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	l.mu.Lock()
	l.keys[key] += int64(len(p))
	l.mu.Unlock()
	return l.MemStore.ReadAt(ctx, key, p, off)
}

// TestWriteShardedRoundTrip: a run written in n shards opens shard by
// shard; each shard holds exactly its customers (serving.ShardOf), equal
// to the unsharded run's field for field, and opening and reading it
// touches only its own files and the run's meta.json.
func TestWriteShardedRoundTrip(t *testing.T) {
	ctx := context.Background()
	cs := sample(900)
	for _, n := range []int{2, 5} {
		st := serving.NewMemStore()
		meta := &serving.Meta{Run: fmt.Sprintf("run-%d", n), Customers: len(cs), Lists: []serving.List{{Name: "churn-risk", IDs: []string{cs[0].SubscriberID}}}}
		p, err := serving.WriteSharded(ctx, st, meta, cs, n)
		if err != nil {
			t.Fatal(err)
		}
		latest, err := serving.Latest(ctx, st, serving.IsNotFound)
		if err != nil || !reflect.DeepEqual(latest, p) {
			t.Fatalf("Latest = %+v, %v; want %+v", latest, err, p)
		}
		if _, err := serving.Open(ctx, st, p, serving.Options{}); err == nil || !strings.Contains(err.Error(), "OpenShard") {
			t.Errorf("n=%d: Open of a sharded run: %v, want an error naming OpenShard", n, err)
		}
		if _, err := serving.OpenShard(ctx, st, p, 0, n+1, serving.Options{}); !errors.Is(err, serving.ErrShardCount) {
			t.Errorf("n=%d: OpenShard with %d shards: %v, want ErrShardCount", n, n+1, err)
		}
		want := serving.Split(quantized(cs), n)
		seen := 0
		for k := range n {
			log := &keyLog{MemStore: st, keys: map[string]int64{}}
			snap, err := serving.OpenShard(ctx, log, p, k, n, serving.Options{})
			if err != nil {
				t.Fatalf("n=%d: OpenShard(%d): %v", n, k, err)
			}
			if snap.Meta.Run != meta.Run || len(snap.Meta.Lists) != 1 || snap.Len() != len(want[k]) {
				t.Fatalf("n=%d shard %d: run %s, %d lists, %d rows; want %s, 1, %d", n, k, snap.Meta.Run, len(snap.Meta.Lists), snap.Len(), meta.Run, len(want[k]))
			}
			rows := allRows(snap.Len())
			got, err := snap.Customers(ctx, rows)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], want[k][i]) {
					t.Fatalf("n=%d shard %d row %d:\n got %+v\nwant %+v", n, k, i, got[i], want[k][i])
				}
				if serving.ShardOf(got[i].SubscriberID, n) != k {
					t.Fatalf("n=%d: %s in shard %d, ShardOf says %d", n, got[i].SubscriberID, k, serving.ShardOf(got[i].SubscriberID, n))
				}
			}
			seen += len(got)
			own := fmt.Sprintf("runs/%s/shards-%d/%d/", meta.Run, n, k)
			var read int64
			for key, b := range log.keys {
				if !strings.HasPrefix(key, own) && key != p.Meta {
					t.Errorf("n=%d: shard %d read %s, outside %s", n, k, key, own)
				}
				read += b
			}
			if sh := p.Shards[k]; read > sh.ColumnsBytes+sh.DetailBytes+int64(len(st.Bytes(p.Meta))) {
				t.Errorf("n=%d: shard %d read %d bytes, more than its files and the meta", n, k, read)
			}
		}
		if seen != len(cs) {
			t.Errorf("n=%d: the shards hold %d customers, want %d", n, seen, len(cs))
		}
	}
}

// TestWriteShardedRejects: a bad shard count or an unsorted whole is
// refused before anything is written.
func TestWriteShardedRejects(t *testing.T) {
	ctx := context.Background()
	cs := sample(20)
	cs[3], cs[4] = cs[4], cs[3]
	for _, tc := range []struct {
		name   string
		cs     []serving.Customer
		shards int
		want   string
	}{
		{"no shards", sample(3), 0, "0 shards"},
		{"too many", sample(3), serving.MaxShards + 1, "shards, want 1 to"},
		{"unsorted", cs, 4, "not sorted"},
	} {
		st := serving.NewMemStore()
		_, err := serving.WriteSharded(ctx, st, &serving.Meta{Run: "r"}, tc.cs, tc.shards)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: WriteSharded = %v, want an error with %q", tc.name, err, tc.want)
		}
		if st.Bytes(serving.LatestKey) != nil {
			t.Errorf("%s: latest.json written", tc.name)
		}
	}
}

// TestPointShardsReusesFiles: shards put one at a time (PutShard) and
// pointed at (PointShards) open like WriteSharded's, and a second run that
// changes only the metadata points at the first run's files: its shards
// open with the new run and the same rows, and nothing of the first run's
// files is rewritten. Bad shard numbers are refused.
func TestPointShardsReusesFiles(t *testing.T) {
	ctx := context.Background()
	cs := sample(300)
	const n = 3
	st := serving.NewMemStore()
	var files []serving.ShardFiles
	for k, part := range serving.Split(cs, n) {
		f, err := serving.Encode(&serving.Meta{Run: "r1"}, part)
		if err != nil {
			t.Fatal(err)
		}
		sf, err := serving.PutShard(ctx, st, "r1", n, k, f.Columns, f.Detail)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, sf)
	}
	cols0 := st.Bytes(files[0].Columns)
	for i, run := range []string{"r1", "r2"} {
		p, err := serving.PointShards(ctx, st, run, []byte(`{"run":"`+run+`","customers":300}`), files)
		if err != nil {
			t.Fatal(err)
		}
		latest, err := serving.Latest(ctx, st, serving.IsNotFound)
		if err != nil || latest.Run != run || len(latest.Shards) != n {
			t.Fatalf("run %d: latest %+v, %v", i, latest, err)
		}
		for k, want := range serving.Split(quantized(cs), n) {
			snap, err := serving.OpenShard(ctx, st, latest, k, n, serving.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := snap.Customers(ctx, allRows(snap.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if snap.Meta.Run != run || !reflect.DeepEqual(got, want) {
				t.Errorf("%s shard %d: run %s, %d rows; want the split's %d", run, k, snap.Meta.Run, len(got), len(want))
			}
		}
		if p.Meta != "runs/"+run+"/meta.json" {
			t.Errorf("%s: meta at %s", run, p.Meta)
		}
	}
	if !reflect.DeepEqual(st.Bytes(files[0].Columns), cols0) {
		t.Error("the second run rewrote the first run's files")
	}
	for _, tc := range []struct{ n, k int }{{1, 0}, {3, 3}, {3, -1}, {serving.MaxShards + 1, 0}} {
		if _, err := serving.PutShard(ctx, st, "r3", tc.n, tc.k, []byte{1}, []byte{1}); err == nil {
			t.Errorf("PutShard shard %d of %d: no error", tc.k, tc.n)
		}
	}
	if _, err := serving.PointShards(ctx, st, "r3", []byte(`{}`), files[:1]); err == nil {
		t.Error("PointShards with one shard: no error")
	}
}
