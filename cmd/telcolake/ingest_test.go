package main

import (
	"flag"
	"io"
	"math"
	"runtime/debug"
	"testing"
)

// The ingest command's soft memory limit: the flag when given, else
// GOMEMLIMIT when set, else the default; 0 lifts it, a negative value is
// refused.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	const envLimit = 777 << 20
	for _, tc := range []struct {
		name    string
		args    []string
		env     string
		want    int64
		wantErr bool
	}{
		{"default", nil, "", defaultIngestMemoryMiB << 20, false},
		{"flag", []string{"-memory-limit", "300"}, "", 300 << 20, false},
		{"GOMEMLIMIT without the flag", nil, "777MiB", envLimit, false},
		{"the flag over GOMEMLIMIT", []string{"-memory-limit", "300"}, "777MiB", 300 << 20, false},
		{"none", []string{"-memory-limit", "0"}, "", math.MaxInt64, false},
		{"negative", []string{"-memory-limit", "-5"}, "", envLimit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tc.env)
			debug.SetMemoryLimit(envLimit) // as the runtime does from GOMEMLIMIT
			fl := flag.NewFlagSet("ingest", flag.ContinueOnError)
			fl.SetOutput(io.Discard)
			mib := fl.Int("memory-limit", defaultIngestMemoryMiB, "")
			if err := fl.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := setMemoryLimit(fl, *mib)
			if (err != nil) != tc.wantErr {
				t.Fatalf("setMemoryLimit: %v, want error %v", err, tc.wantErr)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Fatalf("limit %d, want %d", got, tc.want)
			}
		})
	}
}
