package lake

import (
	"errors"

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

func (r *respRows) parse(get func(int) string) (int64, int, error) {
	var err error
	if r.campaign, err = parseID(get(respCampaignID)); err != nil {
		return 0, respCampaignID, err
	}
	if r.sub, err = parseID(get(respSubscriberID)); err != nil {
		return 0, respSubscriberID, err
	}
	r.contactKey = r.campaign + "/" + r.sub
	if r.contacted, err = parseTimestamp(get(respContactedAt), r.fc.now); err != nil {
		return 0, respContactedAt, err
	}
	if r.outcome, err = parseEnum(get(respOutcome), outcomes, outcomeAlts); err != nil {
		return 0, respOutcome, err
	}
	r.answered, r.hasAnswer = 0, false
	s := get(respOutcomeAt)
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
