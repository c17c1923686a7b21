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

// demoCampaign runs one retention campaign end to end through the local
// API and ingest: created from the value-at-risk list, its treated arm
// exported for the call centre, the call centre's responses and the
// register after the horizon (both played forward by the generator, with
// its planted effect) dropped into the landing bucket, and the measured
// results. It returns the number of steps that failed.
func demoCampaign(ctx context.Context, w io.Writer, st *localstack.Stack, gen string, man *synth.Manifest, delivered <-chan localstack.Delivery) int {
	say := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	if err := runDemoCampaign(ctx, say, st, gen, man, delivered); err != nil {
		say("campaign check failed: %v", err)
		return 1
	}
	return 0
}

func runDemoCampaign(ctx context.Context, say func(string, ...any), st *localstack.Stack, gen string, man *synth.Manifest, delivered <-chan localstack.Delivery) error {
	secret := func(role string) string {
		for _, k := range demoAPIKeys {
			if k.role == role {
				return k.secret
			}
		}
		return ""
	}
	call := func(method, path, role string, body []byte, want int) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, st.HTTPURL+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-API-Key", secret(role))
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
	spec := campaign.Spec{Name: "Demo retention call", Offer: "discount-10", Channel: campaign.ChannelCall,
		CostPerContact: 3.5, Size: 1000, ControlShare: 0.2, List: "value-at-risk"}
	body, _ := json.Marshal(spec)
	b, err := call(http.MethodPost, "/v1/campaigns", "analyst", body, http.StatusCreated)
	if err != nil {
		return err
	}
	var c campaign.Campaign
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	say("\nRetention campaign (POST /v1/campaigns as analyst): %s from the value-at-risk list: %d treated, %d control (%.0f%%, drawn with seed %d from the id)",
		c.ID, c.Treated, c.Control, 100*c.ControlShare, c.Seed)
	export, err := call(http.MethodGet, "/v1/campaigns/"+c.ID+"/contacts?format=csv", "admin", nil, http.StatusOK)
	if err != nil {
		return err
	}
	say("  export for the call centre (treated arm, admin in clear): %d rows; curl -s -H 'X-API-Key: %s' '%s/v1/campaigns/%s/contacts?format=csv'",
		bytes.Count(export, []byte("\n"))-1, secret("admin"), st.HTTPURL, c.ID)
	all, err := call(http.MethodGet, "/v1/campaigns/"+c.ID+"/contacts?format=csv&arm=all", "analyst", nil, http.StatusOK)
	if err != nil {
		return err
	}
	targets, err := demoTargets(all)
	if err != nil {
		return err
	}
	outs := synth.SimulateCampaign(targets, c.CreatedAt, c.HorizonDays, 16)
	day := c.CreatedAt.Format("2006/01/02")
	respKey := fmt.Sprintf("exports/responses/%s/%s-callcentre.csv", day, c.ID)
	var rb bytes.Buffer
	if err := synth.WriteResponses(&rb, c.ID, outs); err != nil {
		return err
	}
	left := map[string]time.Time{}
	var planted float64
	for _, o := range outs {
		if o.Churned {
			left[o.ID] = o.ChurnDate
		}
		if o.Treated {
			planted += (o.PChurnControl - o.PChurnTreated) / float64(c.Treated)
		}
	}
	regKey, reg, err := laterRegister(gen, man, c.HorizonEnd(), left)
	if err != nil {
		return err
	}
	landing := st.Buckets["LandingBucket"]
	for key, data := range map[string][]byte{respKey: rb.Bytes(), regKey: reg} {
		p := filepath.Join(gen, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		if err := upload(ctx, st.S3.Client(), landing, gen, key); err != nil {
			return err
		}
	}
	for got := 0; got < 2; got++ {
		select {
		case d := <-delivered:
			var er lake.EventResult
			if d.Err != nil || json.Unmarshal(d.Response, &er) != nil || len(er.Files) != 1 {
				return fmt.Errorf("ingest of %s failed: %v", d.Key, d.Err)
			}
			f := er.Files[0]
			say("  ingested %s: %s, %d rows, %d rejected", d.Key, f.Status, f.RowsOK, f.RowsRejected)
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("the responses and the register were not ingested within 2 minutes")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b, err = call(http.MethodGet, "/v1/campaigns/"+c.ID+"/results", "analyst", nil, http.StatusOK)
	if err != nil {
		return err
	}
	var r campaign.Results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	say("  (the responses and the register %d days on were played forward by the generator, which planted persuadables, sure things, lost causes and sleeping dogs)", c.HorizonDays)
	say("  results (GET /v1/campaigns/%s/results): reached %.0f%% of the treated, %.0f%% of them accepted; churn treated %.1f%%, control %.1f%%",
		c.ID, 100*r.ContactRate, 100*r.AcceptanceRate, 100*r.TreatedChurn.Estimate, 100*r.ControlChurn.Estimate)
	covers := "covers"
	if planted < r.Uplift.Lo || planted > r.Uplift.Hi {
		covers = "misses"
	}
	say("  uplift %.1f points (95%% %.1f to %.1f, Newcombe), which %s the planted %.1f: %.0f customers kept (%.0f to %.0f), CLV kept %.0f, cost %.0f, ROI %s",
		100*r.Uplift.Estimate, 100*r.Uplift.Lo, 100*r.Uplift.Hi, covers, 100*planted, r.Retained.Estimate, r.Retained.Lo, r.Retained.Hi,
		r.RetainedCLV.Estimate, r.Cost, roiText(r.ROI))
	say("  open it in the console: %s/console/campaigns/%s", st.HTTPURL, c.ID)
	return nil
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
