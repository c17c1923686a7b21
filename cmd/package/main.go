// Command package builds every function's Lambda package into dist/
// (make package): dist/<function>.zip with a linux/arm64 bootstrap.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/telcolake/telcolake/infra"
)

func main() {
	out := flag.String("out", "dist", "directory the zips are written to")
	flag.Parse()
	if _, err := infra.Build(context.Background(), infra.BuildOptions{Repo: ".", Out: *out, Functions: flag.Args(), Log: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}
