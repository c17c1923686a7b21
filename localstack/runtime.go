package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FunctionConfig describes one function to run as a Lambda custom runtime.
type FunctionConfig struct {
	Name   string
	Binary string // the bootstrap executable
	// Emulator, when set, runs Binary under it: a command and its
	// arguments before Binary, e.g. [qemu-aarch64-static] for the arm64
	// bootstraps of dist/ on another machine.
	Emulator []string
	Env      []string      // KEY=value, added to the runtime's own variables
	Timeout  time.Duration // per invocation; Lambda's default is 3 s
	Memory   int           // MB, reported to the function
	Region   string
	Log      io.Writer // the function's stdout and stderr, one prefixed line at a time
}

// FunctionError is an invocation's error, as the Lambda Invoke API reports
// it (the body of a response with X-Amz-Function-Error).
type FunctionError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.ErrorType + ": " + e.ErrorMessage }

// Function runs one function binary as a warm process behind a Lambda
// Runtime API server, restarting the process when it dies, and serialises
// invocations as one Lambda execution environment does.
type Function struct {
	cfg      FunctionConfig
	ln       net.Listener
	srv      *http.Server
	queue    chan *invocation
	mu       sync.Mutex
	inflight map[string]*invocation
	proc     *exec.Cmd
	exited   chan struct{} // closed when proc exits
	closed   bool
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan invocationResult
	once     sync.Once
}

type invocationResult struct {
	payload []byte
	err     *FunctionError
}

func (inv *invocation) finish(r invocationResult) {
	inv.once.Do(func() { inv.done <- r })
}

// StartFunction serves the Runtime API for cfg on a free loopback port; the
// process itself starts on the first invocation and stays warm.
func StartFunction(cfg FunctionConfig) (*Function, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Memory <= 0 {
		cfg.Memory = 128
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("function %s: runtime API listener: %w", cfg.Name, err)
	}
	f := &Function{cfg: cfg, ln: ln, queue: make(chan *invocation), inflight: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", f.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", f.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", f.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", f.initError)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

// Name is the function's name.
func (f *Function) Name() string { return f.cfg.Name }

// ARN is the function ARN reported to the function.
func (f *Function) ARN() string {
	return "arn:aws:lambda:" + f.cfg.Region + ":000000000000:function:" + f.cfg.Name
}

// Invoke runs one invocation and returns the function's response payload,
// or a *FunctionError for a handled error, a panic, a crash or a timeout.
// Other errors mean the invocation could not be run at all.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	inv := &invocation{id: newRequestID(), payload: payload, done: make(chan invocationResult, 1),
		deadline: time.Now().Add(f.cfg.Timeout)}
	// A process that is exiting (after a panic, a crash or a timeout) cannot
	// take the invocation: wait for it to end and start a fresh one.
	for attempt := 0; ; attempt++ {
		exited, err := f.ensureRunning()
		if err != nil {
			return nil, err
		}
		select {
		case f.queue <- inv: // the runtime asked for the next event
		case <-exited:
			if attempt < 3 {
				continue
			}
			return nil, &FunctionError{ErrorType: "Runtime.ExitError", ErrorMessage: "the runtime keeps exiting before taking an invocation"}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		break
	}
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case r := <-inv.done:
		if r.err != nil {
			return nil, r.err
		}
		return r.payload, nil
	case <-timer.C:
		f.kill() // as Lambda does: the environment is torn down
		return nil, &FunctionError{ErrorType: "Sandbox.Timedout", ErrorMessage: fmt.Sprintf("Task timed out after %.2f seconds", f.cfg.Timeout.Seconds())}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the process and the Runtime API server.
func (f *Function) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.kill()
	return f.srv.Close()
}

