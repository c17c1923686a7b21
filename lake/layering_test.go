package lake_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps imports pointing down: functions and cmd wire the
// packages below them; nothing imports functions/ or cmd/; the lake (and
// the generator) import none of the packages above them.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "github.com/telcolake/telcolake/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/telcolake/telcolake/"
	forbidden := map[string][]string{
		"lake":       {"localstack", "functions/", "cmd/", "synth"},
		"synth":      {"lake", "localstack", "functions/", "cmd/"},
		"localstack": {"functions/", "cmd/"},
		"reconcile":  {"localstack", "functions/", "cmd/"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		for _, dep := range fields[1:] {
			dep, ok := strings.CutPrefix(dep, mod)
			if !ok {
				continue
			}
			if strings.HasPrefix(dep, "functions/") || strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s imports %s: nothing may import functions/ or cmd/", pkg, dep)
			}
			for _, bad := range forbidden[pkg] {
				if strings.HasPrefix(dep, bad) {
					t.Errorf("%s imports %s, which sits above it", pkg, dep)
				}
			}
		}
	}
}
