package lake

import "github.com/apache/iceberg-go"

// scenariosSchema is one row per saved what-if scenario: what was asked
// and what it came to against the baseline forecast, owned by the key or
// console user that saved it (private to them and admins unless shared).
var scenariosSchema = iceberg.NewSchema(0,
	field(1, "scenario_id", tString, required, "e.g. scn-20261201T101500Z-1a2b3c4d"),
	field(2, "name", tString, required, ""),
	field(3, "owner", tString, required, "name of the API key or console user that saved it"),
	field(4, "shared", tBool, required, "visible to every analyst and admin, not only the owner"),
	field(5, "kind", tString, required, "price or retention"),
	field(6, "created_at", tTime, required, ""),
	field(7, "forecast_run", tString, required, "the forecast run the scenario is compared with"),
	field(8, "spec", tString, required, "the request as JSON"),
	field(9, "outcome", tString, required, "the result as JSON: months, totals with their bands, assumptions"),
)

// ScenariosTable holds the saved scenarios; small and unpartitioned.
var ScenariosTable = TableDef{
	Name:   "scenarios",
	Schema: scenariosSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}
