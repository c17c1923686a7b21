package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSurvivalCommand runs 'telcolake survival' on the hand example of
// insight's tests, split into two groups.
func TestSurvivalCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.csv")
	csv := "id,months,left,plan\n1,1,yes,a\n2,2,yes,b\n3,2,no,a\n4,3,yes,b\n5,4,no,a\n6,4,yes,b\n7,5,no,a\n8,6,yes,b\n"
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"survival", "-csv", path, "-duration", "months", "-event", "left", "-by", "plan", "-at", "2,3"}, &out, &errb)
	if err != nil {
		t.Fatalf("survival: %v (%s)", err, errb.String())
	}
	for _, want := range []string{
		"subjects 8, events 5 (62.5%), censored 3",
		"median lifetime 4 (95% CI",
		"survival at 2: 0.7500",
		"survival at 3: 0.6000",
		"log-rank test: chi² =",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, bad := range [][]string{
		{"survival", "-csv", path, "-duration", "nope", "-event", "left"},
		{"survival", "-csv", path, "-duration", "months", "-event", "plan"},
		{"survival", "-csv", path, "-duration", "months", "-event", "left", "-at", "x"},
		{"survival", "-csv", path},
	} {
		if err := run(context.Background(), bad, &out, &errb); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
