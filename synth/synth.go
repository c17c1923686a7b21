// Package synth generates synthetic but realistic source-system exports for
// telcolake: call detail records as mediation delivers them, monthly bills
// and end-of-month snapshots of the subscriber register, in the CSV formats
// of README.md (Export formats).
//
// The data is meant to train and test churn models: subscribers have a
// latent churn propensity (short tenure, cheap plans, arrears, low income),
// and most churners show signs in the one to three months before they leave
// (falling usage, more calls to customer care, more offnet contacts, unpaid
// bills), with noise both ways. Optionally the exports carry real-world
// mess: a few malformed rows, a duplicate delivery and late files.
//
// With Config.Truth it also writes the ground truth beside the exports
// (TruthKey): per subscriber and month the hazard, the planted drivers'
// log-odds, the churn date, and the exact churn probability given what
// the generator decided that shows by the month's end (the oracle no
// model can beat), so models and their reasons can be held to it.
//
// Output is deterministic: the same Config gives byte-identical objects,
// however many goroutines generate them.
package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Config says what to generate.
type Config struct {
	// Subscribers is the number of subscribers in the register (including
	// those who join during the window), 1 … 10,000,000.
	Subscribers int
	// Months is the number of months of history, 1 … 120.
	Months int
	// Start is the first day of the first month (UTC); the zero value means
	// 2026-08-01. Other days are truncated to the start of their month.
	Start time.Time
	// Seed seeds every random choice: the same seed and config give
	// byte-identical output.
	Seed int64
	// Gzip writes .csv.gz objects instead of .csv.
	Gzip bool
	// CDRFileSpan is "day" (the default: one CDR file per day, as mediation
	// delivers) or "month" (one big file per month, for benchmarks).
	CDRFileSpan string
	// Mess plants real-world mess: malformed CDR rows, a duplicate delivery
	// and late files.
	Mess bool
	// PlanChangeRate is the yearly share of postpaid subscribers who move
	// to another postpaid plan (planchange.go); 0 means
	// DefaultPlanChangeRate, a negative value none.
	PlanChangeRate float64
	// Truth also writes the generator's ground truth to TruthKey (per
	// subscriber and month: hazard, driver contributions, churn, the exact
	// churn probability given what shows by the month's end).
	Truth bool
}

// DefaultStart is the first day used when Config.Start is zero.
var DefaultStart = time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)

// Table names used in File.Table.
const (
	TableCDR         = "cdr"
	TableBills       = "bills"
	TableSubscribers = "subscribers"
)

// ManifestKey is the key the manifest is written to.
const ManifestKey = "manifest.json"

// Sink creates objects by key (e.g. "exports/cdr/2026/08/01/cdr-20260801.csv.gz").
// Create may be called from several goroutines at once.
type Sink interface {
	Create(ctx context.Context, key string) (io.WriteCloser, error)
}

// DirSink returns a Sink that writes each object to root/<key>, creating
// parent directories as needed.
func DirSink(root string) Sink { return dirSink(root) }

type dirSink string

func (d dirSink) Create(ctx context.Context, key string) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := filepath.Join(string(d), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return os.Create(p)
}

// Manifest describes what Generate wrote.
type Manifest struct {
	// Files lists every export object written, in delivery order (late
	// files come late). The manifest itself is not listed.
	Files []File `json:"files"`
	// Deliveries lists keys in the order a source system would deliver
	// them; with Mess one key appears twice (a duplicate delivery of the
	// same bytes).
	Deliveries []string `json:"deliveries"`
	// Churners is the number of subscribers deactivated during the window.
	Churners int `json:"churners"`
	// Truth is the key of the ground-truth file, "" if not written.
	Truth string `json:"truth,omitempty"`
	// BadDebtTruth is the key of the deliberate non-payers' ground truth,
	// "" if not written.
	BadDebtTruth string `json:"bad_debt_truth,omitempty"`
	// PlanChangeTruth is the key of the plan changes' ground truth (with
	// the planted elasticity), "" if not written.
	PlanChangeTruth string `json:"plan_change_truth,omitempty"`
}

// File describes one written object.
type File struct {
	Key   string `json:"key"`
	Table string `json:"table"` // "cdr", "bills" or "subscribers"
	// Rows is the number of data rows written, malformed ones included.
	Rows int `json:"rows"`
	// BadRows is the number of rows planted malformed; Rows-BadRows rows
	// are good.
	BadRows int   `json:"bad_rows"`
	Bytes   int64 `json:"bytes"`
}

