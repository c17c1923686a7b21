package scoring

import (
	"encoding/json"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// TestParseTask: a scheduled event is a whole run with the default costs;
// a payload's cost rates replace only the fields it names.
func TestParseTask(t *testing.T) {
	tests := []struct {
		ev         string
		wantAction string
		wantList   int
		wantCosts  func(serving.CostModel) bool
	}{
		{`{"version":"0","detail-type":"Scheduled Event","source":"aws.events"}`, "", 0,
			func(c serving.CostModel) bool { return c == serving.DefaultCosts }},
		{`not json`, "", 0, func(c serving.CostModel) bool { return c == serving.DefaultCosts }},
		{`{"list_size":50}`, "", 50, func(c serving.CostModel) bool { return c == serving.DefaultCosts }},
		{`{"costs":{"network_share":0.5}}`, "", 0, func(c serving.CostModel) bool {
			want := serving.DefaultCosts
			want.NetworkShare = 0.5
			return c == want
		}},
		{`{"action":"bucket","bucket":3}`, "bucket", 0, func(c serving.CostModel) bool { return c == serving.DefaultCosts }},
	}
	for _, tc := range tests {
		got := ParseTask(json.RawMessage(tc.ev))
		if got.Action != tc.wantAction || got.ListSize != tc.wantList || got.Costs == nil || !tc.wantCosts(*got.Costs) {
			t.Errorf("ParseTask(%s) = %+v, want action %q, list size %d and the costs asked (defaults elsewhere)", tc.ev, got, tc.wantAction, tc.wantList)
		}
	}
}
