package lake

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/iceberg-go"
)

// TestSubscriberBucketIsIcebergs: SubscriberBucket gives every id the
// bucket Iceberg's bucket[8] transform gives it (what readers prune by).
func TestSubscriberBucketIsIcebergs(t *testing.T) {
	transform := iceberg.BucketTransform{NumBuckets: SubscriberBuckets}.Transformer(iceberg.PrimitiveTypes.String)
	r := rand.New(rand.NewPCG(1, 2))
	ids := []string{"", "S0000001", "S0084116", "ü-ß", "\xff\xfe", "a somewhat longer subscriber id of 40 b."}
	for range 5000 {
		ids = append(ids, fmt.Sprintf("S%07d", r.IntN(10_000_000)))
	}
	seen := map[int]bool{}
	for _, id := range ids {
		want := transform(id)
		if got := SubscriberBucket(id); !want.Valid || got != int(want.Val) {
			t.Fatalf("SubscriberBucket(%q) = %d, want %v", id, got, want)
		}
		seen[SubscriberBucket(id)] = true
	}
	if len(seen) != SubscriberBuckets {
		t.Errorf("%d buckets used, want %d", len(seen), SubscriberBuckets)
	}
}
