package lake

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// CSV columns of the responses export, in documented order.
const (
	respCampaignID = iota
	respSubscriberID
	respContactedAt
	respOutcome
	respOutcomeAt
)

// Outcomes of a contact attempt, as crm.responses spells them.
const (
	OutcomeAccepted    = "accepted"
	OutcomeDeclined    = "declined"
	OutcomeUnreachable = "unreachable"
)

// ResponsesFormat is what the call centre, SMS platform, mailing house or
// shop reports back for a campaign's contact list: one row per contact
// attempt. A customer reached answers (accepted or declined) with the time
// of the answer; an unreachable one has none.
var ResponsesFormat = &Format{
	Prefix: "exports/responses/",
	Table:  ResponsesTable,
	Columns: []Column{
		{"campaign_id", true}, {"subscriber_id", true}, {"contacted_at", true},
		{"outcome", true}, {"outcome_at", false},
	},
	newRows: func(fc fileContext) rowParser { return &respRows{fc: fc} },
}

var (
	outcomes    = []string{OutcomeAccepted, OutcomeDeclined, OutcomeUnreachable}
	outcomeAlts = map[string]string{"accept": OutcomeAccepted, "yes": OutcomeAccepted, "decline": OutcomeDeclined,
		"refused": OutcomeDeclined, "no": OutcomeDeclined, "no_answer": OutcomeUnreachable, "not_reached": OutcomeUnreachable}
	errOutcomeAtMissing = errors.New("required for accepted and declined outcomes")
	errOutcomeAtGiven   = errors.New("must be empty for an unreachable outcome")
	errOutcomeBefore    = errors.New("must not be before contacted_at")
)

type respRows struct {
	fc fileContext
	// the pending row
	campaign, sub, contactKey, outcome string
	contacted, answered                int64
	hasAnswer                          bool
}

func (r *respRows) key() (int64, string) { return floorDiv(r.contacted, microsPerDay), r.contactKey }

func (r *respRows) parse(rec *record) (int64, int, error) {
	var err error
	if r.campaign, err = parseID(rec.get(respCampaignID)); err != nil {
		return 0, respCampaignID, err
	}
	if r.fc.campaigns != nil && !r.fc.campaigns[r.campaign] {
		return 0, respCampaignID, fmt.Errorf("unknown campaign %s: telcolake created no campaign with this id (crm.campaigns); the response is not committed", r.campaign)
	}
	if r.sub, err = parseID(rec.get(respSubscriberID)); err != nil {
		return 0, respSubscriberID, err
	}
	r.contactKey = r.campaign + "/" + r.sub
	if r.contacted, err = parseTimestamp(rec.get(respContactedAt), r.fc.now); err != nil {
		return 0, respContactedAt, err
	}
	if r.outcome, err = parseEnum(rec.get(respOutcome), outcomes, outcomeAlts); err != nil {
		return 0, respOutcome, err
	}
	r.answered, r.hasAnswer = 0, false
	s := rec.get(respOutcomeAt)
	switch {
	case s == "" && r.outcome != OutcomeUnreachable:
		return 0, respOutcomeAt, errOutcomeAtMissing
	case s != "" && r.outcome == OutcomeUnreachable:
		return 0, respOutcomeAt, errOutcomeAtGiven
	case s != "":
		if r.answered, err = parseTimestamp(s, r.fc.now); err != nil {
			return 0, respOutcomeAt, err
		}
		if r.answered < r.contacted {
			return 0, respOutcomeAt, errOutcomeBefore
		}
		r.hasAnswer = true
	}
	return floorDiv(r.contacted, microsPerDay), -1, nil
}

func (r *respRows) appendTo(rb *array.RecordBuilder) {
	strB(rb, 0).Append(r.campaign)
	strB(rb, 1).Append(r.sub)
	strB(rb, 2).Append(r.contactKey)
	tsB(rb, 3).Append(arrow.Timestamp(r.contacted))
	strB(rb, 4).Append(r.outcome)
	if r.hasAnswer {
		tsB(rb, 5).Append(arrow.Timestamp(r.answered))
	} else {
		tsB(rb, 5).AppendNull()
	}
	strB(rb, 6).Append(r.fc.source)
	tsB(rb, 7).Append(arrow.Timestamp(r.fc.ingestedAt))
}

// withCampaigns gives fc the ids of crm.campaigns when f is the responses
// export: every line of it then names a campaign telcolake created, or is
// rejected with the unknown id as its reason (in the reject report, the
// ingest monitor and GET /v1/ingest/files), rather than committed where no
// campaign's results would ever count it. The campaign row is written
// after its frozen contacts and before its list is exported, so its
// responses always find it. An error here is transient: the file is
// retried.
func withCampaigns(ctx context.Context, tables TableLoader, f *Format, fc fileContext) (fileContext, error) {
	if f != ResponsesFormat {
		return fc, nil
	}
	fc.campaigns = map[string]bool{}
	for b, err := range Scan(ctx, tables, CampaignsTable, Select("campaign_id")) {
		if err != nil {
			return fc, fmt.Errorf("read campaign ids for %s: %w", fc.source, err)
		}
		ids := b.String("campaign_id")
		if err := b.Err(); err != nil {
			return fc, fmt.Errorf("read campaign ids for %s: %w", fc.source, err)
		}
		for i := range b.Len() {
			fc.campaigns[strings.Clone(ids.Value(i))] = true
		}
	}
	return fc, nil
}
