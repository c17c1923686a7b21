package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// partConsole measures the staff console: web's TestConsoleSpeed over
// -api-customers generated customers (the live count's round trip through
// an HTTP gateway doing the local one's per-request work, and the search
// and 360° pages in headless chromium), run with go test in the repository.
const partConsole = "console"

// consoleReport is what TestConsoleSpeed measured (milliseconds).
type consoleReport struct {
	Customers     int     `json:"customers"`
	LoadSeconds   float64 `json:"load_seconds"`
	CountRequests int     `json:"count_requests"`
	CountP50      float64 `json:"count_p50_ms"`
	CountP99      float64 `json:"count_p99_ms"`
	Pages         []struct {
		Page          string  `json:"page"`
		Runs          int     `json:"runs"`
		VisibleP50    float64 `json:"visible_p50_ms"`
		VisibleMax    float64 `json:"visible_max_ms"`
		FirstPaintP50 float64 `json:"first_paint_p50_ms"`
	} `json:"pages"`
	Date   time.Time `json:"-"`
	Commit string    `json:"-"`
}

// Console targets of issue 14.
const (
	consoleCountTarget = 20.0   // ms, p50
	consolePageTarget  = 1000.0 // ms
)

func (b *bench) measureConsole(ctx context.Context) (*consoleReport, error) {
	out := filepath.Join(b.work, "console-speed.json")
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout=30m", "-run=^TestConsoleSpeed$", "-v", "./web")
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "TELCOLAKE_CONSOLE_SPEED="+strconv.Itoa(b.opts.apiCustomers), "TELCOLAKE_CONSOLE_SPEED_OUT="+out)
	var logBuf strings.Builder
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&logBuf, log.Writer()), io.MultiWriter(&logBuf, log.Writer())
	log.Printf("console: TestConsoleSpeed over %s customers", thousands(int64(b.opts.apiCustomers)))
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("console: go test TestConsoleSpeed: %w", err)
	}
	body, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("console: no figures (%w); go test said:\n%s", err, logBuf.String())
	}
	var r consoleReport
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("console: figures: %w", err)
	}
	if len(r.Pages) == 0 {
		return nil, errors.New("console: page render times not measured (no chromium on PATH?)")
	}
	r.Date, r.Commit = time.Now().UTC(), gitCommit(ctx, b.root)
	return &r, nil
}

const (
	consoleBegin = "<!-- console:begin -->"
	consoleEnd   = "<!-- console:end -->"
)

func consoleSection(r *consoleReport, m machine) string {
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	host := fmt.Sprintf("%d CPUs (%s), %.1f GiB, load average %s at the end", m.CPUs, m.CPUModel, float64(m.MemKiB)/(1<<20), load)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## Staff console over %s customers\n\n", consoleBegin, thousands(int64(r.Customers)))
	fmt.Fprintf(&b, "Measured %s at commit `%s` on %s by `make bench BENCH_FLAGS=-parts=console` (web's `TestConsoleSpeed`: "+
		"a generated snapshot loaded into the real api handler and console, %.1f s to generate and load). "+
		"The live count is `GET /console/data/customers` with two conditions, signed in as the analyst, over HTTP through a gateway "+
		"doing what the local one does per request (request → `lambdahttp.Event` → `lambdahttp.Handler` → `lambdahttp.Write`; "+
		"not the local stack's hop to a separate function process). Pages: headless Debian chromium via chromedp, navigation until "+
		"the page's main element is visible, and the browser's own first contentful paint.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Commit, host, r.LoadSeconds)
	verdict := func(v, target float64) string {
		if v <= target {
			return "met"
		}
		return "**missed**"
	}
	b.WriteString("| what | p50 | p99 / max | target | |\n|---|---:|---:|---:|---|\n")
	fmt.Fprintf(&b, "| live count round trip (%d requests) | %.2f ms | %.2f ms (p99) | p50 ≤ %.0f ms | %s |\n",
		r.CountRequests, r.CountP50, r.CountP99, consoleCountTarget, verdict(r.CountP50, consoleCountTarget))
	for _, p := range r.Pages {
		fmt.Fprintf(&b, "| %s: visible (%d loads) | %.1f ms | %.1f ms (max) | ≤ %.0f ms | %s |\n",
			p.Page, p.Runs, p.VisibleP50, p.VisibleMax, consolePageTarget, verdict(p.VisibleMax, consolePageTarget))
		fmt.Fprintf(&b, "| %s: first contentful paint | %.1f ms | | | |\n", p.Page, p.FirstPaintP50)
	}
	b.WriteString(consoleEnd + "\n")
	return b.String()
}
