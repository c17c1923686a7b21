package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestMain turns the test binary into the measured child when asked.
func TestMain(m *testing.M) {
	if mib, err := strconv.Atoi(os.Getenv("PROC_TEST_CHILD_MIB")); err == nil {
		b := make([]byte, mib<<20)
		for i := range b { // touch every page: it counts in RSS
			b[i] = byte(i)
		}
		fmt.Print("ok", b[len(b)-1]&0)
		fmt.Fprint(os.Stderr, "to stderr")
		os.Exit(mib % 7) // a non-zero exit for sizes not divisible by 7
	}
	os.Exit(m.Run())
}

func TestRunMeasuresTheChild(t *testing.T) {
	for _, tc := range []struct {
		mib  int
		exit int
	}{{70, 0}, {150, 3}} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "PROC_TEST_CHILD_MIB="+strconv.Itoa(tc.mib))
		res, stdout, stderr, err := Run(cmd)
		var ee *exec.ExitError
		switch {
		case tc.exit == 0 && err != nil:
			t.Fatalf("%d MiB: %v", tc.mib, err)
		case tc.exit != 0 && (!errors.As(err, &ee) || ee.ExitCode() != tc.exit):
			t.Fatalf("%d MiB: error %v, want exit status %d", tc.mib, err, tc.exit)
		}
		if string(stdout) != "ok0" || string(stderr) != "to stderr" {
			t.Errorf("%d MiB: stdout %q, stderr %q", tc.mib, stdout, stderr)
		}
		if res.RSSMiB() < float64(tc.mib) || res.CPU <= 0 || res.Wall <= 0 {
			t.Errorf("%d MiB child: %+v (RSS %.0f MiB)", tc.mib, res, res.RSSMiB())
		}
	}
}

// A child's peak RSS is its own, not its parent's: wait4 reports at least
// the parent's peak (Linux carries the high-water RSS of the address space
// a process execs from, and Go starts children in its own), so a 20 MiB
// child of a parent holding 400 MiB reported 400 MiB before.
func TestRunDoesNotReportTheParentsPeak(t *testing.T) {
	hold := make([]byte, 400<<20)
	for i := range hold {
		hold[i] = byte(i)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROC_TEST_CHILD_MIB=21")
	res, _, _, err := Run(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if res.RSSMiB() <= 0 || res.RSSMiB() >= 200 {
		t.Errorf("a 21 MiB child of a parent holding 400 MiB: peak RSS %.0f MiB, want the child's own", res.RSSMiB())
	}
	if hold[len(hold)-1] != byte(len(hold)-1) {
		t.Fatal("held memory changed")
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 2, "…ef"}, {"", 1, ""}} {
		if got := Tail(tc.s, tc.n); got != tc.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
