package lake

import "testing"

func TestFileSlots(t *testing.T) {
	cases := []struct {
		key     string
		size    int64
		workers int
		want    int64
	}{
		{"exports/cdr/a.csv", 0, 4, 1},           // size unknown
		{"exports/cdr/a.csv", 1 << 20, 4, 1},     // small
		{"exports/cdr/a.csv", 40 << 20, 4, 2},    // 40 MiB
		{"exports/cdr/a.csv", 500 << 20, 4, 4},   // large: runs alone
		{"exports/cdr/a.csv.gz", 31 << 20, 4, 4}, // a million-row day, gzipped
		{"exports/cdr/a.CSV.GZ", 3 << 20, 4, 1},  // 30 MiB expected
		{"exports/cdr/a.csv.gz", 31 << 20, 1, 1}, // never more than the workers
		{"exports/cdr/a.csv", 1 << 30, smallBatchWorkers, smallBatchWorkers},
	}
	for _, c := range cases {
		if got := fileSlots(Object{Key: c.key, Size: c.size}, c.workers); got != c.want {
			t.Errorf("fileSlots(%s, %d bytes, %d workers) = %d, want %d", c.key, c.size, c.workers, got, c.want)
		}
	}
}
