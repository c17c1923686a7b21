package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/localstack"
	"github.com/telcolake/telcolake/models/scoring"
	"github.com/telcolake/telcolake/models/training"
)

// demoUplift closes the campaign loop: the train function fits the uplift
// model on the campaigns that came back (its uplift_only request: the
// older campaign to fit, the newest held out against ranking by churn
// risk); when it is promoted, scoring runs again and the demo shows the
// best-to-contact list and one customer's next-best offer. It returns the
// number of steps that failed.
func demoUplift(ctx context.Context, w io.Writer, st *localstack.Stack, camps []campaign.Campaign) int {
	say := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	if err := runDemoUplift(ctx, w, say, st, camps); err != nil {
		say("who-to-contact step failed: %v", err)
		return 1
	}
	return 0
}

func runDemoUplift(ctx context.Context, w io.Writer, say func(string, ...any), st *localstack.Stack, camps []campaign.Campaign) error {
	if len(camps) < 2 || !contains(st.Functions(), "train") {
		return nil
	}
	t0 := time.Now()
	out, err := st.Invoke(ctx, "train", []byte(`{"uplift_only":true}`))
	if err != nil {
		return fmt.Errorf("train (uplift only): %w", err)
	}
	var res training.Result
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("train (uplift only): unreadable answer: %w", err)
	}
	say("\nWho to contact next: the uplift model, fitted on %s and held out on %s (train function, uplift only, %.1fs)",
		camps[0].ID, camps[len(camps)-1].ID, time.Since(t0).Seconds())
	say("  (AUUC: the area under the Qini curve, the extra customers kept per customer contacted, best first; higher is better)")
	res.Uplift.WriteSummary(w, "  ")
	if !res.Uplift.Promoted {
		return nil
	}
	// One plain invocation: the whole run in one process (the same plan,
	// bucket and commit code as the state machine's steps, one bucket of
	// everyone), which on one small machine costs less than eight bucket
	// processes each opening the lake.
	t1 := time.Now()
	out, err = st.Invoke(ctx, "score", []byte("{}"))
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	var sr scoring.Result
	if err := json.Unmarshal(out, &sr); err != nil {
		return fmt.Errorf("score: unreadable answer: %w", err)
	}
	say("  scored again with it in %.1fs (one invocation of the score function): run %s", time.Since(t1).Seconds(), sr.Run)

	// A warm API looks for a newer run once a minute (ServingCheckEvery);
	// asked for this run by name, it looks at once.
	api := demoClient{ctx: ctx, base: st.HTTPURL}
	var list struct {
		Run   string `json:"run"`
		Count int    `json:"count"`
		Items []struct {
			SubscriberID string  `json:"subscriber_id"`
			Probability  float64 `json:"churn_probability"`
			CLV          float64 `json:"clv"`
			Uplift       float64 `json:"uplift"`
			ContactValue float64 `json:"contact_value"`
			BestOffer    string  `json:"best_offer"`
		} `json:"items"`
	}
	b, err := api.callRun(http.MethodGet, "/v1/lists/"+scoring.ListBestToContact+"?limit=3", "analyst", sr.Run, nil, http.StatusOK)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &list); err != nil || list.Run != sr.Run || len(list.Items) == 0 {
		return fmt.Errorf("the API did not serve run %s's %s list: %.200s", sr.Run, scoring.ListBestToContact, b)
	}
	say("  best-to-contact list (GET /v1/lists/%s, %d customers, ranked by the net value of a contact: churn points the best offer saves × CLV − its cost):", scoring.ListBestToContact, list.Count)
	for i, it := range list.Items {
		say("    %d. %s  churn risk %.1f%%, CLV %.2f: %s %s, net value %.2f a contact", i+1, it.SubscriberID,
			100*it.Probability, it.CLV, it.BestOffer, churnChange(it.Uplift), it.ContactValue)
	}
	id := list.Items[0].SubscriberID
	b, err = api.call(http.MethodGet, "/v1/customers/"+url.PathEscape(id)+"/offers", "agent", nil, http.StatusOK)
	if err != nil {
		return err
	}
	var offers struct {
		Offers []struct {
			Offer   string  `json:"offer"`
			Channel string  `json:"channel"`
			Cost    float64 `json:"cost_per_contact"`
			Uplift  float64 `json:"uplift"`
			Value   float64 `json:"expected_net_value"`
			Model   string  `json:"model"`
		} `json:"offers"`
	}
	if err := json.Unmarshal(b, &offers); err != nil || len(offers.Offers) == 0 {
		return fmt.Errorf("offers of %s: unexpected answer %.200s", id, b)
	}
	say("  next-best offer for %s (GET /v1/customers/%s/offers, as the agent sees it):", id, id)
	for i, o := range offers.Offers {
		model := "its own model"
		if o.Model != "own" {
			model = "the pooled model"
		}
		say("    %d. %s by %s (%.2f a contact): %s, net value %.2f (%s)", i+1, o.Offer, o.Channel, o.Cost,
			churnChange(o.Uplift), o.Value, model)
	}
	return nil
}

// churnChange says in words what an uplift (the drop in churn probability
// a contact brings) does to churn.
func churnChange(uplift float64) string {
	if uplift < 0 {
		return fmt.Sprintf("raises churn by %.1f points", -100*uplift)
	}
	return fmt.Sprintf("lowers churn by %.1f points", 100*uplift)
}
