package insight

import (
	"cmp"
	"math"
	"slices"
)

// Score tracking: every past scoring run held to what happened since.
// A run scored its customers' probability of leaving within the churn
// model's label horizon (N months after the feature month); once the
// data reach the end of that window, each scored customer either left in
// it or did not. Per run: the AUC of the run's scores against those
// outcomes, and the realised churn rate of each predicted decile (decile 1
// holds the highest scores) beside its mean prediction.

// Scored is one customer of a past run: its probability and whether it
// left within the run's window.
type Scored struct {
	Prob float64
	Left bool
	// Key orders customers of equal probability (a hash of the id, say),
	// so that the deciles do not depend on the order of a run's customers
	// (the samples of parts of them, concatenated, give the whole's);
	// equal keys keep their order.
	Key uint64
}

// Decile is one tenth of a run's customers by predicted probability.
type Decile struct {
	Decile        int     `json:"decile"` // 1: the highest scores
	Customers     int     `json:"customers"`
	MeanPredicted float64 `json:"mean_predicted"`
	Realised      float64 `json:"realised"`
}

// RunTracking is one past run against its outcomes.
type RunTracking struct {
	Run          string `json:"run"`
	FeatureMonth string `json:"feature_month"`
	// WindowEnd is the last day of the label window; Complete is false
	// while the data end before it (the realised rates are then partial:
	// a lower bound).
	WindowEnd     string   `json:"window_end"`
	Complete      bool     `json:"complete"`
	Customers     int      `json:"customers"`
	Left          int      `json:"left"`
	MeanPredicted float64  `json:"mean_predicted"`
	Realised      float64  `json:"realised"`
	AUC           *float64 `json:"auc"` // nil without both outcomes
	Deciles       []Decile `json:"deciles"`
}

// TrackRun computes a run's tracking from its scored customers.
func TrackRun(run, featureMonth, windowEnd string, complete bool, s []Scored) RunTracking {
	rt := RunTracking{Run: run, FeatureMonth: featureMonth, WindowEnd: windowEnd, Complete: complete, Customers: len(s)}
	if len(s) == 0 {
		return rt
	}
	// Highest first, then by key.
	sorted := slices.Clone(s)
	slices.SortStableFunc(sorted, func(a, b Scored) int {
		switch {
		case a.Prob > b.Prob:
			return -1
		case a.Prob < b.Prob:
			return 1
		}
		return cmp.Compare(a.Key, b.Key)
	})
	var sum float64
	for _, x := range sorted {
		sum += x.Prob
		if x.Left {
			rt.Left++
		}
	}
	rt.MeanPredicted = sum / float64(len(s))
	rt.Realised = float64(rt.Left) / float64(len(s))
	for d := range 10 {
		lo, hi := d*len(sorted)/10, (d+1)*len(sorted)/10
		if hi == lo {
			continue
		}
		dec := Decile{Decile: d + 1, Customers: hi - lo}
		left := 0
		for _, x := range sorted[lo:hi] {
			dec.MeanPredicted += x.Prob
			if x.Left {
				left++
			}
		}
		dec.MeanPredicted /= float64(hi - lo)
		dec.Realised = float64(left) / float64(hi-lo)
		rt.Deciles = append(rt.Deciles, dec)
	}
	if auc := aucOf(sorted); !math.IsNaN(auc) {
		rt.AUC = &auc
	}
	return rt
}

// aucOf is the ROC AUC of scores sorted by descending probability: the
// chance a random leaver outscores a random stayer, ties one half.
func aucOf(sorted []Scored) float64 {
	var pos, neg, posAbove, area float64
	for _, x := range sorted {
		if x.Left {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	for i := 0; i < len(sorted); {
		j := i
		var p, n float64
		for ; j < len(sorted) && sorted[j].Prob == sorted[i].Prob; j++ {
			if sorted[j].Left {
				p++
			} else {
				n++
			}
		}
		area += n * (posAbove + p/2)
		posAbove += p
		i = j
	}
	return area / (pos * neg)
}

// FeatureDrift is one feature's PSI from one feature month to the next.
type FeatureDrift struct {
	Feature string  `json:"feature"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	PSI     float64 `json:"psi"`
	Level   string  `json:"level"` // stable, moderate, significant (Level)
}

// Tracking is the tracking report: runs and drift.
type Tracking struct {
	Runs  []RunTracking  `json:"runs"`
	Drift []FeatureDrift `json:"drift"`
	// Thresholds of the drift levels.
	Moderate    float64 `json:"psi_moderate"`
	Significant float64 `json:"psi_significant"`
}
