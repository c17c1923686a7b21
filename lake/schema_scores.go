package lake

import "github.com/apache/iceberg-go"

// scoresSchema is one row per customer per scoring run: the customers the
// run scored (active or suspended in the newest register snapshot) and the
// recently lost ones it lists for win-back (lifecycle "lost", probability 0).
var scoresSchema = iceberg.NewSchema(0,
	field(1, "run", tString, required, "scoring run id, e.g. 20260703T040000Z"),
	field(2, "scored_at", tTime, required, ""),
	field(3, "feature_month", tDate, required, "first day of the feature month scored"),
	field(4, "subscriber_id", tString, required, ""),
	field(5, "churn_probability", tFloat, required, "deactivated within the churn model's label horizon; 0 for lost customers"),
	field(6, "reason_1", tString, optional, "strongest reason for the risk, readable"),
	field(7, "reason_2", tString, optional, ""),
	field(8, "reason_3", tString, optional, ""),
	field(9, "segment_id", tInt32, optional, "segment of the customer's (last) feature month"),
	field(10, "segment_name", tString, optional, ""),
	field(11, "monthly_value", tMoney2, required, "mean bill of the customer's last three feature months"),
	field(12, "clv", tFloat, required, "lifetime value, see the serving snapshot's value_model"),
	field(13, "value_at_risk", tFloat, required, "churn_probability × clv"),
	field(14, "lifecycle", tString, required, "new, established, loyal, suspended, lost"),
	field(15, "churn_model", tString, required, "version of the churn model"),
	field(16, "segment_model", tString, required, "version of the segmentation"),
	field(17, "value_tier", tString, optional, "top1, top5, top20, rest by CLV among the run's scored customers; none: not ranked"),
	field(18, "profit", tMoney2, optional, "monthly profit: revenue - cost to serve (value_model.costs)"),
	field(19, "cost_to_serve", tMoney2, optional, "monthly cost to serve"),
	field(20, "bad_debt_probability", tFloat, optional, "2+ consecutive bills in arrears within the bad-debt model's horizon; empty without a promoted bad-debt model, 0 for lost customers"),
	field(21, "bad_debt_reason_1", tString, optional, "strongest reason for the bad-debt risk, readable"),
	field(22, "bad_debt_reason_2", tString, optional, ""),
	field(23, "bad_debt_reason_3", tString, optional, ""),
	field(24, "bad_debt_model", tString, optional, "version of the bad-debt model; empty without one"),
)

// ScoresTable holds the scoring runs, partitioned by run and by
// subscriber-hash bucket (SubscriberBuckets, as crm.features), so a score
// bucket of the fan-out reads its own files of the history runs alone
// (InBucket). Rerunning a run replaces its partitions in one commit.
// Lakes created before the bucket field keep their run-only spec: InBucket
// reads those files whole and filters their rows.
var ScoresTable = TableDef{
	Name:   "scores",
	Schema: scoresSchema,
	Spec: partitionByFields(scoresSchema,
		partField{"run", "run", iceberg.IdentityTransform{}},
		partField{"subscriber_id", SubscriberBucketField, iceberg.BucketTransform{NumBuckets: SubscriberBuckets}}),
}
