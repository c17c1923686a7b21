package api

import (
	"context"
	"slices"
	"time"

	"github.com/telcolake/telcolake/insight"
)

// MemSources is Sources (with FactSources) in memory, for tests of the
// API and of the console that serves it: the model runs as given, the
// ingest log filtered and ordered as the lake answers it, the stored
// cubes by FactSpec.Name (an empty one for any other), and Err, when set,
// returned by every call (a fault hook).
type MemSources struct {
	Runs  []ModelRun
	Files []IngestFile
	Facts map[string]*insight.Fact
	Err   error
}

// Fact returns the stored cube of spec, at snapshot 42 (0 if absent).
func (f *MemSources) Fact(_ context.Context, spec insight.FactSpec) (*insight.Fact, int64, error) {
	if x, ok := f.Facts[spec.Name]; ok {
		return x, 42, f.Err
	}
	return insight.NewFact(spec), 0, f.Err
}

// ModelRuns returns Runs.
func (f *MemSources) ModelRuns(context.Context) ([]ModelRun, error) { return f.Runs, f.Err }

// IngestFiles returns the files of q's days, status and table after its
// cursor, newest first, at most q.Limit of them.
func (f *MemSources) IngestFiles(_ context.Context, q IngestQuery) ([]IngestFile, error) {
	var out []IngestFile
	for _, x := range f.Files {
		day := x.StartedAt.UTC().Truncate(24 * time.Hour)
		if (q.Status == "" || x.Status == q.Status) && (q.Table == "" || x.Table != nil && *x.Table == q.Table) &&
			!day.Before(q.From) && !day.After(q.To) && (q.After == nil || compareIngest(x.Key(), *q.After) > 0) {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b IngestFile) int { return compareIngest(a.Key(), b.Key()) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, f.Err
}
