package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestBrowser drives Debian's chromium through the console over the real
// API handler: every role signs in; the analyst and admin search with two
// conditions and see the API's count; everyone opens a customer; the
// analyst sees masked names and MSISDNs; the agent is kept off the search;
// sign-out ends the session; no console errors, no request leaves the
// origin. Screenshots at desktop and phone width go to
// $TELCOLAKE_SCREENSHOTS (default: a temporary directory).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: not with -short")
	}
	exe := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Skip("browser test: no chromium on PATH (apt-get install chromium; .ci/run installs it)")
	}
	f := newFixture(t)
	addBadDebtAndUplift(t, f)
	f.now = time.Now()
	f.console.cfg.Now = time.Now
	f.console.ss.now = time.Now
	mux := http.NewServeMux()
	mux.Handle("/console/", f.console)
	mux.Handle("/", f.api)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	shots := os.Getenv("TELCOLAKE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900)}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	note := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }

	apiCount := func(q string) int {
		r := httptest.NewRequest("GET", "/v1/customers?limit=1&"+q, nil)
		r.Header.Set("X-API-Key", adminKey)
		w := httptest.NewRecorder()
		f.api.ServeHTTP(w, r)
		var p struct{ Count int }
		json.Unmarshal(w.Body.Bytes(), &p)
		return p.Count
	}
	shot := func(ctx context.Context, name string) {
		t.Helper()
		for _, size := range []struct {
			tag  string
			w, h int64
		}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
				t.Fatalf("viewport: %v", err)
			}
			img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			if len(img) < 1000 {
				t.Errorf("screenshot %s %s: %d bytes", name, size.tag, len(img))
			}
			if err := os.WriteFile(filepath.Join(shots, name+"-"+size.tag+".png"), img, 0o644); err != nil {
				t.Fatal(err)
			}
			// At either width nothing widens the page, and nothing sticks
			// out of its card unless it scrolls inside it.
			if sw, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || sw > int(size.w) {
				t.Errorf("%s at %d px: the page is %d px wide (%v)", name, size.w, sw, err)
			}
			if out, err := chromedp.Run(ctx, chromedp.Evaluate[string](overflowJS)); err != nil || out != "" {
				t.Errorf("%s at %d px: sticks out of its card: %s (%v)", name, size.w, out, err)
			}
		}
		chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900))
	}
	text := func(ctx context.Context, sel string) string {
		s, _ := chromedp.Run(ctx, chromedp.Text(sel))
		return s
	}
	enable := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{})
		return err
	})
	c0 := f.customers[11]
	for _, user := range []string{"ada", "ana", "adm"} {
		t.Run(user, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(actx)
			defer cancel()
			ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
			defer cancelT()
			err := chromedp.Listen(ctx, func(ev any) {
				switch e := ev.(type) {
				case *runtime.EventExceptionThrown:
					note(user + ": exception: " + e.ExceptionDetails.Text)
				case *runtime.EventConsoleAPICalled:
					if e.Type == runtime.ConsoleAPICalledTypeError {
						note(user + ": console error")
					}
				case *network.EventRequestWillBeSent:
					if u := e.Request.URL; !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
						note(user + ": request outside the origin: " + u)
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, enable, chromedp.Navigate(srv.URL+"/console/signin"), chromedp.WaitVisible("#signin")); err != nil {
				t.Fatal(err)
			}
			if user == "ana" {
				shot(ctx, "signin")
			}
			err = chromedp.Do(ctx,
				chromedp.SendKeys("input[name=user]", user),
				chromedp.SendKeys("input[name=password]", password(user)),
				chromedp.Submit("#signin"),
				chromedp.WaitVisible("#signout"))
			if err != nil {
				t.Fatalf("sign in: %v", err)
			}
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			if user == "ada" {
				if !strings.HasSuffix(loc, "/console/lookup") {
					t.Errorf("agent landed on %s", loc)
				}
				chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/search"), chromedp.WaitVisible("main"))
				if body := text(ctx, "main"); !strings.Contains(body, "403") {
					t.Errorf("agent reached the search: %.100s", body)
				}
				for _, bulk := range []string{"/console/lists/churn-risk", "/console/lists", "/console/dashboard", "/console/models",
					"/console/models/20261101T030000Z", "/console/models/20261101T030000Z?kind=uplift", "/console/ingest", "/console/cube", "/console/forecast", "/console/scenarios"} {
					chromedp.Do(ctx, chromedp.Navigate(srv.URL+bulk), chromedp.WaitVisible("main"))
					if body := text(ctx, "main"); !strings.Contains(body, "403") {
						t.Errorf("agent reached %s: %.100s", bulk, body)
					}
				}
				if nav := text(ctx, "nav"); strings.Contains(nav, "Dashboard") || strings.Contains(nav, "Ingest") || strings.Contains(nav, "Lists") || strings.Contains(nav, "Lifecycle") {
					t.Errorf("agent's header links bulk pages: %q", nav)
				}
				err = chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/lookup"),
					chromedp.SendKeys("input[name=id]", c0.SubscriberID),
					chromedp.Submit("input[name=id]"), chromedp.WaitVisible("#churn"))
				if err != nil {
					t.Fatalf("lookup: %v", err)
				}
			} else {
				const q = "region=North&churn_min=0.5"
				want := strconv.Itoa(apiCount(q))
				err = chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/search"),
					chromedp.Click("details summary"),
					chromedp.SendKeys("#f-region", "North"),
					chromedp.SendKeys("#f-churn_min", "0.5"))
				if err != nil {
					t.Fatal(err)
				}
				_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("count").dataset.count === "`+want+`"`, chromedp.WithPollingTimeout(10*time.Second)))
				got, _ := chromedp.Run(ctx, chromedp.AttributeValue("#count", "data-count"))
				if err != nil || got.Value != want {
					t.Fatalf("live count %q, want the API's %s: %v", got.Value, want, err)
				}
				if err := chromedp.Do(ctx, chromedp.Submit("#filter"), chromedp.WaitVisible("#results")); err != nil {
					t.Fatal(err)
				}
				if masked := !strings.Contains(text(ctx, "#results"), "Person"); masked != (user == "ana") {
					t.Errorf("%s: table masked %v", user, masked)
				}
				if user == "ana" {
					shot(ctx, "search")
					// Save the search as a group: the search then filters by
					// it, with the same count.
					err := chromedp.Do(ctx, chromedp.SendKeys("#group-name", "North at risk"), chromedp.Click("#group-save"),
						chromedp.WaitVisible("#group-saved"))
					if err != nil {
						t.Fatalf("save as group: %v", err)
					}
					if got := text(ctx, "#count"); !strings.HasPrefix(got, want+" ") {
						t.Errorf("search by the saved group counts %q, want %s", got, want)
					}
					if sel, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("f-group").selectedOptions[0].text`)); !strings.HasPrefix(sel, "North at risk") {
						t.Errorf("the group filter shows %q, want the saved group", sel)
					}
				}
				if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/customers/"+c0.SubscriberID), chromedp.WaitVisible("#churn")); err != nil {
					t.Fatal(err)
				}
			}
			msisdn, h1 := text(ctx, "#msisdn"), text(ctx, "h1")
			if clear := msisdn == c0.MSISDN && strings.Contains(h1, c0.Name); clear != (user != "ana") {
				t.Errorf("%s: 360° in clear %v (msisdn %q)", user, clear, msisdn)
			}
			if user == "ana" {
				shot(ctx, "customer")
				// The cube: two dimensions picked in the form; the grand
				// total is the API's count; one drill-down narrows it to
				// the first row's values and the next dimension.
				err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/console/cube"), chromedp.WaitVisible("#cube-form"),
					chromedp.SetValue("#dim-0", "region"), chromedp.SetValue("#dim-1", "plan"),
					chromedp.Click("#cube-show"), chromedp.WaitVisible("#cube-heat"))
				if err != nil {
					t.Fatalf("cube: %v", err)
				}
				if got := text(ctx, "#cube-total td:nth-child(2)"); got != strconv.Itoa(apiCount("")) {
					t.Errorf("cube's grand total %q, the API counts %d", got, apiCount(""))
				}
				shot(ctx, "cube")
				region, plan := text(ctx, "#cube-table tbody tr:first-child td:nth-child(1)"), text(ctx, "#cube-table tbody tr:first-child td:nth-child(2)")
				if err := chromedp.Do(ctx, chromedp.Click("#cube-table a.drill"), chromedp.WaitVisible("#cube-active")); err != nil {
					t.Fatalf("drill down: %v", err)
				}
				want := apiCount("region=" + region + "&plan=" + plan)
				if got, active := text(ctx, "#cube-total td:nth-child(2)"), text(ctx, "#cube-active"); got != strconv.Itoa(want) ||
					!strings.Contains(active, "Region = "+region) || !strings.Contains(active, "Plan = "+plan) {
					t.Errorf("drilled into %s/%s: total %q (want %d), filters %q", region, plan, got, want, active)
				}
				if dim, _ := chromedp.Run(ctx, chromedp.Value("#dim-0")); dim != "segment" {
					t.Errorf("drill-down offers %q, want the next dimension, segment", dim)
				}
				// Every other page, reached by keyboard-free navigation and
				// checked for its main element, then photographed.
				for _, pg := range []struct{ name, path, sel string }{
					{"dashboard", "/console/dashboard", "#kpis"},
					{"segments", "/console/segments", "#segment-charts"},
					{"lists", "/console/lists", "#lists"},
					{"list", "/console/lists/churn-risk", "main table"},
					{"models", "/console/models", "#runs"},
					{"model", "/console/models/20261101T030000Z", "#candidates"},
					{"model-bad-debt", "/console/models/20261101T030000Z?kind=bad-debt", "#baseline"},
					{"model-uplift", "/console/models/20261101T030000Z?kind=uplift", "#qini"},
					{"ingest", "/console/ingest", "#by-day"},
					{"ingest-file", "/console/ingest/report?source=landing/exports/cdr/2026/11/03/a.csv.gz", "#file-errors"},
					{"lifecycle", "/console/lifecycle", "#survival"},
					{"causes", "/console/causes", "#causes-chart"},
					{"tracking", "/console/tracking", "#deciles"},
					{"forecast", "/console/forecast?by=region&measure=revenue", ".forecast-group svg"},
					{"scenarios", "/console/scenarios", "#new-scenario"},
					{"campaigns", "/console/campaigns", "main h1"},
					{"lookup", "/console/lookup", "input[name=id]"}, // last: the keyboard steps below start here
				} {
					if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+pg.path), chromedp.WaitVisible(pg.sel)); err != nil {
						t.Fatalf("%s: %v", pg.name, err)
					}
					shot(ctx, pg.name)
				}
				// By keyboard: in the look-up field Tab reaches the button,
				// and Enter in the field opens the customer.
				if err := chromedp.Do(ctx, chromedp.Focus("input[name=id]"), chromedp.KeyEvent("\t")); err != nil {
					t.Fatal(err)
				}
				if tag, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.tagName`)); err != nil || tag != "BUTTON" {
					t.Errorf("Tab from the look-up field focuses %q, want its button (%v)", tag, err)
				}
				if err := chromedp.Do(ctx, chromedp.Focus("input[name=id]"), chromedp.KeyEvent(c0.SubscriberID+"\r"), chromedp.WaitVisible("#churn")); err != nil {
					t.Errorf("look-up by keyboard: %v", err)
				}
			}
			if user == "adm" { // Simplified Chinese, switched by the link in the header
				if err := chromedp.Do(ctx, chromedp.Click("a.lang"), chromedp.WaitVisible("#churn")); err != nil {
					t.Fatal(err)
				}
				if h := text(ctx, "figcaption"); !strings.Contains(h, "通话分钟") {
					t.Errorf("after the language switch: %q", h)
				}
				shot(ctx, "customer-zh")
			}
			err = chromedp.Do(ctx, chromedp.Click("#signout"), chromedp.WaitVisible("#signin"),
				chromedp.Navigate(srv.URL+"/console/customers/"+c0.SubscriberID), chromedp.WaitVisible("#signin"))
			if err != nil {
				t.Fatalf("after sign-out: %v", err)
			}
		})
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("screenshots in %s", shots)
}

// overflowJS lists the tables, charts and forms that reach past the right
// edge of their card, other than those inside a scrolling box.
const overflowJS = `(() => {
	const bad = [];
	for (const c of document.querySelectorAll(".card")) {
		const edge = c.getBoundingClientRect().right;
		for (const e of c.querySelectorAll("table, svg, figure, form, fieldset, td, th")) {
			const s = e.closest(".scroll");
			if (s && s !== e) continue;
			const over = e.getBoundingClientRect().right - edge;
			if (over > 1) bad.push((e.id || e.tagName.toLowerCase()) + " by " + Math.round(over) + " px");
		}
	}
	return [...new Set(bad)].slice(0, 5).join(", ");
})()`
