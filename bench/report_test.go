package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMergeSection: a part's run replaces its own section and keeps every
// other byte of the report (the ingest part used to rewrite the whole file).
func TestMergeSection(t *testing.T) {
	const others = "<!-- queue:begin -->\n## Queue\nkept\n<!-- queue:end -->\n"
	tests := []struct {
		name, old, section, text, want string
	}{
		{"replaces between its markers", "<!-- bench:head:begin -->\n# old\n<!-- bench:head:end -->\n\n<!-- bench:ingest:begin -->\nold figures\n<!-- bench:ingest:end -->\n\n" + others,
			sectionIngest, "new figures\n",
			"<!-- bench:head:begin -->\n# old\n<!-- bench:head:end -->\n\n<!-- bench:ingest:begin -->\nnew figures\n<!-- bench:ingest:end -->\n\n" + others},
		{"appends a section not there yet", others, sectionTrain, "## Training\n",
			others + "\n<!-- bench:train:begin -->\n## Training\n<!-- bench:train:end -->\n"},
		{"puts a new head first", others, sectionHead, "# Benchmarks\n",
			"<!-- bench:head:begin -->\n# Benchmarks\n<!-- bench:head:end -->\n\n" + others},
		{"starts an empty file", "", sectionIngest, "x\n", "<!-- bench:ingest:begin -->\nx\n<!-- bench:ingest:end -->\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
			if tt.old != "" {
				if err := os.WriteFile(path, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := mergeSection(path, tt.section, tt.text); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("mergeSection(%q) wrote\n%q\nwant\n%q", tt.section, got, tt.want)
			}
		})
	}
}

// TestWriteReportKeepsOtherSections: writing the ingest part's report
// leaves the sections of other parts in place.
func TestWriteReportKeepsOtherSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	const queue = "<!-- queue:begin -->\n## Many small files\n| files/s | 9.1 |\n<!-- queue:end -->\n"
	if err := os.WriteFile(path, []byte(queue), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &report{Opts: options{subs: 10, months: 1, runs: 1, parts: []string{partIngest}}, Ingest: &ingestReport{
		Telcolake: []runResult{{Wall: 2e9}}, DuckDB: []runResult{{Wall: 1e9}}, Load: "1.00 1.00 1.00", LoadEnd: "2.00 1.00 1.00"}}
	for range 2 { // twice: the second run replaces the first's sections
		if err := writeReport(path, rep); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{queue, "<!-- bench:ingest:begin -->", "telcolake / DuckDB wall time: **2.00×**", "load average 1.00 1.00 1.00 at the start"} {
		if n := strings.Count(s, want); n != 1 {
			t.Errorf("report holds %q %d times, want once:\n%s", want, n, s)
		}
	}
}

// With DuckDB's runs of the same job the ingest section gives the ratio to
// them besides the one to the plain conversion, a row for them, and their
// columns in every run's line; the target stays the plain ratio.
func TestIngestReportSameJob(t *testing.T) {
	run := func(wall, cpu float64) runResult {
		return runResult{Wall: time.Duration(wall * 1e9), CPU: time.Duration(cpu * 1e9), MaxRSSKiB: 400 << 10, OutBytes: 1e6}
	}
	for _, tc := range []struct {
		name    string
		job     []runResult
		want    []string
		notWant []string
	}{
		{"with the same job", []runResult{run(16, 20), run(15, 21)},
			[]string{"telcolake / DuckDB wall time: **1.25×**", "the same job (numbers hashed, files per day × bucket): **0.50×**",
				"| DuckDB, the same job: number hashed, Parquet per day × bucket | 15.50 |", "| 1 | 7.50 | 14.00 |", "| 16.00 | 20.00 | 400 | 1.0 | 0.70× |",
				"| 2 | 8.00 | 14.00 |", "| 15.00 | 21.00 | 400 | 1.0 | 0.67× |", "PARTITION_BY (start_day, bucket)", "| ingest wall time ≤ 0.8× DuckDB's | 1.25× | **no** |"},
			nil},
		{"without (an older run)", nil,
			[]string{"telcolake / DuckDB wall time: **1.25×**", "| 1 | 7.50 | 14.00 | 400 | 1.0 | 6.00 | 12.00 | 400 | 1.0 | 1.17× |\n"},
			[]string{"same job (numbers", "DuckDB, the same job", "PARTITION_BY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
			rep := &report{Opts: options{subs: 10, months: 1, runs: 2, parts: []string{partIngest}}, Ingest: &ingestReport{
				Telcolake: []runResult{run(7.5, 14), run(8, 14)}, DuckDB: []runResult{run(6, 12), run(6.4, 12)}, DuckDBJob: tc.job,
				Load: "1.00 1.00 1.00", LoadEnd: "1.00 1.00 1.00"}}
			if err := writeReport(path, rep); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("report lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(got), w) {
					t.Errorf("report holds %q", w)
				}
			}
		})
	}
}
