package chaos_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/chaos"
	"github.com/telcolake/telcolake/lake"
)

// TestCheckFindsViolations sabotages a lake in the ways a crash could and
// checks that Check says so: the chaos rounds prove something only if
// their check can fail.
func TestCheckFindsViolations(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns ingest processes")
	}
	ctx := context.Background()
	tests := []struct {
		name     string
		sabotage func(t *testing.T, l *chaos.Lake, files []chaos.File) []chaos.File
		want     string // in the error; empty for none
	}{
		{"clean", func(t *testing.T, l *chaos.Lake, files []chaos.File) []chaos.File { return files }, ""},
		{"a row missing", func(t *testing.T, l *chaos.Lake, files []chaos.File) []chaos.File {
			files[0].Rows++
			return files
		}, "want 0 or 51"},
		{"a file never ingested", func(t *testing.T, l *chaos.Lake, files []chaos.File) []chaos.File {
			f, err := l.Drop("exports/cdr/2026/10/09/never.csv", cdr("N", 5), 5)
			if err != nil {
				t.Fatal(err)
			}
			return append(files, f)
		}, "want one committed"},
		{"a referenced data file deleted", func(t *testing.T, l *chaos.Lake, files []chaos.File) []chaos.File {
			removeOne(t, filepath.Join(l.Dir, "warehouse", "crm", "cdr", "data"))
			return files
		}, "unreadable"},
		{"a stray data file (orphan) is fine", func(t *testing.T, l *chaos.Lake, files []chaos.File) []chaos.File {
			dir := filepath.Join(l.Dir, "warehouse", "crm", "cdr", "data", "stray")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "half-written.parquet"), []byte("PAR1"), 0o644); err != nil {
				t.Fatal(err)
			}
			return files
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLake(t, "")
			var files []chaos.File
			for i, key := range []string{"exports/cdr/2026/10/01/a.csv"} {
				f, err := l.Drop(key, cdr(string(rune('A'+i)), 50), 50)
				if err != nil {
					t.Fatal(err)
				}
				if out, err := l.Deliver(ctx, f, chaos.Kill{}); err != nil || out.Err != "" || out.Result.Files[0].Status != lake.StatusCommitted {
					t.Fatalf("deliver %s: %+v, %v", key, out, err)
				}
				files = append(files, f)
			}
			found, err := l.Check(ctx, tc.sabotage(t, l, files))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check: %v, want no violation", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Check: %v, want a violation mentioning %q", err, tc.want)
			}
			if strings.Contains(tc.name, "stray") && found.DataOrphans != 1 {
				t.Errorf("%d data orphans, want the stray file", found.DataOrphans)
			}
		})
	}
}

// removeOne deletes one file under dir.
func removeOne(t *testing.T, dir string) {
	t.Helper()
	var victim string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && victim == "" {
			victim = p
		}
		return err
	})
	if victim == "" {
		t.Fatal("no data file to remove")
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
}
