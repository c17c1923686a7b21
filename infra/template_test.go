package infra

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTemplateValid checks infra/template.yaml against the specification
// and against the packages Build makes.
func TestTemplateValid(t *testing.T) {
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fns, err := Functions("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckTemplate(data, CheckOptions{Functions: fns}); err != nil {
		t.Error(err)
	}
}

// TestBrokenTemplates checks each template under testdata/ whose first
// line is "# want: <message>" fails with that message, and good.yaml
// passes.
func TestBrokenTemplates(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata templates: %v (%d)", err, len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, broken := strings.CutPrefix(first, "# want: ")
			err = CheckTemplate(data, CheckOptions{Functions: []string{"fn"}})
			if !broken {
				if err != nil {
					t.Errorf("CheckTemplate(%s) = %v, want no problem", f, err)
				}
				return
			}
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("CheckTemplate(%s) = %v, want a *TemplateError", f, err)
			}
			if len(te.Problems) != 1 || !strings.Contains(te.Problems[0], want) {
				t.Errorf("CheckTemplate(%s) = %v\nwant one problem containing %q", f, err, want)
			}
		})
	}
}

func TestIAMAction(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		action string
		want   bool
	}{
		{"s3:GetObject", true},
		{"S3:getobject", true}, // IAM action names are case-insensitive
		{"s3:Get*", true},
		{"s3:*", true},
		{"*", true},
		{"glue:GetTable", true},
		{"sqs:ReceiveMessage", true},
		{"s3:GetObjekt", false},
		{"s3:Fly*", false},
		{"s4:GetObject", false},
		{"GetObject", false},
		{"s3:", false},
	}
	for _, tt := range tests {
		if got := spec.IAMAction(tt.action); got != tt.want {
			t.Errorf("IAMAction(%q) = %v, want %v", tt.action, got, tt.want)
		}
	}
}
