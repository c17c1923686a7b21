package lake

import "github.com/apache/iceberg-go"

var subscribersSchema = iceberg.NewSchema(0,
	field(1, "export_date", tDate, required, "snapshot date of the register export"),
	field(2, "subscriber_id", tString, required, ""),
	field(3, "msisdn", tString, required, "personal data"),
	field(4, "name", tString, optional, "personal data"),
	field(5, "gender", tString, required, "F, M, X, U"),
	field(6, "birth_date", tDate, optional, "personal data"),
	field(7, "occupation", tString, optional, ""),
	field(8, "education", tString, optional, ""),
	field(9, "income_band", tString, optional, ""),
	field(10, "region", tString, optional, ""),
	field(11, "plan", tString, required, ""),
	field(12, "activation_date", tDate, required, ""),
	field(13, "status", tString, required, "active, suspended, deactivated"),
	field(14, "status_date", tDate, required, ""),
	field(15, "payment_method", tString, required, ""),
	field(16, "credit_limit", tMoney2, optional, ""),
	field(17, "source_file", tString, required, ""),
	field(18, "ingested_at", tTime, required, ""),
	field(19, "district", tString, optional, "personal data (part of the address): district of the home address"),
)

// SubscribersTable holds full register snapshots, one row per subscriber and export date.
var SubscribersTable = TableDef{
	Name:   "subscribers",
	Schema: subscribersSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}
