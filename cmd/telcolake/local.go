package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/telcolake/telcolake/api"
	"github.com/telcolake/telcolake/localstack"
	"github.com/telcolake/telcolake/web"
)

// localFlags are the flags shared by 'local' and 'demo'.
type localFlags struct {
	dir, repo, s3, http, lambda string
}

func (l *localFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.dir, "dir", ".localdata", "`directory` for the stack's S3 data, binaries and catalog")
	fs.StringVar(&l.repo, "repo", "", "repository `root` (default: found from the working directory)")
	fs.StringVar(&l.s3, "s3", "127.0.0.1:4566", "S3 listen `address` (LocalStack's port)")
	fs.StringVar(&l.http, "http", "127.0.0.1:8080", "HTTP API gateway listen `address`")
	fs.StringVar(&l.lambda, "lambda", "127.0.0.1:9001", "Lambda Invoke API listen `address` (for telcolake invoke)")
}

// demoPseudonymKey keys contact hashes in the local stack only.
const demoPseudonymKey = "local-stack-pseudonym-key-not-a-secret"

// demoAPIKeys are the local stack's API keys, one per role; the api
// function gets only their SHA-256 hashes (template parameter ApiKeys).
var demoAPIKeys = []struct{ name, role, secret string }{
	{"demo-agent", "agent", "tlk_demo_agent_3f9c1e"},
	{"demo-analyst", "analyst", "tlk_demo_analyst_8b2d7a"},
	{"demo-admin", "admin", "tlk_demo_admin_c41f5e"},
}

// demoAPIKeyHashes is the ApiKeys parameter for the demo keys.
func demoAPIKeyHashes() string {
	var entries []string
	for _, k := range demoAPIKeys {
		sum := sha256.Sum256([]byte(k.secret))
		entries = append(entries, k.name+":"+k.role+":"+hex.EncodeToString(sum[:]))
	}
	return strings.Join(entries, ",")
}

// demoUsers are the local console's staff, one per role; the api function
// gets only their bcrypt hashes (template parameter ConsoleUsers).
var demoUsers = []struct{ name, role, password string }{
	{"agent", "agent", "demo-agent-pw"},
	{"analyst", "analyst", "demo-analyst-pw"},
	{"admin", "admin", "demo-admin-pw"},
}

// demoConsoleKey signs the local console's sessions (a fixed demo value,
// like the demo keys: never for a real deployment).
const demoConsoleKey = "74656c636f6c616b652d64656d6f2d636f6e736f6c652d6b65792d303132333435"

// demoUserEntries is the ConsoleUsers parameter for the demo users.
func demoUserEntries() (string, error) {
	var entries []string
	for _, u := range demoUsers {
		usr, err := web.NewUser(u.name, api.Role(u.role), u.password)
		if err != nil {
			return "", err
		}
		entries = append(entries, usr.Entry())
	}
	return strings.Join(entries, ","), nil
}

// startLocal builds the functions and starts the stack, printing progress.
func startLocal(ctx context.Context, l localFlags, out io.Writer, logw io.Writer, onDelivery func(localstack.Delivery)) (*localstack.Stack, string, error) {
	repo := l.repo
	if repo == "" {
		var err error
		if repo, err = findRepo(); err != nil {
			return nil, "", err
		}
	}
	dir, err := filepath.Abs(l.dir)
	if err != nil {
		return nil, "", err
	}
	tpl, err := localstack.LoadTemplate(filepath.Join(repo, "infra", "template.yaml"))
	if err != nil {
		return nil, "", err
	}
	t0 := time.Now()
	pkgs := map[string]bool{}
	for _, f := range tpl.Functions {
		pkgs[f.Package] = true // the api shard functions run the api package
	}
	fmt.Fprintf(out, "    building the %d function package(s) of infra/template.yaml's %d functions (the first build takes a minute) ...\n", len(pkgs), len(tpl.Functions))
	bins, err := localstack.Build(ctx, repo, dir, tpl)
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(out, "    built %s in %.1fs\n", strings.Join(names(tpl), ", "), time.Since(t0).Seconds())
	t1 := time.Now()
	catalog := "sqlite://" + filepath.Join(dir, "catalog.db")
	users, err := demoUserEntries()
	if err != nil {
		return nil, "", err
	}
	st, err := localstack.Start(ctx, localstack.Config{
		Dir: dir, Repo: repo, S3Addr: l.s3, HTTPAddr: l.http, LambdaAddr: l.lambda,
		Params: map[string]string{"CatalogURI": catalog, "PseudonymKey": demoPseudonymKey,
			"ApiKeys": demoAPIKeyHashes(), "ApiKeysParameter": "", "ConsoleUsers": users, "ConsoleSessionKey": demoConsoleKey},
		Binaries: bins, Schedules: true, Log: logw, OnDelivery: onDelivery,
	})
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(out, "    stack up in %.2fs: S3 %s, HTTP API %s, Lambda API %s\n", time.Since(t1).Seconds(), st.S3.Endpoint(), st.HTTPURL, st.LambdaURL)
	return st, catalog, nil
}

