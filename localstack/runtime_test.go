package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildOnce builds test binaries once per test process.
var buildOnce sync.Map

func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(pkg, &sync.Once{})
	out := filepath.Join(os.TempDir(), "telcolake-localstack-test-"+strings.ReplaceAll(pkg, "/", "_"), "bootstrap")
	var err error
	v.(*sync.Once).Do(func() {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		var b []byte
		b, err = cmd.CombinedOutput()
		if err != nil {
			err = errors.New(string(b))
		}
	})
	if err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRuntimeAPIConformance(t *testing.T) {
	bin := buildBinary(t, "github.com/telcolake/telcolake/localstack/testdata/echofn")
	logs := &syncBuffer{}
	f, err := StartFunction(FunctionConfig{Name: "echo", Binary: bin, Timeout: 2 * time.Second, Log: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	call := func(do, msg string) (reply map[string]any, err error) {
		payload, _ := json.Marshal(map[string]string{"do": do, "message": msg})
		out, err := f.Invoke(ctx, payload)
		if err != nil {
			return nil, err
		}
		if jerr := json.Unmarshal(out, &reply); jerr != nil {
			t.Fatalf("reply %s: %v", out, jerr)
		}
		return reply, nil
	}

	start := time.Now()
	r, err := call("echo", "hello")
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	if r["message"] != "hello" || r["function"] != "echo" || r["arn"] != f.ARN() || r["request"] == "" {
		t.Errorf("echo reply %v: want message, function name, ARN and request id passed through", r)
	}
	if dl := int64(r["deadline_ms"].(float64)); dl < start.Add(time.Second).UnixMilli() || dl > time.Now().Add(2*time.Second).UnixMilli() {
		t.Errorf("deadline %d not about 2 s after the invocation", dl)
	}
	pid := r["pid"]

	tests := []struct {
		do, msg, wantType, wantMsg string
	}{
		{"error", "boom", "errorString", "boom"},
		{"panic", "kaboom", "", "kaboom"}, // aws-lambda-go reports the panic value
		{"sleep", "", "Sandbox.Timedout", "Task timed out after 2.00 seconds"},
		{"exit", "", "Runtime.ExitError", "exit status 3"},
	}
	for _, tc := range tests {
		t.Run(tc.do, func(t *testing.T) {
			_, err := call(tc.do, tc.msg)
			var fe *FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("Invoke(%s) = %v, want a FunctionError", tc.do, err)
			}
			if (tc.wantType != "" && fe.ErrorType != tc.wantType) || !strings.Contains(fe.ErrorMessage, tc.wantMsg) {
				t.Errorf("Invoke(%s) = %s / %q, want %s / %q", tc.do, fe.ErrorType, fe.ErrorMessage, tc.wantType, tc.wantMsg)
			}
			// The runner survives: the next invocation works.
			if r, err := call("echo", "again"); err != nil || r["message"] != "again" {
				t.Errorf("after %s: echo = %v, %v", tc.do, r, err)
			}
		})
	}
	if r, _ := call("echo", "x"); r["pid"] == pid {
		t.Errorf("the process that timed out and the one that exited were not replaced (pid %v)", pid)
	}
	if !strings.Contains(logs.String(), "[echo] ") {
		t.Errorf("function logs not prefixed with its name: %q", logs.String())
	}
}
