package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/telcolake/telcolake/insight"
)

// runSurvival implements 'telcolake survival': Kaplan–Meier survival,
// median lifetime and the log-rank test on any CSV table.
func runSurvival(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("survival", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: telcolake survival -csv FILE -duration COLUMN -event COLUMN [-by COLUMN] [-at 12,24,36] [-json]\n\n"+
			"Kaplan–Meier survival of the subjects of a CSV table (header row): the median\n"+
			"lifetime with its 95% interval, survival at the chosen times with 95% log-log\n"+
			"bands (Greenwood), and with -by the same per group and the log-rank test.\n"+
			"The event column is true/false, yes/no or 1/0 (false: censored).\n\nflags:\n")
		fs.PrintDefaults()
	}
	path := fs.String("csv", "", "the `file` (required)")
	duration := fs.String("duration", "", "duration `column`, a number ≥ 0 (required)")
	event := fs.String("event", "", "event `column` (required)")
	by := fs.String("by", "", "group by this `column`")
	atFlag := fs.String("at", "", "comma-separated `times` to read the curves at")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("survival: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("survival: unexpected argument %q", fs.Arg(0))
	case *path == "" || *duration == "" || *event == "":
		fs.Usage()
		return errors.New("survival: flags -csv, -duration and -event are required")
	}
	var at []float64
	for _, s := range strings.Split(*atFlag, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("survival: -at: %q is not a time ≥ 0", s)
		}
		at = append(at, v)
	}
	f, err := os.Open(*path)
	if err != nil {
		return fmt.Errorf("survival: %w", err)
	}
	defer f.Close()
	d, err := insight.ReadSurvival(csv.NewReader(f), *duration, *event, *by)
	if err != nil {
		return fmt.Errorf("survival: %s: %w", *path, err)
	}
	rep, err := insight.AnalyseSurvival(d, *by, at)
	if err != nil {
		return fmt.Errorf("survival: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.Write(stdout)
}
