package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
