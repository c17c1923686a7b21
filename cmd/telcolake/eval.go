package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/telcolake/telcolake/models/churn"
	"github.com/telcolake/telcolake/models/churn/liblinear"
)

// runEval implements 'telcolake eval': train the churn candidates on one
// CSV, measure the chosen model on another.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: telcolake eval -train A.csv -test B.csv -target COLUMN [-seed N]\n\n"+
			"Trains the churn model candidates on A (compared on a stratified hold-out of A),\n"+
			"refits the best on all of A and reports AUC, PR-AUC and lift@10% on B with\n"+
			"bootstrap 95% intervals.\n\nflags:\n")
		fs.PrintDefaults()
	}
	trainPath := fs.String("train", "", "training `csv` (required)")
	testPath := fs.String("test", "", "test `csv` (required)")
	target := fs.String("target", "", "churn label `column` (yes/no, true/false, 1/0)")
	seed := fs.Uint64("seed", 1, "random `seed`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("eval: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("eval: unexpected argument %q", fs.Arg(0))
	case *trainPath == "" || *testPath == "" || *target == "":
		fs.Usage()
		return fmt.Errorf("eval: flags -train, -test and -target are required")
	}
	train, err := os.Open(*trainPath)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer train.Close()
	test, err := os.Open(*testPath)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer test.Close()
	res, err := churn.EvalCSV(ctx, train, test, churn.EvalOptions{Target: *target, Seed: *seed, Train: churn.Options{Logistic: liblinear.Fit}})
	if err != nil {
		return err
	}
	return res.Write(stdout)
}
