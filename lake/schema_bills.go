package lake

import "github.com/apache/iceberg-go"

var billsSchema = iceberg.NewSchema(0,
	field(1, "subscriber_id", tString, required, ""),
	field(2, "bill_month", tDate, required, "first day of the billed month"),
	field(3, "plan", tString, required, ""),
	field(4, "amount_due", tMoney2, required, ""),
	field(5, "amount_paid", tMoney2, required, ""),
	field(6, "arrears", tMoney2, required, "unpaid balance carried from earlier bills"),
	field(7, "discount", tMoney2, required, ""),
	field(8, "payment_method", tString, required, ""),
	field(9, "credit_limit", tMoney2, optional, ""),
	field(10, "source_file", tString, required, ""),
	field(11, "ingested_at", tTime, required, ""),
)

// BillsTable holds one row per subscriber and bill month, partitioned by month.
var BillsTable = TableDef{
	Name:   "bills",
	Schema: billsSchema,
	Spec:   partitionBy(billsSchema, "bill_month", "bill_month_month", iceberg.MonthTransform{}),
}
