package infra

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// crossCompile builds a C program for aarch64 with Debian's cross
// compiler, dynamically linked unless flags say otherwise.
func crossCompile(t *testing.T, src string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath(CrossCC); err != nil {
		t.Skipf("%s not installed (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)", CrossCC)
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "p.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "p")
	args := append([]string{"-O1", "-o", bin, c}, flags...)
	if out, err := exec.Command(CrossCC, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", CrossCC, err, out)
	}
	return bin
}

// TestCheckBinary runs the check on real arm64 programs: one needing
// arc4random (glibc 2.36, newer than provided.al2023's 2.34) is refused,
// one needing only old symbols and a static one pass, a host (amd64)
// program and a non-ELF file are refused.
func TestCheckBinary(t *testing.T) {
	const old = "#include <stdio.h>\nint main(void){ printf(\"hi\\n\"); return 0; }\n"
	const newer = "#include <stdio.h>\n#include <stdlib.h>\nint main(void){ printf(\"%u\\n\", arc4random()); return 0; }\n"
	host, err := os.Executable() // this test binary: the host's architecture
	if err != nil {
		t.Fatal(err)
	}
	notELF := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string // "" for pass
	}{
		{"dynamic, GLIBC_2.17 only", crossCompile(t, old), ""},
		{"static", crossCompile(t, newer, "-static"), ""},
		{"dynamic, arc4random needs GLIBC_2.36", crossCompile(t, newer), "needs GLIBC_2.36, newer than provided.al2023's glibc 2.34"},
		{"host binary", host, "want EM_AARCH64"},
		{"not ELF", notELF, "bad magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBinary(tt.path, RuntimeGlibc)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckBinary = %v, want it accepted", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckBinary = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// The same dynamic program passes a runtime with glibc 2.36.
	if err := CheckBinary(tests[2].path, "2.36"); err != nil {
		t.Errorf("CheckBinary(arc4random program, 2.36) = %v, want it accepted", err)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign
	}{
		{"2.34", "2.34", 0}, {"2.35", "2.34", 1}, {"2.4", "2.34", -1}, {"2.34.1", "2.34", 1}, {"3", "2.99", 1},
	}
	for _, tt := range tests {
		a, _ := parseVersion(tt.a)
		b, _ := parseVersion(tt.b)
		got := compareVersions(a, b)
		if (got > 0) != (tt.want > 0) || (got < 0) != (tt.want < 0) {
			t.Errorf("compareVersions(%s, %s) = %d, want sign %d", tt.a, tt.b, got, tt.want)
		}
	}
}
