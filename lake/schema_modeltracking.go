package lake

import "github.com/apache/iceberg-go"

// crm.model_tracking: what each scoring run found when it held the past
// runs to what happened since (kind "run": one row per tracked run;
// "decile": its predicted deciles) and the features' drift (kind "drift":
// one row per feature and pair of feature months). Written by the score
// function with its lifecycle report; a retried run replaces its rows.
var modelTrackingSchema = iceberg.NewSchema(0,
	field(1, "computed_run", tString, required, "the scoring run that computed the row"),
	field(2, "computed_at", tTime, required, ""),
	field(3, "kind", tString, required, "run, decile or drift"),
	field(4, "run", tString, optional, "the tracked scoring run (run, decile)"),
	field(5, "feature_month", tDate, optional, "the tracked run's feature month (run, decile)"),
	field(6, "window_end", tDate, optional, "last day of the churn label window after the feature month"),
	field(7, "complete", tBool, optional, "the register's newest export covers the window"),
	field(8, "decile", tInt32, optional, "1: the highest scores (decile)"),
	field(9, "customers", tInt64, optional, "customers tracked (a hash sample above 100,000)"),
	field(10, "leavers", tInt64, optional, "of them, deactivated within the window"),
	field(11, "mean_predicted", tFloat, optional, ""),
	field(12, "realised", tFloat, optional, "leavers / customers"),
	field(13, "auc", tFloat, optional, "ROC AUC of the run's scores against the outcomes (run)"),
	field(14, "feature", tString, optional, "crm.features column (drift)"),
	field(15, "from_month", tDate, optional, "reference month (drift)"),
	field(16, "to_month", tDate, optional, "compared month (drift)"),
	field(17, "psi", tFloat, optional, "population stability index over the reference's deciles (drift)"),
	field(18, "level", tString, optional, "stable < 0.1 ≤ moderate < 0.25 ≤ significant (drift)"),
)

// ModelTrackingTable holds the score tracking and drift rows.
var ModelTrackingTable = TableDef{
	Name:   "model_tracking",
	Schema: modelTrackingSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}
