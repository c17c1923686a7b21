package lake

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
	"github.com/twmb/murmur3"
)

// SubscriberBuckets is how many subscriber-hash buckets crm.cdr and
// crm.features are partitioned into (bucket(8, subscriber_id) under
// day(start_time) and month(month)), and so how many pieces the fan-out
// feature build and scoring run split the subscribers into. The hash
// is Iceberg's own bucket transform (murmur3 of the id's UTF-8 bytes), so
// Athena, Spark and Trino prune the same files for
// "subscriber_id = 'x'" and the fan-out reads one bucket of a month by its
// partition values alone.
//
// iceberg-go v0.7.0 writes bucket partitions (its partitioned writers bind
// every transform but unknown ones) and prunes them at planning time for
// equality and IN predicates on subscriber_id; a whole bucket is chosen by
// the data files' partition values (BucketTasks), since no expression names
// a partition field. Growing past 8 buckets is a partition-spec evolution
// (old files keep their spec; BucketTasks keeps those and InBucket filters
// their rows).
const SubscriberBuckets = 8

// SubscriberBucketField is the name of the bucket partition field of
// crm.cdr, crm.features and crm.scores.
const SubscriberBucketField = "subscriber_bucket"

// SubscriberBucket is the bucket, in [0, SubscriberBuckets), of a
// subscriber id: the value Iceberg's bucket[8] transform gives it.
//
// It computes the transform itself (murmur3 of the bytes, its sign bit
// cleared, modulo the buckets, as iceberg-go's BucketTransform does, see
// TestSubscriberBucketIsIcebergs): the transform's func(any) boxed every
// id of the ingest's 9.5M rows (1.4% of its CPU).
func SubscriberBucket(id string) int {
	return int((int32(murmur3.StringSum32(id)) & math.MaxInt32) % SubscriberBuckets)
}

// BucketTasks keeps the scan tasks that can hold rows of subscriber
// bucket b: files whose partition has subscriber_bucket = b, and files written
// under a spec without that field (the caller filters their rows).
func BucketTasks(meta table.Metadata, tasks []table.FileScanTask, b int) []table.FileScanTask {
	kept, _ := bucketTasks(meta, tasks, b)
	return kept
}

// bucketTasks is BucketTasks, also saying whether a kept file can hold
// rows of other buckets (one written under a spec without the bucket
// field, or without a bucket value), whose rows must then be filtered.
func bucketTasks(meta table.Metadata, tasks []table.FileScanTask, b int) (kept []table.FileScanTask, mixed bool) {
	fieldOf := map[int32]int{} // spec id → partition field id of the bucket, -1 if none
	for _, t := range tasks {
		sid := t.File.SpecID()
		fid, ok := fieldOf[sid]
		if !ok {
			fid = -1
			if spec := meta.PartitionSpecByID(int(sid)); spec != nil {
				for _, f := range spec.Fields() {
					if f.Name == SubscriberBucketField {
						fid = f.FieldID
					}
				}
			}
			fieldOf[sid] = fid
		}
		if fid < 0 {
			kept, mixed = append(kept, t), true
			continue
		}
		v, ok := t.File.Partition()[fid].(int32)
		if !ok {
			kept, mixed = append(kept, t), true
		} else if int(v) == b {
			kept = append(kept, t)
		}
	}
	return kept, mixed
}

// subscriberColumn is the column the subscriber bucket is computed from.
const subscriberColumn = "subscriber_id"

// keepBucket returns the rows of rec whose subscriber is in bucket b,
// without the subscriber column when drop; rec is released when it is not
// the result.
func keepBucket(ctx context.Context, rec arrow.RecordBatch, b int, drop bool) (arrow.RecordBatch, error) {
	idx := rec.Schema().FieldIndices(subscriberColumn)
	if len(idx) != 1 {
		rec.Release()
		return nil, fmt.Errorf("bucket filter: column %s not in the scan", subscriberColumn)
	}
	ids, ok := rec.Column(idx[0]).(interface {
		arrow.Array
		Value(int) string
	})
	if !ok {
		rec.Release()
		return nil, fmt.Errorf("bucket filter: column %s is %s, want a string", subscriberColumn, rec.Column(idx[0]).DataType())
	}
	n := int(rec.NumRows())
	mask := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer mask.Release()
	mask.Reserve(n)
	all := true
	for i := range n {
		in := !ids.IsNull(i) && SubscriberBucket(ids.Value(i)) == b
		all = all && in
		mask.UnsafeAppend(in)
	}
	out := rec
	if !all {
		m := mask.NewBooleanArray()
		defer m.Release()
		var err error
		out, err = compute.FilterRecordBatch(ctx, rec, m, compute.DefaultFilterOptions())
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("bucket filter: %w", err)
		}
	}
	if drop {
		fields := slices.Delete(slices.Clone(out.Schema().Fields()), idx[0], idx[0]+1)
		cols := slices.Delete(slices.Clone(out.Columns()), idx[0], idx[0]+1)
		md := out.Schema().Metadata()
		dropped := array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, out.NumRows())
		out.Release()
		out = dropped
	}
	return out, nil
}
