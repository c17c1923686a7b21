// Package lambdamain starts telcolake's Lambda functions: the lake the
// environment describes opened once (lake.OpenEnv, or lake.ConnectEnv for
// a reader), one logger with the request id (lambdacontext), the handler
// wired from them and started with lambda.Start. A function's main is the
// wiring alone.
package lambdamain

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/telcolake/telcolake/lake"
)

// Wire builds a function's handler (any handler lambda.Start takes) from
// the open lake and the function's logger. ctx carries the lake's AWS
// configuration.
type Wire func(ctx context.Context, conn *lake.Conn, log *slog.Logger) (handler any, err error)

// Start opens the lake (creating missing tables), wires the handler and
// starts it. An error before the first event is printed, prefixed with
// name, and exits 1, so the Lambda init fails with the reason.
func Start(name string, wire Wire) { start(name, lake.OpenEnv, wire) }

// StartReader is Start for a function that may only read the catalog: it
// creates nothing (lake.ConnectEnv).
func StartReader(name string, wire Wire) { start(name, lake.ConnectEnv, wire) }

func start(name string, open func(context.Context) (*lake.Conn, context.Context, error), wire Wire) {
	h, ctx, err := build(open, wire, lambdacontext.NewLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx))
}

// build opens the lake and wires the handler: what Start does before
// lambda.Start.
func build(open func(context.Context) (*lake.Conn, context.Context, error), wire Wire, log *slog.Logger) (any, context.Context, error) {
	conn, ctx, err := open(context.Background())
	if err != nil {
		return nil, ctx, err
	}
	h, err := wire(ctx, conn, log)
	if err != nil {
		conn.Close()
		return nil, ctx, err
	}
	return h, ctx, nil
}
