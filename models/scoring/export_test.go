package scoring

import (
	"context"
	"encoding/json"

	"github.com/telcolake/telcolake/insight"
	"github.com/telcolake/telcolake/models/serving"
)

// RunFeatureMonths is, for every data file of crm.scores, its run and the
// feature months its column bounds give ("" when it has none).
func (r *Runner) RunFeatureMonths(ctx context.Context) (map[string][]string, error) {
	files, err := r.runFiles(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, f := range files {
		s := ""
		if f.bounded {
			s = dayTime(f.lo).Format("2006-01") + ".." + dayTime(f.hi).Format("2006-01")
		}
		out[f.run] = append(out[f.run], s)
	}
	return out, nil
}

// SetSampleTarget sets how many subscribers tracking and drift sample
// until the returned func restores it.
func SetSampleTarget(n int) func() {
	old := sampleTarget
	sampleTarget = n
	return func() { sampleTarget = old }
}

// WholeReport is the report of the run meta describes as the whole
// tables give it in one process (wholeReport), as JSON; survival and the
// causes at risk now are meta's own.
func (r *Runner) WholeReport(ctx context.Context, meta *serving.Meta) ([]byte, error) {
	var got insight.Report
	if err := json.Unmarshal(meta.Insight, &got); err != nil {
		return nil, err
	}
	rep, err := r.wholeReport(ctx, meta, meta.Value.LabelHorizonMonths, &got)
	if err != nil {
		return nil, err
	}
	return json.Marshal(rep)
}
