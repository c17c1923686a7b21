package scoring

import (
	"slices"
	"testing"
	"time"
)

func TestChooseRuns(t *testing.T) {
	m := func(s string) int32 {
		d, err := time.Parse("2006-01", s)
		if err != nil {
			t.Fatal(err)
		}
		return epochDay(d)
	}
	month := func(run, fm string) runFile { return runFile{run: run, lo: m(fm), hi: m(fm), bounded: true} }
	cases := []struct {
		name  string
		files []runFile
		want  []string
	}{
		{"none", nil, []string{}},
		{"one run", []runFile{month("20260703T050000Z", "2026-06"), month("20260703T050000Z", "2026-06")},
			[]string{"20260703T050000Z"}},
		{"daily runs of one feature month: its first and the calendar month's last", []runFile{
			month("20260703T050000Z", "2026-06"), month("20260704T050000Z", "2026-06"), month("20260716T050000Z", "2026-06"),
		}, []string{"20260703T050000Z", "20260716T050000Z"}},
		// The first run of August still scores June (July's data was late):
		// July's first run is the second of August, neither the calendar
		// month's first nor its last.
		{"a feature month's first run in the middle of a calendar month", []runFile{
			month("20260703T050000Z", "2026-06"), month("20260731T050000Z", "2026-06"),
			month("20260801T050000Z", "2026-06"), month("20260802T050000Z", "2026-07"),
			month("20260815T050000Z", "2026-07"), month("20260831T050000Z", "2026-07"),
		}, []string{"20260703T050000Z", "20260731T050000Z", "20260802T050000Z", "20260831T050000Z"}},
		{"files without bounds: the calendar month's first stands in", []runFile{
			{run: "20260703T050000Z"}, {run: "20260704T050000Z"}, {run: "20260716T050000Z"},
		}, []string{"20260703T050000Z", "20260716T050000Z"}},
		{"a run with one file without bounds counts as unbounded", []runFile{
			month("20260801T050000Z", "2026-06"), month("20260802T050000Z", "2026-07"), {run: "20260802T050000Z"},
			month("20260803T050000Z", "2026-07"), month("20260810T050000Z", "2026-07"),
		}, []string{"20260801T050000Z", "20260803T050000Z", "20260810T050000Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := chooseRuns(c.files); !slices.Equal(got, c.want) {
				t.Errorf("chooseRuns = %v, want %v", got, c.want)
			}
		})
	}
}