// generator holds the state of one Generate call.
type generator struct {
	cfg        Config
	subs       []subscriber
	startDay   int32
	endDay     int32   // first day after the window
	monthStart []int32 // Months+1 epoch days
	monthLabel []string
	newFrac    float64 // share of subscribers joining inside the window
	msisdnOff  uint64
	usage      [][]int64 // [month][subscriber] charges, units of 0.0001
	workers    int
	dupKey     string // key delivered a second time, "" none
	dupAt      int64  // time of the second delivery
}

// filePlan is one object to write.
type filePlan struct {
	File
	days    []int32 // CDR days
	month   int
	deliver int64 // delivery time, minutes since the epoch
	seq     int
}

func (c Config) normalize() (Config, error) {
	if c.Subscribers < 1 || c.Subscribers > 10_000_000 {
		return c, fmt.Errorf("subscribers must be 1…10000000, got %d", c.Subscribers)
	}
	if c.Months < 1 || c.Months > 120 {
		return c, fmt.Errorf("months must be 1…120, got %d", c.Months)
	}
	switch c.CDRFileSpan {
	case "":
		c.CDRFileSpan = "day"
	case "day", "month":
	default:
		return c, fmt.Errorf("CDR file span must be day or month, got %q", c.CDRFileSpan)
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	y, m, _ := c.Start.UTC().Date()
	c.Start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	if y < 2001 || y > 9000 {
		return c, fmt.Errorf("start must lie in 2001…9000, got %s", c.Start.Format("2006-01"))
	}
	return c, nil
}

// Generate writes the exports described by cfg through sink, then
// manifest.json, and returns the manifest.
func Generate(ctx context.Context, cfg Config, sink Sink) (*Manifest, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	g := newGenerator(cfg)
	g.buildSubscribers()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	g.drawPlanChanges()
	intercept := g.calibrateChurn()
	g.drawNonPayers()

	cdr, bills, snaps := g.planFiles()
	if err := g.runCDR(ctx, sink, cdr); err != nil {
		return nil, err
	}
	if err := g.writeMonthly(ctx, sink, bills, snaps); err != nil {
		return nil, err
	}

	all := slices.Concat(cdr, bills, snaps)
	m := g.manifest(all)
	if cfg.Truth {
		if err := g.writeTruth(ctx, sink, g.newTruth(intercept)); err != nil {
			return nil, err
		}
		m.Truth = TruthKey
		if err := g.writeBadDebtTruth(ctx, sink); err != nil {
			return nil, err
		}
		m.BadDebtTruth = BadDebtTruthKey
		if err := g.writePlanChangeTruth(ctx, sink); err != nil {
			return nil, err
		}
		m.PlanChangeTruth = PlanChangeTruthKey
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gen %s: %w", ManifestKey, err)
	}
	if _, err := writeObject(ctx, sink, ManifestKey, append(data, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

func newGenerator(cfg Config) *generator {
	g := &generator{cfg: cfg, workers: max(1, runtime.GOMAXPROCS(0))}
	g.startDay = epochDay(cfg.Start)
	for m := range cfg.Months + 1 {
		t := cfg.Start.AddDate(0, m, 0)
		g.monthStart = append(g.monthStart, epochDay(t))
		if m < cfg.Months {
			g.monthLabel = append(g.monthLabel, t.Format("2006-01"))
		}
	}
	g.endDay = g.monthStart[cfg.Months]
	g.newFrac = min(0.3, 0.025*float64(cfg.Months))
	g.msisdnOff = splitmix(uint64(cfg.Seed)^0xC0FFEE) % 100_000_000
	g.usage = make([][]int64, cfg.Months)
	for m := range g.usage {
		g.usage[m] = make([]int64, cfg.Subscribers)
	}
	return g
}

// buildSubscribers draws all subscribers in parallel; each from its own seed.
func (g *generator) buildSubscribers() {
	g.subs = make([]subscriber, g.cfg.Subscribers)
	var wg sync.WaitGroup
	chunk := (len(g.subs) + g.workers - 1) / g.workers
	for lo := 0; lo < len(g.subs); lo += chunk {
		hi := min(len(g.subs), lo+chunk)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				g.newSubscriber(i, &g.subs[i])
			}
		})
	}
	wg.Wait()
}

// planFiles lays out all objects with their keys, delivery times and mess.
func (g *generator) planFiles() (cdr, bills, snaps []*filePlan) {
	ext := ".csv"
	if g.cfg.Gzip {
		ext = ".csv.gz"
	}
	seq := 0
	add := func(list *[]*filePlan, f *filePlan) {
		f.seq = seq
		seq++
		*list = append(*list, f)
	}
	const day = 24 * 60
	if g.cfg.CDRFileSpan == "month" {
		for m := range g.cfg.Months {
			t := dayTime(g.monthStart[m])
			f := &filePlan{File: File{Key: "exports/cdr/" + t.Format("2006/01/") + "cdr-" + t.Format("200601") + ext, Table: TableCDR},
				month: m, deliver: int64(g.monthStart[m+1])*day + 120}
			for d := g.monthStart[m]; d < g.monthStart[m+1]; d++ {
				f.days = append(f.days, d)
			}
			add(&cdr, f)
		}
	} else {
		m := 0
		for d := g.startDay; d < g.endDay; d++ {
			for d >= g.monthStart[m+1] {
				m++
			}
			t := dayTime(d)
			add(&cdr, &filePlan{File: File{Key: "exports/cdr/" + t.Format("2006/01/02/") + "cdr-" + t.Format("20060102") + ext, Table: TableCDR},
				days: []int32{d}, month: m, deliver: int64(d+1)*day + 60})
		}
	}
	for m := range g.cfg.Months {
		t := dayTime(g.monthStart[m])
		add(&bills, &filePlan{File: File{Key: "exports/bills/" + t.Format("2006/01/") + "bills-" + t.Format("200601") + ext, Table: TableBills},
			month: m, deliver: int64(g.monthStart[m+1]+2)*day + 360})
		e := dayTime(g.monthStart[m+1] - 1)
		add(&snaps, &filePlan{File: File{Key: "exports/subscribers/" + e.Format("2006/01/02/") + "subscribers-" + e.Format("20060102") + ext, Table: TableSubscribers},
			month: m, deliver: int64(g.monthStart[m+1])*day + 30})
	}
	return cdr, bills, snaps
}

// messPlan decides which CDR files get malformed rows, which come late and
// which is delivered twice.
type messPlan struct {
	badRate map[int]float64 // CDR file index → share of bad rows
	late    map[int]int64   // CDR file index → delay in minutes
	dup     int             // CDR file index delivered twice, -1 none
}

func (g *generator) messPlan(n int) messPlan {
	mp := messPlan{badRate: map[int]float64{}, late: map[int]int64{}, dup: -1}
	if !g.cfg.Mess || n == 0 {
		return mp
	}
	r := newRand(g.cfg.Seed, streamPlan, 0, 0)
	// About 0.25% bad rows overall, at most 3% in any one file.
	const overall, perFile = 0.0025, 0.03
	k := min(n, int(math.Ceil(overall*float64(n)/perFile)))
	rate := overall * float64(n) / float64(k)
	perm := r.Perm(n)
	for _, i := range perm[:k] {
		mp.badRate[i] = rate
	}
	// One or two late files, never the last one (nothing would come after).
	if n > 1 {
		cand := n - 1
		if n >= 10 {
			cand = n - 5
		}
		nLate := min(cand, 1+r.IntN(2))
		for _, i := range r.Perm(cand)[:nLate] {
			delay := int64(2+r.IntN(3)) * 24 * 60
			if g.cfg.CDRFileSpan == "month" {
				// A month file comes after the next month's file.
				delay = int64(g.monthStart[i+2]-g.monthStart[i+1]+3) * 24 * 60
			}
			mp.late[i] = delay + 15
		}
	}
	for {
		mp.dup = r.IntN(n)
		if _, late := mp.late[mp.dup]; !late || n == 1 {
			break
		}
	}
	return mp
}

// runCDR generates all CDR files: workers generate (and compress) days in
// order; one writer per file concatenates its days. For month files with
// gzip each day is its own gzip member (a multi-member gzip file).
func (g *generator) runCDR(ctx context.Context, sink Sink, files []*filePlan) error {
	mp := g.messPlan(len(files))
	var jobs []dayJob
	for i, f := range files {
		if d, ok := mp.late[i]; ok {
			f.deliver += d
		}
		for j, d := range f.days {
			jobs = append(jobs, dayJob{day: d, month: f.month, header: j == 0, badRate: mp.badRate[i]})
		}
	}
	if mp.dup >= 0 {
		g.dupKey = files[mp.dup].Key
		g.dupAt = files[mp.dup].deliver + 24*60 + 11*60
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make([]chan dayChunk, len(jobs))
	for i := range results {
		results[i] = make(chan dayChunk, 1)
	}
	sem := make(chan struct{}, 2*g.workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g.workers {
		wg.Go(func() {
			w := g.newDayWorker()
			for {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					<-sem
					return
				}
				c, err := w.run(jobs[i])
				if err != nil {
					cancel(fmt.Errorf("gen cdr day %s: %w", dayTime(jobs[i].day).Format(time.DateOnly), err))
					return
				}
				results[i] <- c
			}
		})
	}
	first := 0
	for _, f := range files {
		lo := first
		first += len(f.days)
		wg.Go(func() {
			if err := g.writeCDRFile(ctx, sink, f, results[lo:lo+len(f.days)], sem); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// writeCDRFile writes the chunks of one CDR file in order as they arrive.
func (g *generator) writeCDRFile(ctx context.Context, sink Sink, f *filePlan, chunks []chan dayChunk, sem chan struct{}) (err error) {
	var w io.WriteCloser
	cw := &countWriter{}
	defer func() {
		if w != nil {
			if cerr := w.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("gen %s: %w", f.Key, cerr)
			}
		}
		f.Bytes = cw.n
	}()
	for _, ch := range chunks {
		var c dayChunk
		select {
		case c = <-ch:
		case <-ctx.Done():
			return nil
		}
		if w == nil {
			if w, err = sink.Create(ctx, f.Key); err != nil {
				w = nil
				putBuf(c.data)
				<-sem
				return fmt.Errorf("gen %s: %w", f.Key, err)
			}
			cw.w = w
		}
		_, err = cw.Write(*c.data)
		putBuf(c.data)
		<-sem
		if err != nil {
			return fmt.Errorf("gen %s: %w", f.Key, err)
		}
		f.Rows += c.rows
		f.BadRows += c.bad
	}
	return nil
}

// writeMonthly writes the bills and register snapshots.
func (g *generator) writeMonthly(ctx context.Context, sink Sink, bills, snaps []*filePlan) error {
	billData := g.buildBills()
	sem := make(chan struct{}, g.workers)
	errs := make([]error, len(bills)+len(snaps))
	var wg sync.WaitGroup
	for i, f := range slices.Concat(bills, snaps) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var data []byte
			if f.Table == TableBills {
				data = billData[f.month]
			} else {
				data = g.buildSnapshot(f.month)
			}
			f.Rows = bytes.Count(data, []byte{'\n'}) - 1
			if g.cfg.Gzip {
				var buf bytes.Buffer
				zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
				if _, err := zw.Write(data); err != nil {
					errs[i] = fmt.Errorf("gen %s: %w", f.Key, err)
					return
				}
				if err := zw.Close(); err != nil {
					errs[i] = fmt.Errorf("gen %s: %w", f.Key, err)
					return
				}
				data = buf.Bytes()
			}
			f.Bytes, errs[i] = writeObject(ctx, sink, f.Key, data)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeObject writes one whole object.
func writeObject(ctx context.Context, sink Sink, key string, data []byte) (int64, error) {
	w, err := sink.Create(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("gen %s: %w", key, err)
	}
	n, err := w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return int64(n), fmt.Errorf("gen %s: %w", key, err)
	}
	return int64(n), nil
}

// manifest orders the files by delivery and counts the churners.
func (g *generator) manifest(all []*filePlan) *Manifest {
	slices.SortStableFunc(all, func(a, b *filePlan) int {
		if a.deliver != b.deliver {
			if a.deliver < b.deliver {
				return -1
			}
			return 1
		}
		return a.seq - b.seq
	})
	m := &Manifest{Files: make([]File, 0, len(all)), Deliveries: make([]string, 0, len(all)+1)}
	dupDone := g.dupKey == ""
	for _, f := range all {
		if !dupDone && f.deliver > g.dupAt {
			m.Deliveries = append(m.Deliveries, g.dupKey)
			dupDone = true
		}
		m.Files = append(m.Files, f.File)
		m.Deliveries = append(m.Deliveries, f.Key)
	}
	if !dupDone {
		m.Deliveries = append(m.Deliveries, g.dupKey)
	}
	for i := range g.subs {
		if g.subs[i].churnDay != 0 {
			m.Churners++
		}
	}
	return m
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf() *[]byte {
	p := bufPool.Get().(*[]byte)
	*p = (*p)[:0]
	return p
}

func putBuf(p *[]byte) { bufPool.Put(p) }
