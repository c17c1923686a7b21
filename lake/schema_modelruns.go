package lake

import "github.com/apache/iceberg-go"

var modelRunsSchema = iceberg.NewSchema(0,
	field(1, "version", tString, required, "model version, e.g. churn-20261123T101500Z"),
	field(2, "kind", tString, required, "churn, segment, bad-debt or uplift"),
	field(3, "algorithm", tString, required, "e.g. logistic, gbm, kmeans++"),
	field(4, "trained_at", tTime, required, ""),
	field(5, "train_from", tDate, optional, "first feature month trained on"),
	field(6, "train_to", tDate, optional, "last feature month trained on"),
	field(7, "valid_month", tDate, optional, "out-of-time validation month"),
	field(8, "horizon_months", tInt32, optional, "label: deactivated within this many months"),
	field(9, "train_rows", tInt64, required, ""),
	field(10, "valid_rows", tInt64, optional, ""),
	field(11, "auc", tFloat, optional, "validation ROC AUC (churn, bad-debt); null for uplift, whose metric is auuc"),
	field(12, "auc_lo", tFloat, optional, "95% bootstrap interval"),
	field(13, "auc_hi", tFloat, optional, ""),
	field(14, "pr_auc", tFloat, optional, ""),
	field(15, "lift10", tFloat, optional, "top-decile lift"),
	field(16, "k", tInt32, optional, "segments, for kind segment"),
	field(17, "silhouette", tFloat, optional, "for kind segment"),
	field(18, "artifact", tString, required, "URI of the model JSON"),
	field(19, "report", tString, optional, "URI of the model report (Markdown)"),
	field(20, "promoted", tBool, required, "whether this version became the one scoring uses"),
	field(21, "decision", tString, required, "why it was or was not promoted"),
	// Added for the uplift model, whose held-out metric is no ROC AUC.
	// Uplift rows written before these columns held the model's AUUC in
	// auc, auc_lo and auc_hi; readers take it from there when auuc is null.
	field(22, "auuc", tFloat, optional, "uplift: area under the uplift (Qini) curve on the held-out campaign"),
	field(23, "auuc_lo", tFloat, optional, "95% percentile bootstrap interval"),
	field(24, "auuc_hi", tFloat, optional, ""),
	field(25, "auuc_risk", tFloat, optional, "uplift: AUUC of ranking by churn risk on the same campaign"),
	// Added with the training sample: a classifier is fitted and judged
	// on a seeded stratified sample once the base passes the caps.
	field(26, "train_population", tInt64, optional, "rows the training sample was drawn from (= train_rows when every row was kept)"),
	field(27, "valid_population", tInt64, optional, "rows the validation sample was drawn from (= valid_rows when every row was kept)"),
	field(28, "sample", tString, optional, "how the training and validation rows were sampled, in words"),
)

// ModelRunsTable holds one row per trained model version.
var ModelRunsTable = TableDef{
	Name:   "model_runs",
	Schema: modelRunsSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}
