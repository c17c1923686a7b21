package lake

import "github.com/apache/iceberg-go"

// customerGroupsSchema is one row per saved customer group: a named set of
// /v1/customers conditions, owned by the key or console user that saved
// it, shared with every analyst or private. A deleted group has no row.
var customerGroupsSchema = iceberg.NewSchema(0,
	field(1, "group_id", tString, required, "e.g. grp-20261201T101500Z-1a2b3c4d"),
	field(2, "name", tString, required, ""),
	field(3, "owner", tString, required, "name of the API key or console user that saved it"),
	field(4, "shared", tBool, required, "visible to every analyst and admin, not only the owner"),
	field(5, "conditions", tString, required, "the conditions in canonical query-string form, e.g. not.plan=BASIC&region=North,South"),
	field(6, "created_at", tTime, required, ""),
)

// CustomerGroupsTable holds the saved customer groups; small and
// unpartitioned.
var CustomerGroupsTable = TableDef{
	Name:   "customer_groups",
	Schema: customerGroupsSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}
