package lake

import "github.com/apache/iceberg-go"

// campaignsSchema is one row per retention campaign: what it offers, by
// which channel, at what cost, drawn from which list, with its control
// share and the seed its control group was drawn with.
var campaignsSchema = iceberg.NewSchema(0,
	field(1, "campaign_id", tString, required, "e.g. cmp-20261201-1a2b3c"),
	field(2, "name", tString, required, ""),
	field(3, "offer", tString, required, "what the contact offers, e.g. discount-10"),
	field(4, "channel", tString, required, "outbound_call, sms, mail, shop"),
	field(5, "cost_per_contact", tMoney2, required, "cost of one contact attempt"),
	field(6, "size", tInt32, required, "customers asked for (treated + control)"),
	field(7, "control_share", tFloat, required, "share asked for the control group"),
	field(8, "source_kind", tString, required, "list or group"),
	field(9, "source_name", tString, required, "the list or group the contacts came from"),
	field(10, "run", tString, required, "scoring run the list belonged to"),
	field(11, "seed", tInt64, required, "seed of the control draw (from the campaign id)"),
	field(12, "treated", tInt32, required, "customers in the treated arm"),
	field(13, "control", tInt32, required, "customers in the control arm"),
	field(14, "horizon_days", tInt32, required, "churn is measured this many days after created_at"),
	field(15, "created_at", tTime, required, ""),
	field(16, "created_by", tString, required, "name of the API key or console user"),
)

// CampaignsTable holds campaign metadata; small and unpartitioned.
var CampaignsTable = TableDef{
	Name:   "campaigns",
	Schema: campaignsSchema,
	Spec:   *iceberg.UnpartitionedSpec,
}

// campaignContactsSchema is the frozen contact list of a campaign: every
// customer drawn, its arm, and its score, reasons and value at the time.
var campaignContactsSchema = iceberg.NewSchema(0,
	field(1, "campaign_id", tString, required, ""),
	field(2, "subscriber_id", tString, required, ""),
	field(3, "arm", tString, required, "treated or control"),
	field(4, "rank", tInt32, required, "1-based rank in the source list"),
	field(5, "churn_probability", tFloat, required, "at the time of the campaign"),
	field(6, "reason_1", tString, optional, ""),
	field(7, "reason_2", tString, optional, ""),
	field(8, "reason_3", tString, optional, ""),
	field(9, "segment_name", tString, optional, ""),
	field(10, "monthly_value", tMoney2, required, ""),
	field(11, "clv", tFloat, required, ""),
	field(12, "value_at_risk", tFloat, required, ""),
	field(13, "frozen_at", tTime, required, ""),
)

// CampaignContactsTable holds the contact lists, partitioned by campaign.
var CampaignContactsTable = TableDef{
	Name:   "campaign_contacts",
	Schema: campaignContactsSchema,
	Spec:   partitionBy(campaignContactsSchema, "campaign_id", "campaign_id", iceberg.IdentityTransform{}),
}
