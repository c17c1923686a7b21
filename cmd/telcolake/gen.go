package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/telcolake/telcolake/synth"
)

// runGen implements 'telcolake gen': it writes synthetic exports into a
// directory and prints a summary.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: telcolake gen -subs N -months M -out DIR [flags]\n\n"+
			"Writes seeded, deterministic CDR, bill and subscriber exports under DIR/exports/,\n"+
			"DIR/manifest.json and the ground truth DIR/truth/churn.csv.gz.\n\nflags:\n")
		fs.PrintDefaults()
	}
	subs := fs.Int("subs", 2000, "number of `subscribers`")
	months := fs.Int("months", 3, "`months` of history")
	out := fs.String("out", "", "output `dir`ectory (required)")
	seed := fs.Int64("seed", 1, "random `seed`; the same seed and flags give identical bytes")
	gz := fs.Bool("gzip", false, "write .csv.gz instead of .csv")
	span := fs.String("cdr-span", "day", "CDR file `span`: day (one file per day) or month (one per month)")
	mess := fs.Bool("mess", true, "plant malformed rows, a duplicate delivery and late files")
	truth := fs.Bool("truth", true, "also write the generator's ground truth to DIR/"+synth.TruthKey+" (not an export)")
	start := fs.String("start", synth.DefaultStart.Format("2006-01"), "first `month` of the window, YYYY-MM")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("gen: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gen: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *out == "":
		return fmt.Errorf("gen: flag -out is required")
	case strings.HasPrefix(*out, "s3://"):
		return fmt.Errorf("gen: flag -out %s: s3 output not supported yet; write to a directory and upload", *out)
	case *subs < 1 || *subs > 10_000_000:
		return fmt.Errorf("gen: flag -subs must be 1…10000000, got %d", *subs)
	case *months < 1 || *months > 120:
		return fmt.Errorf("gen: flag -months must be 1…120, got %d", *months)
	case *span != "day" && *span != "month":
		return fmt.Errorf("gen: flag -cdr-span must be day or month, got %q", *span)
	}
	st, err := time.Parse("2006-01", *start)
	if err != nil {
		if st, err = time.Parse(time.DateOnly, *start); err != nil {
			return fmt.Errorf("gen: flag -start must be YYYY-MM, got %q", *start)
		}
	}

	cfg := synth.Config{
		Subscribers: *subs,
		Months:      *months,
		Start:       st,
		Seed:        *seed,
		Gzip:        *gz,
		CDRFileSpan: *span,
		Mess:        *mess,
		Truth:       *truth,
	}
	stop, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	t0 := time.Now()
	m, err := synth.Generate(ctx, cfg, synth.DirSink(*out))
	if err != nil {
		return err
	}
	elapsed := time.Since(t0)
	printSummary(stdout, *out, m, elapsed)
	return nil
}

// printSummary writes a short report of what Generate wrote.
func printSummary(w io.Writer, dir string, m *synth.Manifest, elapsed time.Duration) {
	type agg struct {
		files, rows, bad int
		bytes            int64
	}
	tables := []string{synth.TableCDR, synth.TableBills, synth.TableSubscribers}
	per := map[string]*agg{}
	for _, t := range tables {
		per[t] = &agg{}
	}
	var total agg
	badFiles := 0
	for _, f := range m.Files {
		a := per[f.Table]
		if a == nil {
			a = &agg{}
			per[f.Table] = a
		}
		a.files++
		a.rows += f.Rows
		a.bad += f.BadRows
		a.bytes += f.Bytes
		total.files++
		total.rows += f.Rows
		total.bad += f.BadRows
		total.bytes += f.Bytes
		if f.BadRows > 0 {
			badFiles++
		}
	}
	fmt.Fprintf(w, "wrote %d files to %s in %s\n", total.files, dir, elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tfiles\trows\tbad rows\tbytes\t")
	for _, t := range tables {
		a := per[t]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", t, a.files, a.rows, a.bad, humanBytes(a.bytes))
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%s\t\n", total.files, total.rows, total.bad, humanBytes(total.bytes))
	tw.Flush()
	fmt.Fprintf(w, "bad rows planted: %d in %d files\n", total.bad, badFiles)
	if len(m.Deliveries) > len(m.Files) {
		seen := map[string]bool{}
		for _, k := range m.Deliveries {
			if seen[k] {
				fmt.Fprintf(w, "delivered twice: %s\n", k)
			}
			seen[k] = true
		}
	}
	fmt.Fprintf(w, "churners: %d\n", m.Churners)
	if m.Truth != "" {
		fmt.Fprintf(w, "ground truth (not an export): %s\n", filepath.Join(dir, filepath.FromSlash(m.Truth)))
	}
}

// humanBytes formats a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
