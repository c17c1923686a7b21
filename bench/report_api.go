package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// The api section sits between these markers in BENCHMARKS.md, so that a
// run of only the api part replaces it and keeps the other sections.
const (
	apiBegin = "<!-- bench:api:begin -->"
	apiEnd   = "<!-- bench:api:end -->"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.3g×", a.Seconds()/b.Seconds())
}

// apiSection renders the api part's section, markers included.
func apiSection(rep *report) string {
	r := rep.API
	m := rep.Machine
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## API: serving snapshot of %s customers\n\n", apiBegin, thousands(int64(r.Customers)))
	fmt.Fprintf(&b, "The API (`api.New` over `serving.Read`, answering `Server.Handle`) over a generated snapshot of\n"+
		"%s scored customers (seeded generator in `bench/api_data.go`: 10 regions, 6 plans, 7 segments, churn\n"+
		"probability skewed with mean ≈ 5%%, 6 months of history each), written with `serving.Write` to a local\n"+
		"directory store, against DuckDB on the same Parquet file. Measured on %s by `%s`;\n"+
		"one run, every number measured. Machine: %d CPUs (%s), %.1f GiB RAM, %s, %s, DuckDB %s (threads = %d),\n"+
		"telcolake commit %s.\n\n",
		thousands(int64(r.Customers)), rep.Date.Format("2006-01-02 15:04 UTC"), apiReproduce(rep.Opts),
		m.CPUs, m.CPUModel, float64(m.MemKiB)/(1<<20), m.OS, m.GoVersion, r.DuckDBVersion, r.DuckDBThreads, rep.Commit)

	fmt.Fprintf(&b, "### Cold start and memory\n\n| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Parquet file (zstd) | %.1f MB (%s bytes) |\n", float64(r.ParquetBytes)/1e6, thousands(r.ParquetBytes))
	fmt.Fprintf(&b, "| `serving.Read` (pointer, meta, decode Parquet) | %s |\n", r.ReadTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "| `api.New` (index build) | %s |\n", r.NewTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "| **cold start** (read + New) | **%s** |\n", (r.ReadTime + r.NewTime).Round(time.Millisecond))
	fmt.Fprintf(&b, "| Go heap in use after GC, server loaded | %.0f MiB (%.0f MiB before loading) |\n", r.HeapAfterMiB, r.HeapBeforeMiB)
	fmt.Fprintf(&b, "| process RSS, server loaded | %.0f MiB (%.0f MiB before loading) |\n", r.RSSAfterMiB, r.RSSBeforeMiB)
	fmt.Fprintf(&b, "| DuckDB `CREATE TABLE AS` of the file (for comparison) | %s |\n", r.DuckLoadTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "| (generating the rows / `serving.Write`, not part of the API) | %s / %s |\n\n",
		r.GenTime.Round(time.Millisecond), r.WriteTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "RSS includes the bench process itself (the DuckDB library is loaded but unused at that point) and\n"+
		"memory the Go runtime kept after generating and writing the rows (freed with `debug.FreeOSMemory` before loading).\n\n")

	fmt.Fprintf(&b, "### Latency\n\n")
	fmt.Fprintf(&b, "Look-up: `GET /v1/customers/{id}` of random ids (telcolake: %s requests; DuckDB: %s queries\n"+
		"`SELECT * … WHERE subscriber_id = ?`, prepared). Filter: `GET /v1/customers?<filter>&limit=50`, count and first page\n"+
		"in one answer (telcolake: %d repetitions per filter; DuckDB: %d repetitions of `SELECT count(*)` plus\n"+
		"`SELECT * EXCLUDE (history) … ORDER BY <sort> DESC, subscriber_id LIMIT 50`, timed together, every row scanned into\n"+
		"Go values). In-process = `Server.Handle` called directly with an admin key; HTTP = %s.\n\n",
		thousands(int64(r.Lookups)), thousands(int64(r.DuckLookups)), r.Reps, r.DuckReps, r.HTTPServedWith)
	fmt.Fprintf(&b, "| query | matches | telcolake in-process p50 / p99 | telcolake HTTP p50 / p99 | DuckDB Parquet file p50 / p99 | DuckDB in memory p50 / p99 | in-process / DuckDB in memory (p50) |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|\n")
	row := func(name, matches string, a, h, p, mem latency) {
		fmt.Fprintf(&b, "| %s | %s | %s / %s | %s / %s | %s / %s | %s / %s | %s |\n", name, matches,
			ms(a.P50), ms(a.P99), ms(h.P50), ms(h.P99), ms(p.P50), ms(p.P99), ms(mem.P50), ms(mem.P99), ratio(a.P50, mem.P50))
	}
	row("look-up by id", "1", r.InProcess.Lookup, r.HTTP.Lookup, r.DuckParquet.Lookup, r.DuckMemory.Lookup)
	for j, f := range apiFilters {
		row("`"+f.Query+"`", thousands(int64(r.Matches[j])), r.InProcess.Filters[j], r.HTTP.Filters[j], r.DuckParquet.Filters[j], r.DuckMemory.Filters[j])
	}
	row("**all filters**", "", r.InProcess.AllFilters, r.HTTP.AllFilters, r.DuckParquet.AllFilters, r.DuckMemory.AllFilters)
	fmt.Fprintf(&b, "\nCount check: every filter's `count` (telcolake in-process and HTTP) and DuckDB's `count(*)` equal the count\n"+
		"computed independently in the bench over the generated rows (the run fails otherwise).\n\n")

	fmt.Fprintf(&b, "### Targets\n\n| target | measured | met |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| look-up p50 ≤ %s in-process over %s | %s | %s |\n", ms(targetLookupP50), thousands(int64(r.Customers)),
		ms(r.InProcess.Lookup.P50), yesNo(r.InProcess.Lookup.P50 <= targetLookupP50))
	worst := time.Duration(0)
	for _, l := range r.InProcess.Filters {
		worst = max(worst, l.P50)
	}
	fmt.Fprintf(&b, "| filtered count + page p50 ≤ %s in-process over %s (all filters together) | %s | %s |\n", ms(targetFilterP50),
		thousands(int64(r.Customers)), ms(r.InProcess.AllFilters.P50), yesNo(r.InProcess.AllFilters.P50 <= targetFilterP50))
	fmt.Fprintf(&b, "| the same, every filter on its own | worst p50 %s | %s |\n\n", ms(worst), yesNo(worst <= targetFilterP50))
	fmt.Fprintf(&b, "%s\n", apiEnd)
	return b.String()
}

