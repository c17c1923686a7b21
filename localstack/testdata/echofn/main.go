// Command echofn is a test function for the runner: its event says what to do.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Do      string `json:"do"` // echo, error, panic, sleep, exit
	Message string `json:"message"`
}

type reply struct {
	Message  string `json:"message"`
	Function string `json:"function"`
	Request  string `json:"request"`
	ARN      string `json:"arn"`
	Deadline int64  `json:"deadline_ms"`
	Pid      int    `json:"pid"`
}

func main() {
	lambda.Start(func(ctx context.Context, ev event) (reply, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		switch ev.Do {
		case "error":
			return reply{}, errors.New(ev.Message)
		case "panic":
			panic(ev.Message)
		case "sleep":
			time.Sleep(time.Hour)
		case "exit":
			os.Exit(3)
		}
		return reply{Message: ev.Message, Function: lambdacontext.FunctionName, Request: lc.AwsRequestID,
			ARN: lc.InvokedFunctionArn, Deadline: dl.UnixMilli(), Pid: os.Getpid()}, nil
	})
}
