package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/telcolake/telcolake/lambdahttp"
)

// TestConsoleSpeed measures, over TELCOLAKE_CONSOLE_SPEED customers (e.g.
// 1000000; skipped when unset), the live count's round trip through a
// gateway that does what the local one does per request (lambdahttp.Event →
// lambdahttp.Handler → lambdahttp.Write; without the local stack's hop to
// the function process), and the time from navigation to the search page's
// table, to the 360° page's figures and to the cube page's heatmap in
// headless chromium (and the
// browser's own first contentful paint). It reports figures, and writes
// them as JSON to TELCOLAKE_CONSOLE_SPEED_OUT when set (make bench's
// console part reads them); it asserts only that every answer is right.
func TestConsoleSpeed(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TELCOLAKE_CONSOLE_SPEED"))
	if n <= 0 {
		t.Skip("set TELCOLAKE_CONSOLE_SPEED=<customers> to measure")
	}
	t0 := time.Now()
	f := newFixtureN(t, n)
	t.Logf("%d customers generated and loaded in %.1fs", n, time.Since(t0).Seconds())
	f.console.cfg.Now, f.console.ss.now = time.Now, time.Now
	mux := http.NewServeMux()
	mux.Handle("/console/", f.console)
	mux.Handle("/", f.api)
	fn := lambdahttp.Handler(mux)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := lambdahttp.Event(r, "ANY /{proxy+}", nil, 6<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		resp, _ := fn(r.Context(), ev)
		lambdahttp.Write(w, resp)
	}))
	defer gw.Close()

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(u string) (int, string) {
		resp, err := c.Get(gw.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, page := get("/console/signin")
	tok := tokenRE.FindStringSubmatch(page)[1]
	resp, err := c.PostForm(gw.URL+"/console/signin", url.Values{"csrf": {tok}, "user": {"ana"}, "password": {password("ana")}})
	if err != nil || resp.Request.URL.Path != "/console/search" {
		t.Fatalf("sign-in: %v", err)
	}
	resp.Body.Close()

	var ds []time.Duration
	regions := []string{"North", "South", "East", "North,South"}
	for i := 0; i < 300; i++ {
		q := fmt.Sprintf("region=%s&churn_min=0.%d", url.QueryEscape(regions[i%4]), 1+i%9)
		t1 := time.Now()
		status, body := get("/console/data/customers?" + q)
		ds = append(ds, time.Since(t1))
		if status != 200 || !strings.Contains(body, `"count":`) {
			t.Fatalf("%s: %d %.100s", q, status, body)
		}
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	t.Logf("live count round trip over HTTP, %d requests, two conditions: p50 %.2f ms, p99 %.2f ms",
		len(ds), ms(ds[len(ds)/2]), ms(ds[len(ds)*99/100]))
	out := speedFigures{Customers: n, LoadSeconds: time.Since(t0).Seconds(), CountRequests: len(ds),
		CountP50: ms(ds[len(ds)/2]), CountP99: ms(ds[len(ds)*99/100])}
	defer func() {
		if path := os.Getenv("TELCOLAKE_CONSOLE_SPEED_OUT"); path != "" {
			b, _ := json.MarshalIndent(out, "", " ")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Error(err)
			}
		}
	}()

	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Log("no chromium: page render times not measured")
		return
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	err = chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/console/signin"),
		chromedp.SendKeys("input[name=user]", "ana"), chromedp.SendKeys("input[name=password]", password("ana")),
		chromedp.Submit("#signin"), chromedp.WaitVisible("#signout"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pg := range []struct{ what, path, sel string }{
		{"search page (two conditions, 25 rows)", "/console/search?region=North&churn_min=0.5", "#results"},
		{"360° page", "/console/customers/" + f.customers[n/2].SubscriberID, "#churn"},
		{"cube page (two dimensions, a condition)", "/console/cube?dims=region,plan&churn_min=0.5", "#cube-heat"},
	} {
		var ds []time.Duration
		var fcp []float64
		for i := 0; i < 11; i++ {
			t1 := time.Now()
			if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+pg.path), chromedp.WaitVisible(pg.sel)); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, time.Since(t1))
			p, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(performance.getEntriesByName("first-contentful-paint")[0]||{startTime:-1}).startTime`))
			if err == nil && p >= 0 {
				fcp = append(fcp, p)
			}
		}
		slices.Sort(ds)
		slices.Sort(fcp)
		pf := pageFigures{Page: pg.what, Runs: len(ds), VisibleP50: ms(ds[len(ds)/2]), VisibleMax: ms(ds[len(ds)-1])}
		if len(fcp) > 0 {
			pf.FirstPaintP50 = fcp[len(fcp)/2]
		}
		out.Pages = append(out.Pages, pf)
		t.Logf("%s: navigation to visible in headless chromium, median of %d: %.1f ms (max %.1f ms); first contentful paint median %.1f ms",
			pg.what, len(ds), pf.VisibleP50, pf.VisibleMax, pf.FirstPaintP50)
	}
}

// speedFigures are TestConsoleSpeed's measurements, in milliseconds.
type speedFigures struct {
	Customers     int           `json:"customers"`
	LoadSeconds   float64       `json:"load_seconds"`
	CountRequests int           `json:"count_requests"`
	CountP50      float64       `json:"count_p50_ms"`
	CountP99      float64       `json:"count_p99_ms"`
	Pages         []pageFigures `json:"pages"`
}

type pageFigures struct {
	Page          string  `json:"page"`
	Runs          int     `json:"runs"`
	VisibleP50    float64 `json:"visible_p50_ms"`
	VisibleMax    float64 `json:"visible_max_ms"`
	FirstPaintP50 float64 `json:"first_paint_p50_ms"`
}
