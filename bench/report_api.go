package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/telcolake/telcolake/models/serving"
)

// The api section sits between these markers in BENCHMARKS.md, so that a
// run of only the api part replaces it and keeps the other sections.
const (
	apiBegin = "<!-- bench:api:begin -->"
	apiEnd   = "<!-- bench:api:end -->"
)

func durations(ds []time.Duration) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Round(time.Millisecond).String())
	}
	return strings.Join(out, ", ")
}

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
	fmt.Fprintf(&b, "The API (`api.New` over `serving.Load`, answering through `lambdahttp.Handler`) over a generated snapshot of\n"+
		"%s scored customers (seeded generator in `bench/api_data.go`: 10 regions, 6 plans, 7 segments, churn\n"+
		"probability skewed with mean ≈ 5%%, 6 months of history each), written with `serving.Write` (columns.bin +\n"+
		"detail.bin) to local files and to S3 on the embedded local stack (versitygw), against DuckDB on a Parquet file of\n"+
		"the same rows. Measured on %s by `%s`;\n"+
		"one run, every number measured. Machine: %d CPUs (%s), %.1f GiB RAM, %s, %s, DuckDB %s (threads = %d),\n"+
		"telcolake commit %s.\n\n",
		thousands(int64(r.Customers)), rep.Date.Format("2006-01-02 15:04 UTC"), apiReproduce(rep.Opts),
		m.CPUs, m.CPUModel, float64(m.MemKiB)/(1<<20), m.OS, m.GoVersion, r.DuckDBVersion, r.DuckDBThreads, rep.Commit)

	fmt.Fprintf(&b, "### Cold start and memory: before / after\n\n")
	fmt.Fprintf(&b, "Before: the Parquet snapshot decoded into rows at every cold start (%s, measured by this bench on\n"+
		"%s at commit %s, in the bench process). After: a fresh process (`bench/apicold`, a binary without DuckDB, as a\n"+
		"new api function instance) runs `serving.Load` (latest.json, meta.json, columns.bin in 8 MiB ranges read in parallel, checksum\n"+
		"and bounds validated, arrays used in place) and `api.New`; then %s first look-ups of random ids (each customer's\n"+
		"detail record read by byte range from detail.bin) and the same look-ups again (from the detail cache).\n\n",
		before.layout, before.date, before.commit, thousands(int64(r.ColdFile.First.N)))
	fmt.Fprintf(&b, "| | before (Parquet, local file) | after, local files | after, S3 on the local stack |\n|---|---:|---:|---:|\n")
	c1, c2 := r.ColdFile, r.ColdS3
	fmt.Fprintf(&b, "| snapshot size | %.1f MB | columns.bin %.1f MB + detail.bin %.1f MB (read on demand) | same |\n",
		before.parquetMB, float64(r.ColumnsBytes)/1e6, float64(r.DetailBytes)/1e6)
	fmt.Fprintf(&b, "| read / `serving.Load` | %s | %s | %s |\n", before.read, c1.Load.Round(time.Millisecond), c2.Load.Round(time.Millisecond))
	fmt.Fprintf(&b, "| `api.New` (index) | %s | %s | %s |\n", before.build, c1.New.Round(time.Millisecond), c2.New.Round(time.Millisecond))
	fmt.Fprintf(&b, "| **cold start** (median of %d fresh processes) | **%s** | **%s** | **%s** |\n", coldRuns, before.cold,
		(c1.Load + c1.New).Round(time.Millisecond), (c2.Load + c2.New).Round(time.Millisecond))
	fmt.Fprintf(&b, "| every run's cold start | – | %s | %s |\n", durations(c1.All), durations(c2.All))
	fmt.Fprintf(&b, "| CPU time (user+sys) of the cold start, every run | – | %s | %s |\n", durations(c1.AllCPU), durations(c2.AllCPU))
	fmt.Fprintf(&b, "| Go heap after GC, loaded | %s | %.0f MiB | %.0f MiB |\n", before.heap, c1.HeapMiB, c2.HeapMiB)
	fmt.Fprintf(&b, "| RSS loaded / peak (VmHWM) of the process | %s | %.0f / %.0f MiB | %.0f / %.0f MiB |\n", before.rss,
		c1.RSSMiB, c1.PeakRSSMiB, c2.RSSMiB, c2.PeakRSSMiB)
	fmt.Fprintf(&b, "| first look-up of a customer p50 / p99 | – | %s / %s | %s / %s |\n", ms(c1.First.P50), ms(c1.First.P99), ms(c2.First.P50), ms(c2.First.P99))
	fmt.Fprintf(&b, "| the same look-up again p50 / p99 | – | %s / %s | %s / %s |\n", ms(c1.Again.P50), ms(c1.Again.P99), ms(c2.Again.P50), ms(c2.Again.P99))
	fmt.Fprintf(&b, "| detail ranges read | – | %d | %d |\n", c1.Reads, c2.Reads)
	fmt.Fprintf(&b, "| machine load average (1 min) at the start | – | %s | %s |\n\n", c1.Load1, c2.Load1)
	fmt.Fprintf(&b, "The machine is shared (2 CPUs): a load average well above 2 means other work competed for the CPUs\n"+
		"during the measurement, and every time above is longer than on an idle machine.\n\n")
	fmt.Fprintf(&b, "What columns.bin holds per customer (`Snapshot.Layout`, the sections of the file, by kind; the rest of a\n"+
		"customer is in detail.bin, read on demand):\n\n%s\n", layoutTable(r.Layout, r.Customers))
	fmt.Fprintf(&b, "Writing the snapshot (not part of the API): generating the rows %s, `serving.Write` to files %s, to the local S3 %s. In this process, for\n"+
		"the latencies below: `serving.Load` %s + `api.New` %s, heap %.0f MiB after (%.0f MiB before). DuckDB `CREATE TABLE AS`\n"+
		"of the %.1f MB Parquet file: %s.\n\n",
		r.GenTime.Round(time.Millisecond), r.WriteTime.Round(time.Millisecond), r.S3WriteTime.Round(time.Millisecond),
		r.ReadTime.Round(time.Millisecond), r.NewTime.Round(time.Millisecond), r.HeapAfterMiB, r.HeapBeforeMiB,
		float64(r.ParquetBytes)/1e6, r.DuckLoadTime.Round(time.Millisecond))

	fmt.Fprintf(&b, "### Latency\n\n")
	fmt.Fprintf(&b, "Look-up: `GET /v1/customers/{id}` of random ids (telcolake: %s requests; DuckDB: %s queries\n"+
		"`SELECT * … WHERE subscriber_id = ?`, prepared). Filter: `GET /v1/customers?<filter>&limit=50`, count and first page\n"+
		"in one answer (telcolake: %d repetitions per filter; DuckDB: %d repetitions of `SELECT count(*)` plus\n"+
		"`SELECT * EXCLUDE (history) … ORDER BY <sort> DESC, subscriber_id LIMIT 50`, timed together, every row scanned into\n"+
		"Go values). In-process = `lambdahttp.Handler(Server)` called directly with an admin key; HTTP = %s.\n\n",
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
	for _, c := range []struct {
		name string
		r    *coldResult
	}{{"local files", r.ColdFile}, {"S3 on the local stack", r.ColdS3}} {
		cold := c.r.Load + c.r.New
		fmt.Fprintf(&b, "| cold start ≤ %s from %s | %s | %s |\n", targetCold, c.name, cold.Round(time.Millisecond), yesNo(cold <= targetCold))
		fmt.Fprintf(&b, "| RSS loaded ≤ %d MB from %s | %.0f MB | %s |\n", targetRSSMB, c.name, c.r.RSSMiB*1.048576, yesNo(c.r.RSSMiB*1.048576 <= targetRSSMB))
		fmt.Fprintf(&b, "| first look-up p50 ≤ %s from %s | %s | %s |\n", ms(targetColdLookupP50), c.name, ms(c.r.First.P50), yesNo(c.r.First.P50 <= targetColdLookupP50))
	}
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

// layoutTable groups columns.bin's sections by kind: the columns, bytes
// per customer, and the total.
func layoutTable(layout []serving.ColumnBytes, customers int) string {
	var b strings.Builder
	type group struct {
		names []string
		bytes int64
	}
	var kinds []string
	by := map[string]*group{}
	var total int64
	for _, l := range layout {
		g := by[l.Kind]
		if g == nil {
			g = &group{}
			by[l.Kind] = g
			kinds = append(kinds, l.Kind)
		}
		g.names = append(g.names, l.Name)
		g.bytes += l.Bytes
		total += l.Bytes
	}
	n := float64(max(1, customers))
	fmt.Fprintf(&b, "| kind | columns | bytes per customer | MB |\n|---|---|---:|---:|\n")
	for _, k := range kinds {
		g := by[k]
		fmt.Fprintf(&b, "| %s | %d: %s | %.1f | %.1f |\n", k, len(g.names), strings.Join(g.names, ", "), float64(g.bytes)/n, float64(g.bytes)/1e6)
	}
	fmt.Fprintf(&b, "| **all** | %d | **%.1f** | **%.1f** |\n", len(layout), float64(total)/n, float64(total)/1e6)
	return b.String()
}

func apiReproduce(o options) string {
	return fmt.Sprintf("cd bench && go run . -parts api -api-customers %d -api-lookups %d -api-reps %d -api-duck-lookups %d -api-duck-reps %d",
		o.apiCustomers, o.apiLookups, o.apiReps, o.apiDuckLookups, o.apiDuckReps)
}

// before is the cold start of the Parquet snapshot this layout replaced,
// as this bench measured it (BENCHMARKS.md of that commit); the code that
// produced it is gone, so it is quoted, not re-measured.
var before = struct {
	layout, date, commit         string
	parquetMB                    float64
	read, build, cold, heap, rss string
}{"one zstd Parquet file of rows", "2026-11-23", "19182f4", 160.3, "8.374s", "753ms", "9.127s", "1299 MiB", "1554 MiB"}

func printAPISummary(w io.Writer, r *apiReport) {
	for _, c := range []struct {
		name string
		r    *coldResult
	}{{"local files", r.ColdFile}, {"local S3", r.ColdS3}} {
		fmt.Fprintf(w, "\nAPI over %s customers from %s: cold start %s (load %s + New %s), heap %.0f MiB, RSS %.0f MiB (peak %.0f); first look-up p50 %s, again %s\n",
			thousands(int64(r.Customers)), c.name, (c.r.Load + c.r.New).Round(time.Millisecond), c.r.Load.Round(time.Millisecond),
			c.r.New.Round(time.Millisecond), c.r.HeapMiB, c.r.RSSMiB, c.r.PeakRSSMiB, ms(c.r.First.P50), ms(c.r.Again.P50))
	}
	p := func(name string, l latency) { fmt.Fprintf(w, "  %-22s p50 %s  p99 %s\n", name, ms(l.P50), ms(l.P99)) }
	for _, s := range []struct {
		name string
		side apiSide
	}{{"in-process", r.InProcess}, {"HTTP", r.HTTP}, {"DuckDB parquet", r.DuckParquet}, {"DuckDB memory", r.DuckMemory}} {
		p(s.name+" look-up", s.side.Lookup)
		p(s.name+" filters", s.side.AllFilters)
	}
}
