package lake

import "github.com/apache/iceberg-go"

// responsesSchema is one row per contact attempt the call centre, SMS
// platform, mailing house or shop reports back.
var responsesSchema = iceberg.NewSchema(0,
	field(1, "campaign_id", tString, required, ""),
	field(2, "subscriber_id", tString, required, ""),
	field(3, "contact_key", tString, required, "campaign_id/subscriber_id: the record key with day(contacted_at)"),
	field(4, "contacted_at", tTime, required, "when the contact was attempted"),
	field(5, "outcome", tString, required, "accepted, declined, unreachable"),
	field(6, "outcome_at", tTime, optional, "when the customer answered (accepted or declined)"),
	field(7, "source_file", tString, required, ""),
	field(8, "ingested_at", tTime, required, ""),
)

// ResponsesTable holds campaign responses, partitioned by contact day.
var ResponsesTable = TableDef{
	Name:   "responses",
	Schema: responsesSchema,
	Spec:   partitionBy(responsesSchema, "contacted_at", "contacted_day", iceberg.DayTransform{}),
}
