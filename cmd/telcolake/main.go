// Command telcolake is the one command-line tool of telcolake: it generates
// synthetic exports, ingests files by hand, and (later) runs the local stack.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/telcolake/telcolake/localstack"
)

const usage = `usage: telcolake <command> [flags]

commands:
  gen      write synthetic CDR, bill and subscriber exports (seeded, deterministic)
  demo     the whole job on the local stack: exports in, tables out, summary (make demo)
  local    run the local AWS stack (S3, functions, schedules, HTTP API) until Ctrl-C
  invoke   invoke a function of a running local stack
  ingest   ingest local export files into the lake (same code path as the ingest function)
  train    build new feature months, retrain segmentation and churn, report, promote
  score    score the newest feature month: crm.scores and the serving snapshot
  maintain expire snapshots, compact small files, merge manifests, delete orphans (every crm.* table)
  eval     train churn models on one CSV, report AUC, PR-AUC and lift@10% on another
  survival Kaplan–Meier survival, median lifetime and log-rank test on any CSV
  uplift   the uplift model on synthetic campaigns against churn-risk ranking (Qini, AUUC)
  users    add a staff member who may sign in to the console (users add NAME ROLE)

Run 'telcolake <command> -h' for the flags of one command.
`

func main() {
	localstack.RunS3ChildIfRequested() // this binary also runs the local stack's S3 server
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "telcolake:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "gen":
		return runGen(ctx, args[1:], stdout, stderr)
	case "ingest":
		return runIngest(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "local":
		return runLocal(ctx, args[1:], stdout, stderr)
	case "invoke":
		return runInvoke(ctx, args[1:], stdout, stderr)
	case "train":
		return runTrain(ctx, args[1:], stdout, stderr)
	case "score":
		return runScore(ctx, args[1:], stdout, stderr)
	case "maintain":
		return runMaintain(ctx, args[1:], stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], stdout, stderr)
	case "uplift":
		return runUplift(ctx, args[1:], stdout, stderr)
	case "survival":
		return runSurvival(ctx, args[1:], stdout, stderr)
	case "users":
		return runUsers(ctx, args[1:], os.Stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
