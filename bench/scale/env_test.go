package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/telcolake/telcolake/localstack"
)

func envValue(env []string, key string) (string, int) {
	val, n := "", 0
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			val, n = v, n+1
		}
	}
	return val, n
}

// The template's literal values reach the child over this process's
// environment; its references do not, the local lake's settings stand for
// them; every variable is set once.
func TestChildEnv(t *testing.T) {
	f := localstack.FunctionDef{Name: "score", Env: map[string]localstack.Value{
		"GOMEMLIMIT":                 {Literal: "2600MiB"},
		"AWS_LAMBDA_LOG_FORMAT":      {Literal: "JSON"},
		"TELCOLAKE_WAREHOUSE":        {Sub: "s3://${LakeBucket}/warehouse"},
		"TELCOLAKE_PSEUDONYM_KEY":    {Ref: "PseudonymKey"},
		"TELCOLAKE_REJECT_THRESHOLD": {Ref: "RejectThreshold"},
	}}
	base := []string{"PATH=/bin", "GOMEMLIMIT=off", "TELCOLAKE_WAREHOUSE=s3://elsewhere"}
	local := []string{"TELCOLAKE_WAREHOUSE=file:///lake/warehouse", "TELCOLAKE_PSEUDONYM_KEY=k"}
	env := childEnv(base, f, local)
	for _, tc := range []struct{ key, want string }{
		{"PATH", "/bin"},
		{"GOMEMLIMIT", "2600MiB"},
		{"AWS_LAMBDA_LOG_FORMAT", "JSON"},
		{"TELCOLAKE_WAREHOUSE", "file:///lake/warehouse"},
		{"TELCOLAKE_PSEUDONYM_KEY", "k"},
		{"TELCOLAKE_REJECT_THRESHOLD", ""},
	} {
		got, n := envValue(env, tc.key)
		if tc.want == "" {
			if n != 0 {
				t.Errorf("%s set to %q, want unset (a !Ref without a local value)", tc.key, got)
			}
			continue
		}
		if got != tc.want || n != 1 {
			t.Errorf("%s = %q (set %d times), want %q once", tc.key, got, n, tc.want)
		}
	}
}

// A function's child process carries the GOMEMLIMIT the repository's
// template gives it, and one without a GOMEMLIMIT in the template keeps
// this process's: the child here is a script that answers with its own
// environment.
func TestInvokeChildCarriesTemplateEnv(t *testing.T) {
	tpl, err := localstack.LoadTemplate(filepath.Join("..", "..", "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, f := range tpl.Functions {
		if v, ok := f.Env["GOMEMLIMIT"]; ok && v.Literal != "" {
			want[f.Name] = v.Literal
		}
	}
	if want["ingest"] == "" {
		t.Fatalf("the template gives ingest no literal GOMEMLIMIT: %v", want)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "child")
	body := "#!/bin/sh\nprintf '{\"gomemlimit\":\"%s\",\"warehouse\":\"%s\"}' \"$GOMEMLIMIT\" \"$TELCOLAKE_WAREHOUSE\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &runner{self: script, tpl: tpl, base: []string{"PATH=" + os.Getenv("PATH"), "GOMEMLIMIT=base"},
		env: []string{"TELCOLAKE_WAREHOUSE=file:///lake"}}
	for _, f := range tpl.Functions {
		out, err := r.invoke(context.Background(), f.Name, []byte(`{"action":"x"}`))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		var got struct{ Gomemlimit, Warehouse string }
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %q: %v", f.Name, out, err)
		}
		exp := want[f.Name]
		if exp == "" {
			exp = "base"
		}
		if got.Gomemlimit != exp || got.Warehouse != "file:///lake" {
			t.Errorf("%s: child GOMEMLIMIT %q, warehouse %q; want %q, file:///lake", f.Name, got.Gomemlimit, got.Warehouse, exp)
		}
	}
}
