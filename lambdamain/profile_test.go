package lambdamain

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestProfiled: with TELCOLAKE_CPUPROFILE set, each invocation writes its
// own non-empty profile and passes the handler's answer and error through;
// without it, nothing is written.
func TestProfiled(t *testing.T) {
	boom := errors.New("boom")
	h := func(_ context.Context, in int) (int, error) {
		if in < 0 {
			return 0, boom
		}
		return 2 * in, nil
	}
	for _, tc := range []struct {
		name  string
		set   bool
		files int
	}{{"unset", false, 0}, {"set", true, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.set {
				t.Setenv(EnvCPUProfile, dir)
			} else {
				t.Setenv(EnvCPUProfile, "")
			}
			p := Profiled("f", slog.New(slog.DiscardHandler), h)
			if got, err := p(context.Background(), 21); got != 42 || err != nil {
				t.Errorf("p(21) = %d, %v; want 42, nil", got, err)
			}
			if _, err := p(context.Background(), -1); !errors.Is(err, boom) {
				t.Errorf("p(-1) error = %v, want %v", err, boom)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "f-*.pprof"))
			if len(files) != tc.files {
				t.Fatalf("%d profiles written (%v), want %d", len(files), files, tc.files)
			}
			for _, f := range files {
				if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
					t.Errorf("profile %s empty or unreadable: %v", f, err)
				}
			}
		})
	}
}
