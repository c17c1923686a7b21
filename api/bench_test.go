package api

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// The benchmarks run over a generated snapshot of a million customers
// (without history, to spare memory; history does not enter filters), built
// once. Besides ns/op they report the median of the timed operations as
// p50-ns, the figure the targets are stated in (look-up ≤ 1 ms, count and
// first page ≤ 5 ms).

const benchCustomers = 1_000_000

var bench struct {
	once sync.Once
	s    *Server
	ids  []string
}

func benchServer(b *testing.B) *Server {
	b.Helper()
	bench.once.Do(func() {
		meta, cs := genSnapshot(42, benchCustomers, false)
		s, err := newServer(meta, cs, nil, Config{Keys: testKeys()})
		if err != nil {
			panic(err)
		}
		bench.s = s
		for i := 0; i < len(cs); i += len(cs) / 1000 {
			bench.ids = append(bench.ids, cs[i].SubscriberID)
		}
	})
	return bench.s
}

// timed runs fn b.N times and reports the median duration.
func timed(b *testing.B, fn func(i int)) {
	b.Helper()
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		fn(i)
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
}

func mustOK(b *testing.B, resp response) {
	if resp.StatusCode != 200 {
		b.Fatalf("status %d: %.300s", resp.StatusCode, resp.Body)
	}
}

func BenchmarkLookup(b *testing.B) {
	s := benchServer(b)
	evs := make([]*http.Request, len(bench.ids))
	for i, id := range bench.ids {
		evs[i] = event("GET", "/v1/customers/"+id, "X-API-Key", agentSecret)
	}
	timed(b, func(i int) {
		mustOK(b, record(s, evs[i%len(evs)]))
	})
}

// BenchmarkFilter is count + first page through ServeHTTP (key check, query
// validation, filter pass, top-k, JSON of 50 items).
func BenchmarkFilter(b *testing.B) {
	s := benchServer(b)
	for _, q := range []string{
		"status=active&region=North,South&churn_min=0.3&value_min=20&tenure_max=60",
		"segment=1,2&plan=PLUS20,MAX40&lifecycle=established,loyal&arrears_min=0.01&sort=-value_at_risk",
		"churn_min=0.5&care_calls_min=1&roaming_min=1&minutes_max=400&sort=-clv",
		// Six conditions: three OR lists, a negation, two ranges (bench's api part's case).
		"region=North,South,Central&not.plan=PLUS20&occupation=teacher,engineer,retired&income_band=C,D&churn_min=0.02&tenure_max=36",
		"", // no condition: top-k over every customer
	} {
		name := q
		if name == "" {
			name = "all"
		}
		b.Run(name, func(b *testing.B) {
			ev := event("GET", "/v1/customers?"+q+"&limit=50", "X-API-Key", analystSecret)
			timed(b, func(int) {
				mustOK(b, record(s, ev))
			})
		})
	}
}

// BenchmarkFilterCore is the index alone: the matching pass and the top-k
// heap, without HTTP, auth or JSON.
func BenchmarkFilterCore(b *testing.B) {
	s := benchServer(b)
	q := query{"status": {"active"}, "region": {"North,South"}, "churn_min": {"0.3"}, "value_min": {"20"}, "tenure_max": {"60"}}
	f, err := s.parseFilter(q)
	if err != nil {
		b.Fatal(err)
	}
	var n int
	timed(b, func(int) {
		sel, buf := s.ix.match(f.preds)
		n = len(sel) + len(s.ix.top(sel, f.order, nil, 51))
		s.ix.release(buf)
	})
	b.ReportMetric(float64(n), "matches+page")
}

// BenchmarkNew is the index build over an open snapshot of a million
// customers (its columns are used in place).
func BenchmarkNew(b *testing.B) {
	s := benchServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := New(s.snap, nil, Config{Keys: testKeys()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCube is GET /v1/cube through ServeHTTP over a million customers:
// 1, 2 and 3 dimensions under a filter, and 3 over everyone.
func BenchmarkCube(b *testing.B) {
	s := benchServer(b)
	for _, q := range []string{
		"dims=region&status=active&churn_min=0.3",
		"dims=region,plan&status=active&churn_min=0.3",
		"dims=region,plan,segment&status=active&churn_min=0.3",
		"dims=region,plan,segment",
	} {
		b.Run(q, func(b *testing.B) {
			ev := event("GET", "/v1/cube?"+q, "X-API-Key", analystSecret)
			timed(b, func(int) {
				mustOK(b, record(s, ev))
			})
		})
	}
}
