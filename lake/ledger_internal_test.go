package lake

import (
	"testing"

	"github.com/apache/iceberg-go"
)

func TestCompareSequencers(t *testing.T) {
	tests := []struct {
		a, b string
		want int
		ok   bool
	}{
		{"0055AED6DCD90281E5", "0055AED6DCD90281E6", -1, true},
		{"0055AED6DCD90281E6", "0055AED6DCD90281E5", 1, true},
		// Different lengths: the shorter is right-padded with zeros.
		{"0055AED6DCD90281E5", "0055AED6DCD90281E500", 0, true},
		{"0055AED6DCD90281E5", "0055AED6DCD90281E501", -1, true},
		{"0055AED6DCD90281F", "0055AED6DCD90281E5", 1, true},
		{"0055aed6dcd90281e5", "0055AED6DCD90281E6", -1, true},
		{"", "0055AED6DCD90281E5", 0, false},
		{"0055AED6DCD90281E5", "", 0, false},
	}
	for _, tc := range tests {
		got, ok := compareSequencers(tc.a, tc.b)
		if got != tc.want || ok != tc.ok {
			t.Errorf("compareSequencers(%q, %q) = %d, %v; want %d, %v", tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDecideVersion(t *testing.T) {
	committed := ledgerEntry{found: true, etag: "e2", sequencer: "0000000000000020"}
	tests := []struct {
		name      string
		prev      ledgerEntry
		etag, seq string
		want      versionAction
	}{
		{"first version", ledgerEntry{}, "e1", "0000000000000010", actionAppend},
		{"same ETag again", committed, "e2", "0000000000000020", actionDuplicate},
		{"same ETag, other sequencer (a second PUT of the same bytes)", committed, "e2", "0000000000000030", actionDuplicate},
		{"newer version", committed, "e3", "0000000000000030", actionReplace},
		{"older version arriving late", committed, "e1", "0000000000000010", actionSuperseded},
		{"no sequencer on the event: arrival order", committed, "e1", "", actionReplace},
		{"no sequencer in the ledger: arrival order", ledgerEntry{found: true, etag: "e2"}, "e1", "0000000000000010", actionReplace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideVersion(tc.prev, tc.etag, tc.seq); got != tc.want {
				t.Errorf("decideVersion(%+v, %q, %q) = %d, want %d", tc.prev, tc.etag, tc.seq, got, tc.want)
			}
		})
	}
}

func TestPackFilesRoundTrip(t *testing.T) {
	loc := "s3://lake/warehouse/crm/cdr"
	paths := []string{loc + "/data/start_day=2026-10-01/00000-0-a.parquet", loc + "/data/start_day=2026-10-02/00000-1-b.parquet"}
	var files []pathOnly
	for _, p := range paths {
		files = append(files, pathOnly{path: p})
	}
	packed := packFiles(loc, []iceberg.DataFile{files[0], files[1]})
	if packed != "data/start_day=2026-10-01/00000-0-a.parquet\ndata/start_day=2026-10-02/00000-1-b.parquet" {
		t.Errorf("packFiles = %q", packed)
	}
	got := unpackFiles(loc, packed)
	if len(got) != 2 || got[0] != paths[0] || got[1] != paths[1] {
		t.Errorf("unpackFiles = %q, want %q", got, paths)
	}
}
