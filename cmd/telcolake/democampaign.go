package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/telcolake/telcolake/campaign"
	"github.com/telcolake/telcolake/lake"
	"github.com/telcolake/telcolake/localstack"
	"github.com/telcolake/telcolake/synth"
)

// demoClient calls the local HTTP API with the demo keys.
type demoClient struct {
	ctx  context.Context
	base string
}

func demoSecret(role string) string {
	for _, k := range demoAPIKeys {
		if k.role == role {
			return k.secret
		}
	}
	return ""
}

// call sends one request as role and wants status want.
func (a demoClient) call(method, path, role string, body []byte, want int) ([]byte, error) {
	return a.callRun(method, path, role, "", body, want)
}

// callRun is call answered from scoring run run ("": the API's newest):
// the request names it in X-Telcolake-Run, as the API's front does to its
// shards, and an instance that has not seen it reads serving/latest.json
// at once instead of at its next check (ServingCheckEvery).
func (a demoClient) callRun(method, path, role, run string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(a.ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", demoSecret(role))
	if run != "" {
		req.Header.Set("X-Telcolake-Run", run)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s as %s: %s: %.300s", method, path, role, resp.Status, b)
	}
	return b, nil
}

// demoCampaign runs two retention campaigns end to end through the local
// API and ingest: an SMS test on the active customers below the
// churn-risk list (half held back as control), then a call campaign on
// the churn-risk list (half control), its treated arm exported for the
// call centre; both drawn and played forward with seeds from the demo's
// seed and the campaign's name, so every run tells the same story; the responses and the register after the horizon (played
// forward by the generator, whose planted effect follows each customer's
// features) dropped into the landing bucket; and the measured results of
// each. It returns the campaigns (oldest first) and the number of steps
// that failed.
func demoCampaign(ctx context.Context, w io.Writer, st *localstack.Stack, tables lake.TableLoader, gen string, man *synth.Manifest, delivered <-chan localstack.Delivery) ([]campaign.Campaign, int) {
	say := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	cs, err := runDemoCampaign(ctx, say, st, tables, gen, man, delivered)
	if err != nil {
		say("campaign check failed: %v", err)
		return cs, 1
	}
	return cs, 0
}

func runDemoCampaign(ctx context.Context, say func(string, ...any), st *localstack.Stack, tables lake.TableLoader, gen string, man *synth.Manifest, delivered <-chan localstack.Delivery) ([]campaign.Campaign, error) {
	api := demoClient{ctx: ctx, base: st.HTTPURL}
	create := func(spec campaign.Spec) (campaign.Campaign, error) {
		body, _ := json.Marshal(spec)
		b, err := api.call(http.MethodPost, "/v1/campaigns", "analyst", body, http.StatusCreated)
		var c campaign.Campaign
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		return c, err
	}
	// The SMS test takes the active customers below the churn-risk list (a
	// saved group: churn risk under the list's lowest, as shown to 0.001),
	// so the two campaigns do not share customers; it is large, as a test
	// on customers of low risk must be to find anything.
	floor, err := listFloor(api, "churn-risk", "churn_probability")
	if err != nil {
		return nil, err
	}
	gbody, _ := json.Marshal(map[string]any{"name": "Below the churn-risk list",
		"conditions": fmt.Sprintf("status=active&churn_max=%.3f", floor-0.001)})
	b, err := api.call(http.MethodPost, "/v1/groups", "analyst", gbody, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var g struct {
		ID        string `json:"id"`
		Customers int    `json:"customers"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	test, err := create(campaign.Spec{Name: "Demo SMS data bonus test", Offer: "data-bonus", Channel: campaign.ChannelSMS,
		CostPerContact: 0.2, Size: 7000, ControlShare: 0.5, Group: g.ID, ControlSeed: demoControlSeed("Demo SMS data bonus test")})
	if err != nil {
		return nil, err
	}
	call, err := create(campaign.Spec{Name: "Demo retention call", Offer: "discount-10", Channel: campaign.ChannelCall,
		CostPerContact: 3.5, Size: 1000, ControlShare: 0.5, List: "churn-risk", ControlSeed: demoControlSeed("Demo retention call")})
	if err != nil {
		return nil, err
	}
	camps := []campaign.Campaign{test, call}
	say("\nRetention campaigns (POST /v1/campaigns as analyst; control groups drawn at random with a control_seed from the demo's seed and the campaign's name, so every run draws the same arms):")
	say("  %s  SMS, data bonus at 0.20 a contact: %d treated, %d control, from a saved group of the %d active customers below the churn-risk list",
		test.ID, test.Treated, test.Control, g.Customers)
	say("  %s  call, 10%% discount at 3.50 a contact: %d treated, %d control, from the churn-risk list (the riskiest customers)", call.ID, call.Treated, call.Control)
	export, err := api.call(http.MethodGet, "/v1/campaigns/"+call.ID+"/contacts?format=csv", "admin", nil, http.StatusOK)
	if err != nil {
		return camps, err
	}
	say("  export for the call centre (treated arm only, names and numbers in clear for admin): %d rows;\n    curl -s -H 'X-API-Key: %s' '%s/v1/campaigns/%s/contacts?format=csv'",
		bytes.Count(export, []byte("\n"))-1, demoSecret("admin"), st.HTTPURL, call.ID)

	// The generator plays both campaigns forward: responses, and who left
	// within the horizon, from each customer's features of the month scored.
	left := map[string]time.Time{}
	planted := make([]plantedEffect, len(camps))
	var files []demoFile
	horizon := time.Time{}
	for k, c := range camps {
		all, err := api.call(http.MethodGet, "/v1/campaigns/"+c.ID+"/contacts?format=csv&arm=all", "analyst", nil, http.StatusOK)
		if err != nil {
			return camps, err
		}
		targets, err := demoTargets(all)
		if err != nil {
			return camps, err
		}
		if err := addTraits(ctx, tables, c.Run, targets); err != nil {
			return camps, err
		}
		outs := synth.SimulateCampaign(targets, c.CreatedAt, c.HorizonDays, synth.CampaignSeed(demoSeed, c.Name))
		var rb bytes.Buffer
		if err := synth.WriteResponses(&rb, c.ID, outs); err != nil {
			return camps, err
		}
		for _, o := range outs {
			if _, seen := left[o.ID]; o.Churned && !seen {
				left[o.ID] = o.ChurnDate
			}
		}
		planted[k] = plant(outs)
		files = append(files, demoFile{fmt.Sprintf("exports/responses/%s/%s-responses.csv", c.CreatedAt.Format("2006/01/02"), c.ID), rb.Bytes()})
		if e := c.HorizonEnd(); e.After(horizon) {
			horizon = e
		}
	}
	regKey, reg, err := laterRegister(gen, man, horizon, left)
	if err != nil {
		return camps, err
	}
	files = append(files, demoFile{regKey, reg})
	if err := dropFiles(ctx, st, gen, files); err != nil {
		return camps, err
	}
	for got := 0; got < len(files); got++ {
		select {
		case d := <-delivered:
			var er lake.EventResult
			if d.Err != nil || json.Unmarshal(d.Response, &er) != nil || len(er.Files) != 1 {
				return camps, fmt.Errorf("ingest of %s failed: %v", d.Key, d.Err)
			}
			f := er.Files[0]
			say("  ingested %s: %s, %d rows, %d rejected", d.Key, f.Status, f.RowsOK, f.RowsRejected)
		case <-time.After(2 * time.Minute):
			return camps, fmt.Errorf("the responses and the register were not ingested within 2 minutes")
		case <-ctx.Done():
			return camps, ctx.Err()
		}
	}
	say("  (responses and the register %d days on were played forward by the generator, seeded by the demo's seed and each campaign's name, not its date: its planted persuadables, sure things, lost causes and sleeping dogs follow their features)", call.HorizonDays)
	for k, c := range camps {
		pe := planted[k]
		say("  planted in %s: %s; churn %.1f%% without a contact, %.1f%% with one: %.1f points; a two-cell test of %d treated against %d control (two-sided, 5%%) finds that with power %.2f",
			[]string{"the SMS test", "the call campaign"}[k], pe.mix(), 100*pe.control, 100*pe.treated, 100*pe.uplift(),
			c.Treated, c.Control, campaign.Power(pe.control, pe.treated, c.Control, c.Treated))
	}
	for k, c := range camps {
		b, err := api.call(http.MethodGet, "/v1/campaigns/"+c.ID+"/results", "analyst", nil, http.StatusOK)
		if err != nil {
			return camps, err
		}
		var r campaign.Results
		if err := json.Unmarshal(b, &r); err != nil {
			return camps, fmt.Errorf("results: %w", err)
		}
		covers := "covers"
		if up := planted[k].uplift(); up < r.Uplift.Lo || up > r.Uplift.Hi {
			covers = "misses"
		}
		say("  %s, measured (GET /v1/campaigns/%s/results): %.0f%% of the treated reached, %.0f%% of them accepted; churn %.1f%% treated against %.1f%% control",
			[]string{"the SMS test", "the call campaign"}[k], c.ID, 100*r.ContactRate, 100*r.AcceptanceRate, 100*r.TreatedChurn.Estimate, 100*r.ControlChurn.Estimate)
		say("    uplift %.1f points (95%% CI %.1f to %.1f), which %s the planted %.1f: %.0f customers kept (%.0f to %.0f), CLV kept %.0f for a cost of %.0f, ROI %s",
			100*r.Uplift.Estimate, 100*r.Uplift.Lo, 100*r.Uplift.Hi, covers, 100*planted[k].uplift(), r.Retained.Estimate, r.Retained.Lo, r.Retained.Hi,
			r.RetainedCLV.Estimate, r.Cost, roiText(r.ROI))
		say("    %s", verdict(r.Uplift, campaign.Power(planted[k].control, planted[k].treated, c.Control, c.Treated)))
	}
	say("  open them in the console: %s/console/campaigns/%s", st.HTTPURL, call.ID)
	return camps, nil
}

// demoSeed is the demo's generator seed; the campaigns' control draws
// and their play-forward are seeded from it and each campaign's name.
const demoSeed = 1

// demoControlSeed is the control_seed of the demo campaign called name.
func demoControlSeed(name string) uint64 {
	return uint64(synth.CampaignSeed(demoSeed, "control draw: "+name))&campaign.MaxControlSeed | 1
}

// plantedEffect is what the generator planted in one campaign: the mean
// churn probability of its customers over the horizon without a contact
// and, for a contact attempt, with one (averaged over reach and
// acceptance), and how many customers are of each uplift kind.
type plantedEffect struct {
	control, treated float64
	kinds            map[string]int
	n                int
}

func plant(outs []synth.CampaignOutcome) plantedEffect {
	pe := plantedEffect{kinds: map[string]int{}, n: len(outs)}
	for _, o := range outs {
		pe.control += o.PChurnControl / float64(len(outs))
		pe.treated += o.PChurnTreated / float64(len(outs))
		pe.kinds[o.Kind]++
	}
	return pe
}

// uplift is the planted drop in churn a contact attempt brings.
func (pe plantedEffect) uplift() float64 { return pe.control - pe.treated }

// mix says the kinds' shares.
func (pe plantedEffect) mix() string {
	var parts []string
	for _, k := range []struct{ kind, say string }{{synth.Persuadable, "persuadable"}, {synth.SureThing, "sure things"},
		{synth.LostCause, "lost causes"}, {synth.SleepingDog, "sleeping dogs"}} {
		parts = append(parts, fmt.Sprintf("%.0f%% %s", 100*float64(pe.kinds[k.kind])/float64(max(1, pe.n)), k.say))
	}
	return strings.Join(parts, ", ")
}

// verdict says what a campaign's measured uplift lets one conclude, given
// the power its test had against the planted effect.
func verdict(up campaign.Interval, power float64) string {
	switch {
	case up.Lo > 0:
		return "→ the interval lies above 0: the contact kept customers"
	case up.Hi < 0:
		return "→ the interval lies below 0: the contact drove customers away"
	case power < 0.5:
		return fmt.Sprintf("→ the interval includes 0: no conclusion; with power %.2f against the planted effect, a test of this size usually cannot tell", power)
	}
	return fmt.Sprintf("→ the interval includes 0: no effect found, though the test had power %.2f against the planted effect", power)
}

// demoFile is an export the demo drops into the landing bucket.
type demoFile struct {
	key  string
	data []byte
}

// dropFiles writes the files beside the generated exports and uploads them.
func dropFiles(ctx context.Context, st *localstack.Stack, gen string, files []demoFile) error {
	landing := st.Buckets["LandingBucket"]
	for _, f := range files {
		p := filepath.Join(gen, filepath.FromSlash(f.key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
		if err := upload(ctx, st.S3.Client(), landing, gen, f.key); err != nil {
			return err
		}
	}
	return nil
}

// listFloor is the lowest value of column on a list of the current run.
func listFloor(api demoClient, list, column string) (float64, error) {
	b, err := api.call(http.MethodGet, "/v1/lists/"+list+"?format=csv", "analyst", nil, http.StatusOK)
	if err != nil {
		return 0, err
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) < 2 {
		return 0, fmt.Errorf("list %s: %v (%d lines)", list, err, len(recs))
	}
	i := slices.Index(recs[0], column)
	if i < 0 {
		return 0, fmt.Errorf("list %s: no %s column in %v", list, column, recs[0])
	}
	floor := 0.0
	for k, r := range recs[1:] {
		v, err := strconv.ParseFloat(r[i], 64)
		if err != nil {
			return 0, fmt.Errorf("list %s: %s %q", list, column, r[i])
		}
		if k == 0 || v < floor {
			floor = v
		}
	}
	return floor, nil
}

// addTraits gives each target the features of its month in crm.features
// that the scoring run read (the newest month built before run), which
// the generator's planted effect follows.
func addTraits(ctx context.Context, tables lake.TableLoader, run string, targets []synth.CampaignTarget) error {
	at := map[string]int{}
	for i, t := range targets {
		at[t.ID] = i
	}
	newest := int32(-1)
	traits := map[int32]map[string]*synth.Traits{}
	cols := lake.Select("month", "subscriber_id", "plan", "tenure_months", "care_calls", "months_in_arrears", "voice_minutes_trend")
	for rec, err := range lake.Scan(ctx, tables, lake.FeaturesTable, cols) {
		if err != nil {
			return fmt.Errorf("campaign traits: %w", err)
		}
		month, ids, plan := rec.Date("month"), rec.String("subscriber_id"), rec.String("plan")
		tenure, care, arrears, trend := rec.Number("tenure_months").Value, rec.Number("care_calls").Value, rec.Number("months_in_arrears").Value, rec.Number("voice_minutes_trend").Value
		if err := rec.Err(); err != nil {
			return fmt.Errorf("campaign traits: %w", err)
		}
		for i := range rec.Len() {
			if _, ok := at[ids.Value(i)]; !ok {
				continue
			}
			m := month.Value(i)
			if traits[m] == nil {
				traits[m] = map[string]*synth.Traits{}
			}
			newest = max(newest, m)
			traits[m][strings.Clone(ids.Value(i))] = &synth.Traits{Plan: strings.Clone(plan.Value(i)), TenureMonths: zeroIfNaN(tenure(i)),
				CareCalls: zeroIfNaN(care(i)), MonthsInArrears: zeroIfNaN(arrears(i)), VoiceMinutesTrend: zeroIfNaN(trend(i))}
		}
	}
	for id, i := range at {
		targets[i].Traits = traits[newest][id]
	}
	return nil
}

func zeroIfNaN(v float64) float64 {
	if v != v {
		return 0
	}
	return v
}

func roiText(iv *campaign.Interval) string {
	if iv == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f (%.1f to %.1f)", iv.Estimate, iv.Lo, iv.Hi)
}

// demoTargets reads the arms and frozen risks of a contacts export.
func demoTargets(export []byte) ([]synth.CampaignTarget, error) {
	recs, err := csv.NewReader(bytes.NewReader(export)).ReadAll()
	if err != nil || len(recs) < 2 {
		return nil, fmt.Errorf("contacts export: %v (%d lines)", err, len(recs))
	}
	h := recs[0]
	iID, iArm, iP := slices.Index(h, "subscriber_id"), slices.Index(h, "arm"), slices.Index(h, "churn_probability")
	if iID < 0 || iArm < 0 || iP < 0 {
		return nil, fmt.Errorf("contacts export: header %v", h)
	}
	var out []synth.CampaignTarget
	for _, r := range recs[1:] {
		p, err := strconv.ParseFloat(r[iP], 64)
		if err != nil {
			return nil, fmt.Errorf("contacts export: churn_probability %q", r[iP])
		}
		out = append(out, synth.CampaignTarget{ID: r[iID], Treated: r[iArm] == campaign.ArmTreated, Risk: p})
	}
	return out, nil
}

// laterRegister writes the register of day from the last generated
// register export, with the customers of left deactivated.
func laterRegister(gen string, man *synth.Manifest, day time.Time, left map[string]time.Time) (string, []byte, error) {
	last := ""
	for _, f := range man.Files {
		if f.Table == synth.TableSubscribers && f.Key > last {
			last = f.Key
		}
	}
	if last == "" {
		return "", nil, fmt.Errorf("no register export was generated")
	}
	f, err := os.Open(filepath.Join(gen, filepath.FromSlash(last)))
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(last, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", last, err)
		}
		in = zr
	}
	var out bytes.Buffer
	if err := synth.RegisterAfter(&out, in, day, left); err != nil {
		return "", nil, err
	}
	key := fmt.Sprintf("exports/subscribers/%s/subscribers-%s-after-campaign.csv", day.Format("2006/01/02"), day.Format("20060102"))
	return key, out.Bytes(), nil
}