func apiReproduce(o options) string {
	return fmt.Sprintf("cd bench && go run . -parts api -api-customers %d -api-lookups %d -api-reps %d -api-duck-lookups %d -api-duck-reps %d",
		o.apiCustomers, o.apiLookups, o.apiReps, o.apiDuckLookups, o.apiDuckReps)
}

// mergeAPISection puts the api section into the report at path, replacing
// the one between the markers or appending it.
func mergeAPISection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, apiBegin), strings.Index(s, apiEnd)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + strings.TrimSuffix(section, "\n") + s[j+len(apiEnd):]
	case s == "":
		s = "# Benchmarks\n\n" + section
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

func printAPISummary(w io.Writer, r *apiReport) {
	fmt.Fprintf(w, "\nAPI over %s customers: cold start %s (read %s + New %s), heap %.0f MiB, RSS %.0f MiB, Parquet %.1f MB\n",
		thousands(int64(r.Customers)), (r.ReadTime + r.NewTime).Round(time.Millisecond), r.ReadTime.Round(time.Millisecond),
		r.NewTime.Round(time.Millisecond), r.HeapAfterMiB, r.RSSAfterMiB, float64(r.ParquetBytes)/1e6)
	p := func(name string, l latency) { fmt.Fprintf(w, "  %-22s p50 %s  p99 %s\n", name, ms(l.P50), ms(l.P99)) }
	for _, s := range []struct {
		name string
		side apiSide
	}{{"in-process", r.InProcess}, {"HTTP", r.HTTP}, {"DuckDB parquet", r.DuckParquet}, {"DuckDB memory", r.DuckMemory}} {
		p(s.name+" look-up", s.side.Lookup)
		p(s.name+" filters", s.side.AllFilters)
	}
}
