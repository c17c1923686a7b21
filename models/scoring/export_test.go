package scoring

import "context"

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
