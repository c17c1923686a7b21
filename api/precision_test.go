package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/models/serving"
)

// TestPrecision: the JSON and CSV answers carry a customer's figures at
// the precision people read (probability to 0.001, money to the cent,
// minutes and MB to 0.1), whatever the snapshot holds.
func TestPrecision(t *testing.T) {
	meta, cs := genSnapshot(7, 50, true)
	c := &cs[0]
	c.Probability, c.VoiceMinutes, c.DataMB = 0.7652522004117405, 8.566666666666666, 447.138671875
	c.History[0].VoiceMinutes, c.History[0].DataMB, c.History[0].AmountPaid = 8.566666666666666, 447.138671875, 12.3456
	s, err := newServer(meta, cs, nil, Config{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}
	var one struct {
		Customer struct {
			ChurnProbability float64         `json:"churn_probability"`
			VoiceMinutes     float64         `json:"voice_minutes"`
			DataMB           float64         `json:"data_mb"`
			History          []serving.Month `json:"history"`
		} `json:"customer"`
	}
	resp := f.get(t, RoleAdmin, "/v1/customers/"+c.SubscriberID)
	if err := json.Unmarshal([]byte(resp.Body), &one); err != nil {
		t.Fatal(err)
	}
	got := one.Customer
	if got.ChurnProbability != 0.765 || got.VoiceMinutes != 8.6 || got.DataMB != 447.1 {
		t.Errorf("360°: probability %v, minutes %v, MB %v; want 0.765, 8.6, 447.1", got.ChurnProbability, got.VoiceMinutes, got.DataMB)
	}
	if h := got.History[0]; h.VoiceMinutes != 8.6 || h.DataMB != 447.1 || h.AmountPaid != 12.35 {
		t.Errorf("history: %+v, want 8.6 minutes, 447.1 MB, 12.35 paid", h)
	}
	for _, raw := range []string{"0.7652522004117405", "8.566666666666666", "447.138671875"} {
		if strings.Contains(resp.Body, raw) {
			t.Errorf("360° JSON carries %s", raw)
		}
	}
	csvResp := f.get(t, RoleAdmin, "/v1/customers?format=csv")
	header, rows := readCSV(t, csvResp.Body)
	i := slices.IndexFunc(rows, func(r []string) bool { return r[0] == c.SubscriberID })
	if i < 0 {
		t.Fatal("customer not in the CSV")
	}
	for col, want := range map[string]string{"churn_probability": "0.765", "voice_minutes": "8.6", "data_mb": "447.1"} {
		if got := rows[i][slices.Index(header, col)]; got != want {
			t.Errorf("CSV %s = %s, want %s", col, got, want)
		}
	}
	if page := f.get(t, RoleAdmin, "/v1/customers?limit=100"); strings.Contains(page.Body, "0.7652522004117405") {
		t.Error("the page JSON carries the full probability")
	}
}
