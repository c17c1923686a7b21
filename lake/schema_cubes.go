package lake

import "github.com/apache/iceberg-go"

// usageCubeSchema is voice traffic per month at the grain of the usage
// cube. A row with grouping bit 0 (hour), 1 (day_type) or 2 (call_kind) set
// has that column null and covers every value of it, as SQL's GROUPING
// SETS would: subscribers is a count of distinct subscribers and cannot be
// summed over hours, day types or call kinds (a subscriber calls in many),
// so the rows that roll them up carry the exact distinct count. Over
// gender, age band and income band it can be summed (a subscriber has one
// of each in a month). Sum calls and minutes over the grouping 0 rows only.
var usageCubeSchema = iceberg.NewSchema(0,
	field(1, "month", tDate, required, "first day of the month"),
	field(2, "grouping", tInt32, required, "bit 0: hour rolled up, bit 1: day_type, bit 2: call_kind (the column is null)"),
	field(3, "hour", tInt32, optional, "hour of day of the call's start, UTC, 0-23"),
	field(4, "day_type", tString, optional, "weekday (Monday-Friday) or weekend, UTC"),
	field(5, "call_kind", tString, optional, "local, long_distance, international, roaming, unknown_area"),
	field(6, "gender", tString, required, "from the register as of the month's end; unknown when not given"),
	field(7, "age_band", tString, required, "18-24 … 65+ at the month's end; unknown without a birth date"),
	field(8, "income_band", tString, required, "unknown when not given"),
	field(9, "calls", tInt64, required, "voice calls, both directions"),
	field(10, "minutes", tFloat, required, "voice minutes"),
	field(11, "subscribers", tInt64, required, "distinct subscribers with at least one such call"),
	field(12, "built_at", tTime, required, ""),
)

// UsageCubeTable is the usage cube (month × hour × day type × call kind ×
// gender × age band × income band), built with the feature month it
// belongs to; rebuilding a month replaces its partition.
var UsageCubeTable = TableDef{
	Name:   "usage_cube",
	Schema: usageCubeSchema,
	Spec:   partitionBy(usageCubeSchema, "month", "month_month", iceberg.MonthTransform{}),
}

// cubeMonthlySchema is customers per month at the grain of the monthly
// cube. subscribers counts each customer once in the month (the cells of a
// month partition them), so it sums over every column but month.
var cubeMonthlySchema = iceberg.NewSchema(0,
	field(1, "month", tDate, required, "first day of the month"),
	field(2, "region", tString, required, "unknown when not given"),
	field(3, "plan", tString, required, ""),
	field(4, "segment", tString, required, "segment id of the model run that built the table; unknown when none"),
	field(5, "lifecycle", tString, required, "new, established, loyal, suspended at the month's end (churned: at the previous month's end)"),
	field(6, "age_band", tString, required, "unknown without a birth date"),
	field(7, "gender", tString, required, "unknown when not given"),
	field(8, "subscribers", tInt64, required, "customers at the month's end"),
	field(9, "new", tInt64, required, "of them, activated in the month"),
	field(10, "churned", tInt64, required, "customers at the previous month's end deactivated in the month, in the cell of that month's row"),
	field(11, "revenue", tMoney2, required, "amount due of the month's bills"),
	field(12, "minutes", tFloat, required, "voice minutes"),
	field(13, "data_mb", tFloat, required, ""),
	field(14, "built_at", tTime, required, ""),
)

// CubeMonthlyTable is the monthly cube (month × region × plan × segment ×
// lifecycle × age band × gender), rebuilt by every training run for every
// feature month (each month's rows replaced).
var CubeMonthlyTable = TableDef{
	Name:   "cube_monthly",
	Schema: cubeMonthlySchema,
	Spec:   partitionBy(cubeMonthlySchema, "month", "month_month", iceberg.MonthTransform{}),
}