// ensureRunning starts the process unless it runs; it returns a channel
// closed when that process exits.
func (f *Function) ensureRunning() (<-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("function %s: stopped", f.cfg.Name)
	}
	if f.proc != nil {
		return f.exited, nil
	}
	cmd := exec.Command(f.cfg.Binary)
	if len(f.cfg.Emulator) > 0 {
		cmd = exec.Command(f.cfg.Emulator[0], append(f.cfg.Emulator[1:], f.cfg.Binary)...)
	}
	cmd.Env = append(os.Environ(), f.cfg.Env...)
	cmd.Env = append(cmd.Env,
		"AWS_LAMBDA_RUNTIME_API="+f.ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME="+f.cfg.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(f.cfg.Memory),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+f.cfg.Name,
		"AWS_REGION="+f.cfg.Region,
		"AWS_DEFAULT_REGION="+f.cfg.Region,
		"_HANDLER=bootstrap",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out := &lineWriter{prefix: "[" + f.cfg.Name + "] ", w: f.cfg.Log}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("function %s: start %s: %w", f.cfg.Name, f.cfg.Binary, err)
	}
	f.proc = cmd
	exited := make(chan struct{})
	f.exited = exited
	go func() {
		err := cmd.Wait()
		out.Flush()
		f.mu.Lock()
		if f.proc == cmd {
			f.proc = nil
		}
		pending := f.inflight
		f.inflight = map[string]*invocation{}
		closed := f.closed
		f.mu.Unlock()
		close(exited)
		msg := "the runtime exited"
		if err != nil {
			msg = "Runtime exited with error: " + err.Error()
		}
		for _, inv := range pending {
			inv.finish(invocationResult{err: &FunctionError{ErrorType: "Runtime.ExitError", ErrorMessage: msg}})
		}
		if !closed {
			fmt.Fprintf(f.cfg.Log, "[%s] runtime process ended (%v); it restarts on the next invocation\n", f.cfg.Name, err)
		}
	}()
	return exited, nil
}

func (f *Function) kill() {
	f.mu.Lock()
	p := f.proc
	f.mu.Unlock()
	if p != nil && p.Process != nil {
		syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
	}
}

// next hands the runtime its next event, blocking until there is one.
func (f *Function) next(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-f.queue:
		f.mu.Lock()
		f.inflight[inv.id] = inv
		f.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", f.ARN())
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+inv.id[:8]+"-"+inv.id[8:32]+";Sampled=0")
		h.Set("Content-Type", "application/json")
		w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

func (f *Function) take(w http.ResponseWriter, id string) *invocation {
	f.mu.Lock()
	inv := f.inflight[id]
	delete(f.inflight, id)
	f.mu.Unlock()
	if inv == nil {
		http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
	}
	return inv
}

func (f *Function) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv := f.take(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	if len(body) > 6<<20 {
		inv.finish(invocationResult{err: &FunctionError{ErrorType: "Function.ResponseSizeTooLarge", ErrorMessage: "response payload larger than 6 MB"}})
		http.Error(w, `{"errorMessage":"payload too large","errorType":"RequestEntityTooLarge"}`, http.StatusRequestEntityTooLarge)
		return
	}
	inv.finish(invocationResult{payload: body})
	accepted(w)
}

func (f *Function) invocationError(w http.ResponseWriter, r *http.Request) {
	fe := readFunctionError(r)
	inv := f.take(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	inv.finish(invocationResult{err: fe})
	accepted(w)
}

func (f *Function) initError(w http.ResponseWriter, r *http.Request) {
	fe := readFunctionError(r)
	fmt.Fprintf(f.cfg.Log, "[%s] init error: %s\n", f.cfg.Name, fe.Error())
	accepted(w)
}

// accepted is the Runtime API's answer to a report it took.
func accepted(w http.ResponseWriter) {
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
}

func readFunctionError(r *http.Request) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fe := &FunctionError{}
	if json.Unmarshal(body, fe) != nil || (fe.ErrorMessage == "" && fe.ErrorType == "") {
		fe.ErrorMessage = strings.TrimSpace(string(body))
	}
	if fe.ErrorType == "" {
		fe.ErrorType = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if fe.ErrorType == "" {
		fe.ErrorType = "Unhandled"
	}
	return fe
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// lineWriter prefixes every line written through it.
type lineWriter struct {
	prefix string
	w      io.Writer
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadBytes('\n')
		if err != nil {
			l.buf.Write(line) // incomplete: keep for later
			break
		}
		fmt.Fprintf(l.w, "%s%s", l.prefix, line)
	}
	return len(p), nil
}

// Flush writes a trailing incomplete line.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf.String())
		l.buf.Reset()
	}
}
