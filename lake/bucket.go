package lake

import (
	"math"

	"github.com/apache/iceberg-go/table"
	"github.com/twmb/murmur3"
)

// SubscriberBuckets is how many subscriber-hash buckets crm.cdr is
// partitioned into (bucket(8, subscriber_id) under day(start_time)), and so
// how many pieces the fan-out feature build splits a month into. The hash
// is Iceberg's own bucket transform (murmur3 of the id's UTF-8 bytes), so
// Athena, Spark and Trino prune the same files for
// "subscriber_id = 'x'" and the fan-out reads one bucket of a month by its
// partition values alone.
//
// iceberg-go v0.7.0 writes bucket partitions (its partitioned writers bind
// every transform but unknown ones) and prunes them at planning time for
// equality and IN predicates on subscriber_id; a whole bucket is chosen by
// the data files' partition values (BucketFiles), since no expression names
// a partition field. Growing past 8 buckets is a partition-spec evolution
// (old files keep their spec; BucketFiles reads those whole and filters).
const SubscriberBuckets = 8

// SubscriberBucketField is the name of crm.cdr's bucket partition field.
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

// BucketTasks keeps the scan tasks that can hold rows of subscriber bucket
// b: files whose partition has subscriber_bucket = b, and files written
// under a spec without that field (the caller filters their rows).
func BucketTasks(meta table.Metadata, tasks []table.FileScanTask, b int) []table.FileScanTask {
	fieldOf := map[int32]int{} // spec id → partition field id of the bucket, -1 if none
	var out []table.FileScanTask
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
			out = append(out, t)
			continue
		}
		if v, ok := t.File.Partition()[fid].(int32); !ok || int(v) == b {
			out = append(out, t)
		}
	}
	return out
}
