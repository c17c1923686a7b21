package lake

import "github.com/apache/iceberg-go"

// forecastsSchema is one row per group × month × measure of the newest
// forecast run: the known months (kind actual, value only) and the months
// ahead (kind forecast, with the 80% and 95% bands), and per dimension and
// measure the backtest that decided which method is served.
var forecastsSchema = iceberg.NewSchema(0,
	field(1, "run", tString, required, "version of the training run that built the forecast"),
	field(2, "built_at", tTime, required, ""),
	field(3, "dim", tString, required, "total, region, plan or segment"),
	field(4, "group_value", tString, required, "the region, plan or segment id; all for total"),
	field(5, "measure", tString, required, "subscribers, revenue, minutes or data_mb"),
	field(6, "month", tDate, required, "first day of the month"),
	field(7, "kind", tString, required, "actual or forecast"),
	field(8, "method", tString, required, "cohort, seasonal_naive or naive: the method served for the dimension and measure"),
	field(9, "value", tFloat, required, "the known value or the point forecast (revenue in currency units)"),
	field(10, "lo80", tFloat, optional, "null for actual rows"),
	field(11, "hi80", tFloat, optional, ""),
	field(12, "lo95", tFloat, optional, ""),
	field(13, "hi95", tFloat, optional, ""),
	field(14, "model_mape", tFloat, optional, "backtest MAPE (%) of the model over the dimension's groups; null without a backtest"),
	field(15, "baseline_mape", tFloat, optional, "backtest MAPE (%) of the baseline"),
	field(16, "baseline", tString, required, "the backtest's baseline method"),
	field(17, "beat_baseline", tBool, required, "the model beat the baseline in the backtest, so it is served"),
	field(18, "attrition", tString, required, "where the model's attrition came from"),
	field(19, "note", tString, required, "the backtest's decision in words"),
	field(20, "hazard", tFloat, required, "the group's monthly attrition hazard in the cohort model"),
)

// ForecastsTable holds the newest forecast (every training run replaces
// it); small and unpartitioned.
var ForecastsTable = TableDef{
	Name:   "forecasts",
	Schema: forecastsSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}