func names(t *localstack.Template) []string {
	var out []string
	for _, f := range t.Functions {
		out = append(out, f.Name)
	}
	return out
}

// findRepo walks up from the working directory to the telcolake module root.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/telcolake/telcolake\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the telcolake repository (no go.mod of github.com/telcolake/telcolake above the working directory); use -repo")
		}
		dir = parent
	}
}

// runLocal implements 'telcolake local': the stack, until interrupted.
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var l localFlags
	l.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	st, _, err := startLocal(ctx, l, stdout, stderr, nil)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	defer st.Close()
	printEndpoints(stdout, st)
	fmt.Fprintln(stdout, "Running until Ctrl-C.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping ...")
	return nil
}

func printEndpoints(w io.Writer, st *localstack.Stack) {
	fmt.Fprintf(w, `
Local AWS (data kept in the stack directory):
  export AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s
  landing bucket  %s   (drop exports under exports/cdr/, exports/bills/, exports/subscribers/, exports/responses/)
  lake bucket     %s
  functions       %s   (telcolake invoke <function> [event.json])
  HTTP API        %s   (keys: %s)
  staff console   %s/console/   (plain http on 127.0.0.1: session cookies without Secure)
                  sign in as %s
`, st.S3.Endpoint(), localstack.LocalAccessKey, localstack.LocalSecretKey, localstack.Region,
		st.Buckets["LandingBucket"], st.Buckets["LakeBucket"], strings.Join(st.Functions(), ", "), st.HTTPURL, demoKeyList(),
		st.HTTPURL, demoUserList())
}

// demoUserList prints the demo users as name / password pairs.
func demoUserList() string {
	var out []string
	for _, u := range demoUsers {
		out = append(out, u.name+" / "+u.password)
	}
	return strings.Join(out, ", ")
}

// runInvoke implements 'telcolake invoke <function> [event.json]' against a
// running stack's Lambda Invoke API.
func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "http://127.0.0.1:9001", "Lambda Invoke API of the running stack")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: telcolake invoke [-endpoint URL] <function> [event.json|-]\n\nInvokes a function of a running 'telcolake local' (or make demo) stack; the event defaults to {}.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return errors.New("invoke: want a function name and optionally an event file")
	}
	payload := []byte("{}")
	if fs.NArg() == 2 {
		var err error
		if fs.Arg(1) == "-" {
			payload, err = io.ReadAll(os.Stdin)
		} else {
			payload, err = os.ReadFile(fs.Arg(1))
		}
		if err != nil {
			return fmt.Errorf("invoke: event: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *endpoint+"/2015-03-31/functions/"+fs.Arg(0)+"/invocations", bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("invoke: is the stack running ('make demo' or 'telcolake local')? %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	stdout.Write(body)
	fmt.Fprintln(stdout)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("invoke %s: HTTP %d", fs.Arg(0), resp.StatusCode)
	}
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
		return fmt.Errorf("invoke %s: function error (%s)", fs.Arg(0), fe)
	}
	return nil
}

func demoKeyList() string {
	var out []string
	for _, k := range demoAPIKeys {
		out = append(out, k.role+" "+k.secret)
	}
	return strings.Join(out, ", ")
}
