package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func call(fn, action string, bucket int, wall, cpu float64, rss float64, mem int) invocation {
	return invocation{Function: fn, Action: action, Bucket: bucket, Wall: time.Duration(wall * float64(time.Second)),
		CPU: time.Duration(cpu * float64(time.Second)), RSSMiB: rss, MemoryMB: mem, Timeout: 900 * time.Second, Load: "3.5"}
}

// A stage still going is written with every invocation ended so far, and
// a later flush replaces the section in place, leaving the rest of the
// file alone.
func TestFlushWritesEachInvocation(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	if err := os.WriteFile(out, []byte("# Benchmarks\n\n"+scaleBegin+"\nold\n"+scaleEnd+"\n\n## Next\nkept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &report{Opts: options{subs: 1000, months: 4, cdrEvery: 2, lambdaConcur: 1000}, Work: dir, CDRRows: 4000, CDRFiles: 4, IngestedCDRRows: 2000,
		Stages: []stage{{Name: "ingest", Wall: 9 * time.Second, Calls: []invocation{call("ingest", "cdr-20250601.csv.gz", -1, 4, 2, 100, 1024), call("ingest", "cdr-20250606.csv.gz", -1, 5, 3, 300, 1024)}}}}
	going := stage{Name: "monthly run (still going)", Calls: []invocation{
		call("features", "plan", -1, 1, 0.5, 80, 2048),
		call("features", "bucket", 3, 30, 20, 2100, 2048), // over its MemorySize
	}}
	rep.flushWith(out, time.Now(), going)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		"| monthly run (still going) | features | bucket | 3 | 30.0 | 20.0 | 17.3 | 2100 | 2048 | **no** | yes | 3.5 |",
		"| ingest | cdr files | 2 | 4.0–5.0 | 2.0–3.0 | 3.5–5.2 | 100–300 | 1024 | 900 | yes | yes | 0 |",
		"| ingest | ingest | cdr-20250606.csv.gz | – | 5.0 | 3.0 | 5.2 | 300 | 1024 | yes | yes | 3.5 |",
		"| features | bucket | 1 | 30.0 | 20.0 | 17.3 | 2100 | 2048 | 900 | **no** (1 of 1) | yes | 0 |",
		"**Partial run**",
		"## Next\nkept\n",
		"Ingest: a day of CDRs at 100M subscribers is 100,000,000 rows",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\nold\n") || strings.Count(s, scaleBegin) != 1 {
		t.Errorf("the old section was not replaced:\n%s", s)
	}
	// The stages file keeps the finished stages only, for -from.
	st, err := earlierStages(dir, 5)
	if err != nil || len(st) != 1 || st[0].Name != "ingest" {
		t.Errorf("earlierStages = %v, %v; want the ingest stage alone", st, err)
	}
}

// The projection's figures follow from the per-bucket ones: 8 buckets of
// 125 subscribers become 800,000 at 100M, one wave at 1,000,000 at once;
// the feature buckets' CPU is scaled by -cdr-every.
func TestProjectionFromBuckets(t *testing.T) {
	var calls []invocation
	calls = append(calls, call("features", "plan", -1, 2, 1, 80, 2048))
	for b := range 8 {
		calls = append(calls, call("features", "bucket", b, 50, 17.69, 500, 2048))
	}
	calls = append(calls, call("features", "commit", -1, 3, 1, 80, 2048))
	rep := &report{Opts: options{subs: 1000, cdrEvery: 2, lambdaConcur: 1_000_000}, Stages: []stage{{Name: "monthly run", Calls: calls}}}
	var b strings.Builder
	rep.projection(&b)
	s := b.String()
	// 17.69 s of CPU × 2 ÷ (2048/1769 vCPUs) = 30.6 s per bucket.
	for _, want := range []string{"| monthly run | 17.7 | 31 | 500 | 2048 | 800,000 |", "multiplied by 2"} {
		if !strings.Contains(s, want) {
			t.Errorf("projection lacks %q:\n%s", want, s)
		}
	}
}

