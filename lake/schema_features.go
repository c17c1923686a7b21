package lake

import "github.com/apache/iceberg-go"

var tFloat = iceberg.PrimitiveTypes.Float64

// featuresSchema is one row per subscriber and month: what the churn and
// segmentation models see. Counts cover the whole calendar month (UTC);
// trends compare the month with the mean of the three before it.
var featuresSchema = iceberg.NewSchema(0,
	field(1, "month", tDate, required, "first day of the feature month"),
	field(2, "subscriber_id", tString, required, ""),
	field(3, "plan", tString, required, "plan at the end of the month"),
	field(4, "region", tString, optional, ""),
	field(5, "age_band", tString, optional, "18-24, 25-34, 35-44, 45-54, 55-64, 65+"),
	field(6, "gender", tString, optional, ""),
	field(7, "income_band", tString, optional, ""),
	field(8, "payment_method", tString, optional, ""),
	field(9, "status", tString, required, "active or suspended at the end of the month"),
	field(10, "tenure_months", tInt32, required, "whole months from activation to the end of the month"),
	field(11, "voice_calls", tInt32, required, "voice calls, both directions"),
	field(12, "voice_minutes", tFloat, required, ""),
	field(13, "avg_call_s", tFloat, optional, "mean voice call duration, seconds; empty without calls"),
	field(14, "sms", tInt32, required, ""),
	field(15, "data_mb", tFloat, required, ""),
	field(16, "distinct_contacts", tInt32, required, "distinct other parties of voice calls and SMS"),
	field(17, "roaming_calls", tInt32, required, "voice calls made or received while roaming"),
	field(18, "intl_calls", tInt32, required, "international voice calls"),
	field(19, "peak_share", tFloat, optional, "share of voice calls Monday-Friday 08:00-19:59 UTC"),
	field(20, "weekend_share", tFloat, optional, "share of voice calls on Saturday and Sunday (UTC)"),
	field(21, "offnet_share", tFloat, optional, "share of outgoing voice calls to other mobile networks"),
	field(22, "high_value_calls", tInt32, required, "voice calls charged at least 1.00"),
	field(23, "care_calls", tInt32, required, "calls to customer care"),
	field(24, "active_days", tInt32, required, "days with any usage"),
	field(25, "usage_charge", tMoney2, required, "sum of CDR charges"),
	field(26, "amount_due", tMoney2, optional, "the month's bill; empty without a bill"),
	field(27, "amount_paid", tMoney2, optional, ""),
	field(28, "paid_ratio", tFloat, optional, "amount_paid / amount_due"),
	field(29, "arrears", tMoney2, optional, ""),
	field(30, "months_in_arrears", tInt32, required, "consecutive bills up to this month with arrears"),
	field(31, "discount", tMoney2, optional, ""),
	field(32, "credit_limit", tMoney2, optional, ""),
	field(33, "credit_use", tFloat, optional, "amount_due / credit_limit"),
	field(34, "voice_minutes_trend", tFloat, optional, "this month / mean of the 3 before - 1"),
	field(35, "calls_trend", tFloat, optional, "voice calls, as voice_minutes_trend"),
	field(36, "data_trend", tFloat, optional, "data volume, as voice_minutes_trend"),
	field(37, "contacts_trend", tFloat, optional, "distinct contacts, as voice_minutes_trend"),
	field(38, "spend_trend", tFloat, optional, "amount due, as voice_minutes_trend"),
	field(39, "built_at", tTime, required, "when this row was built"),
)

// FeaturesTable holds the model features, partitioned by month and by
// subscriber-hash bucket (SubscriberBuckets, as crm.cdr), so one bucket of
// the fan-out (a feature bucket's earlier months, a score bucket's
// features and history) reads its own files alone (InBucket). Rebuilding a
// month replaces that month's partitions in one commit. Lakes created
// before the bucket field keep their month-only spec: InBucket reads those
// files whole and filters their rows.
var FeaturesTable = TableDef{
	Name:   "features",
	Schema: featuresSchema,
	Spec: partitionByFields(featuresSchema,
		partField{"month", "month_month", iceberg.MonthTransform{}},
		partField{"subscriber_id", SubscriberBucketField, iceberg.BucketTransform{NumBuckets: SubscriberBuckets}}),
}
