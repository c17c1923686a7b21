package lake

import "github.com/apache/iceberg-go"

var cdrSchema = iceberg.NewSchema(0,
	field(1, "call_id", tString, required, "record id in the source system"),
	field(2, "subscriber_id", tString, required, ""),
	field(3, "msisdn", tString, required, "the subscriber's number, E.164 digits"),
	field(4, "other_party_hash", tString, optional, "keyed hash of the other party's number; never the number"),
	field(5, "other_network", tString, required, "onnet, offnet, fixed, international, care, other"),
	field(6, "start_time", tTime, required, "UTC"),
	field(7, "duration_s", tInt32, required, "seconds"),
	field(8, "call_type", tString, required, "voice, sms, data"),
	field(9, "direction", tString, required, "out, in"),
	field(10, "roaming", tBool, required, ""),
	field(11, "international", tBool, required, ""),
	field(12, "cell_id", tString, optional, ""),
	field(13, "region", tString, optional, ""),
	field(14, "data_kb", tInt64, required, ""),
	field(15, "charge", tMoney4, required, ""),
	field(16, "source_file", tString, required, "s3://bucket/key of the export the row came from"),
	field(17, "ingested_at", tTime, required, ""),
	// Added after the first release: files and tables without it read as
	// null (the other party's area unknown).
	field(18, "other_area", tString, optional, "home area (region) of the other party's number as the operator names its regions; null: not delivered"),
)

// CDRTable holds one row per call, SMS or data session, partitioned by day
// and by subscriber-hash bucket (SubscriberBuckets), so one bucket of a
// month is read alone.
var CDRTable = TableDef{
	Name:   "cdr",
	Schema: cdrSchema,
	Spec: partitionByFields(cdrSchema,
		partField{"start_time", "start_day", iceberg.DayTransform{}},
		partField{"subscriber_id", SubscriberBucketField, iceberg.BucketTransform{NumBuckets: SubscriberBuckets}}),
}
