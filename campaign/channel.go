package campaign

import (
	"math"
	"slices"
)

// StratifiedMethod names how Summarise pools uplift over campaigns.
const StratifiedMethod = "stratified by campaign: each campaign's uplift (control churn − treated churn) weighted by its treated customers, " +
	"variance Σ w²·(p_c(1−p_c)/n_c + p_t(1−p_t)/n_t), normal 95% interval; campaigns are never pooled as one table, " +
	"so different control shares and base churn rates do not bias the estimate"

// Summary is what campaigns of one channel (or offer) changed together.
type Summary struct {
	Key       string `json:"key"` // the channel or offer
	Campaigns int    `json:"campaigns"`
	// Incomplete counts campaigns whose horizon has not passed: their
	// churn so far is a lower bound.
	Incomplete     int     `json:"incomplete"`
	Treated        int     `json:"treated"`
	Control        int     `json:"control"`
	Attempts       int     `json:"attempts"`
	Reached        int     `json:"reached"`
	Accepted       int     `json:"accepted"`
	ContactRate    float64 `json:"contact_rate"`    // reached / treated
	AcceptanceRate float64 `json:"acceptance_rate"` // accepted / reached
	// Uplift is the treated-weighted mean of the campaigns' uplifts
	// (StratifiedMethod); Retained = Σ uplift_i × treated_i and
	// RetainedCLV = Σ uplift_i × treated CLV_i, with intervals from the same
	// variance.
	// They are null when no campaign has both arms.
	Uplift      *Interval `json:"uplift"`
	Method      string    `json:"interval_method"`
	Retained    *Interval `json:"retained"`
	RetainedCLV *Interval `json:"retained_clv"`
	Cost        float64   `json:"cost"`
	ROI         *Interval `json:"roi"`
}

// Summarise pools measured campaigns by key (e.g. the channel), in the
// order of Channels for channels and by key otherwise. Campaigns without
// both arms are counted but carry no uplift.
func Summarise(rs []Results, key func(Results) string) []Summary {
	by := map[string]*Summary{}
	type acc struct{ w, wVar, clv, clvVar, est, estCLV float64 }
	accs := map[string]*acc{}
	var keys []string
	for _, r := range rs {
		k := key(r)
		s := by[k]
		if s == nil {
			s = &Summary{Key: k, Method: StratifiedMethod}
			by[k], accs[k] = s, &acc{}
			keys = append(keys, k)
		}
		s.Campaigns++
		if !r.Complete {
			s.Incomplete++
		}
		s.Treated += r.Treated
		s.Control += r.Control
		s.Attempts += r.Attempts
		s.Reached += r.Reached
		s.Accepted += r.Accepted
		s.Cost += r.Cost
		if r.Treated == 0 || r.Control == 0 {
			continue
		}
		pt, pc := float64(r.TreatedChurned)/float64(r.Treated), float64(r.ControlChurned)/float64(r.Control)
		v := pc*(1-pc)/float64(r.Control) + pt*(1-pt)/float64(r.Treated)
		a := accs[k]
		n := float64(r.Treated)
		a.w += n
		a.est += n * (pc - pt)
		a.wVar += n * n * v
		a.estCLV += r.TreatedCLV * (pc - pt)
		a.clvVar += r.TreatedCLV * r.TreatedCLV * v
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(Channels, a), slices.Index(Channels, b)
		if ia < 0 {
			ia = len(Channels)
		}
		if ib < 0 {
			ib = len(Channels)
		}
		if ia != ib {
			return ia - ib
		}
		if a < b {
			return -1
		}
		if a > b {
			return 1
		}
		return 0
	})
	out := make([]Summary, 0, len(keys))
	for _, k := range keys {
		s, a := by[k], accs[k]
		s.ContactRate = ratio(s.Reached, s.Treated)
		s.AcceptanceRate = ratio(s.Accepted, s.Reached)
		s.Cost = math.Round(s.Cost*100) / 100
		if a.w == 0 {
			out = append(out, *s)
			continue
		}
		est, half := a.est/a.w, z95*math.Sqrt(a.wVar)/a.w
		up := Interval{Estimate: est, Lo: est - half, Hi: est + half}
		ret := up.scale(a.w)
		hc := z95 * math.Sqrt(a.clvVar)
		s.Uplift, s.Retained = &up, &ret
		s.RetainedCLV = &Interval{Estimate: a.estCLV, Lo: a.estCLV - hc, Hi: a.estCLV + hc}
		if s.Cost > 0 {
			s.ROI = &Interval{Estimate: (s.RetainedCLV.Estimate - s.Cost) / s.Cost,
				Lo: (s.RetainedCLV.Lo - s.Cost) / s.Cost, Hi: (s.RetainedCLV.Hi - s.Cost) / s.Cost}
		}
		out = append(out, *s)
	}
	return out
}