// A train (alone) stage's training replaces the monthly run's failed one.
func TestWithTrainAlone(t *testing.T) {
	failed := call("train", "", -1, 1400, 670, 6100, 4096)
	failed.Err = "signal: killed"
	monthly := []invocation{call("features", "plan", -1, 2, 1, 80, 2048), failed}
	again := call("train", "", -1, 300, 280, 2000, 4096)
	for _, tc := range []struct {
		name   string
		stages []stage
		want   []invocation
	}{
		{"no rerun", []stage{{Name: "monthly run", Calls: monthly}}, monthly},
		{"rerun", []stage{{Name: "monthly run", Calls: monthly}, {Name: "train (alone)", Calls: []invocation{again}}}, []invocation{monthly[0], again}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := (&report{Stages: tc.stages}).withTrainAlone(monthly)
			if len(got) != len(tc.want) {
				t.Fatalf("withTrainAlone = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("call %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// The Timeout is judged at Lambda's CPU (CPU s ÷ the vCPUs of the
// MemorySize), not by the wall time here, which a niced run on a shared
// machine spends mostly waiting for a core.
func TestOverTimeoutAtLambdasCPU(t *testing.T) {
	for _, tc := range []struct {
		name      string
		wall, cpu float64
		mem       int
		timeout   time.Duration
		want      bool
	}{
		{"long wall, little CPU", 1000, 100, 1024, 300 * time.Second, false},           // 100 ÷ (1024/1769) = 172.8 s
		{"CPU past the Timeout at 0.58 vCPU", 250, 200, 1024, 300 * time.Second, true}, // 345.5 s
		{"more vCPUs", 250, 500, 3008, 300 * time.Second, false},                       // 500 ÷ 1.70 = 294.1 s
		{"gen: no Timeout", 5000, 5000, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := call("ingest", "x", -1, tc.wall, tc.cpu, 100, tc.mem)
			v.Timeout = tc.timeout
			if got := v.OverTimeout(); got != tc.want {
				t.Errorf("OverTimeout = %v (at Lambda's CPU %v), want %v", got, v.LambdaTime(), tc.want)
			}
		})
	}
}

// A stage's CPU-bound time on idle cores: its CPU ÷ the cores at the low
// end, each process on one core at the high end, the Map's buckets
// min(MaxConcurrency, cores) at once.
func TestStageCPUBound(t *testing.T) {
	monthly := []invocation{call("features", "plan", -1, 9, 2, 80, 2048)}
	for b := range 8 {
		monthly = append(monthly, call("features", "bucket", b, 99, 10, 500, 2048))
	}
	monthly = append(monthly, call("features", "commit", -1, 9, 4, 80, 2048), call("train", "", -1, 99, 30, 900, 4096))
	for _, tc := range []struct {
		name           string
		cores, concur  int
		calls          []invocation
		wantLo, wantHi float64
	}{
		{"sequential", 2, 2, []invocation{call("ingest", "a", -1, 50, 10, 100, 1024), call("ingest", "b", -1, 50, 20, 100, 1024)}, 15, 30},
		{"buckets two at once on 2 cores", 2, 2, monthly, 58, 36 + 80.0/2},
		{"buckets one at a time", 2, 1, monthly, 58, 36 + 80},
		{"8 at once on 4 cores", 4, 8, monthly, 29, 36 + 80.0/4},
		{"-concurrency 2, before the Map stage", 2, -2, monthly, 58, 36 + 80.0/2},
		{"the template's 8, before the Map stage", 2, -8, monthly, 58, 36 + 80.0/2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{Cores: tc.cores, Concurrency: tc.concur}
			switch { // concur < 0: not known from the Map stage yet
			case tc.concur == -2:
				r.Concurrency, r.Opts.concurrency = 0, 2
			case tc.concur < 0:
				r.Concurrency, r.TemplateConcurrency = 0, -tc.concur
			}
			lo, hi := r.stageCPUBound(stage{Calls: tc.calls})
			if math.Abs(lo-tc.wantLo) > 1e-9 || math.Abs(hi-tc.wantHi) > 1e-9 {
				t.Errorf("stageCPUBound = %v, %v; want %v, %v", lo, hi, tc.wantLo, tc.wantHi)
			}
		})
	}
}

// A niced run's section says that its wall times are not the machine's
// and gives the CPU-bound end to end on idle cores, from ingest and with
// gen; a run at nice 0 keeps the upper-bound wording.
func TestSectionOfANicedRun(t *testing.T) {
	monthly := []invocation{call("features", "plan", -1, 9, 2, 80, 2048)}
	for b := range 8 {
		monthly = append(monthly, call("features", "bucket", b, 99, 10, 500, 2048))
	}
	monthly = append(monthly, call("features", "commit", -1, 9, 4, 80, 2048), call("train", "", -1, 99, 30, 900, 4096))
	gen := invocation{Function: "gen", Bucket: -1, Wall: 900 * time.Second, CPU: 120 * time.Second}
	stages := []stage{
		{Name: "gen", Wall: 900 * time.Second, Calls: []invocation{gen}},
		{Name: "ingest", Wall: 100 * time.Second, Calls: []invocation{call("ingest", "a", -1, 50, 10, 100, 1024), call("ingest", "b", -1, 50, 20, 100, 1024)}},
		{Name: "monthly run", Wall: 300 * time.Second, Calls: monthly},
	}
	for _, tc := range []struct {
		name       string
		nice       int
		want, lack []string
	}{
		{"nice 19", 19, []string{
			"this run ran at nice 19",
			"Wall time end to end (gen to the last api request): 1300.0 s (21.7 min",
			// gen 60–120 s, ingest 15–30 s, monthly 58–76 s.
			"CPU-bound end to end on 2 idle cores: **1.2–1.8 min** from ingest to the last api request, 2.2–3.8 min\nwith gen",
			"| ingest | 100.0 | 2 | 50.0 | 30.0 | 15.0–30.0 | 34.6 |",
		}, []string{"so times are upper bounds", "**1300.0 s**"}},
		{"nice 0", 0, []string{"so times are upper bounds", "**1300.0 s**"}, []string{"ran at nice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{Opts: options{subs: 1000, months: 4, lambdaConcur: 1000}, Cores: 2, Concurrency: 2, Nice: tc.nice,
				Stages: stages, Total: 1300 * time.Second, Done: true}
			s := r.section()
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("section lacks %q:\n%s", w, s)
				}
			}
			for _, w := range tc.lack {
				if strings.Contains(s, w) {
					t.Errorf("section has %q:\n%s", w, s)
				}
			}
		})
	}
}
