package evaluate

import (
	"bytes"
	"fmt"
)

// SampleSection says which rows a model was fitted and judged on: every
// row of the window, or a sample of them, with its strata, so that no one
// reads a sample's figures as the whole base's.
type SampleSection struct {
	// Sampled is false when every row of the window was kept.
	Sampled bool
	// Description is the sample in one sentence.
	Description                      string
	TrainPopulation, ValidPopulation int
	Strata                           []SampleStratum
}

// SampleStratum is one stratum of a sample: rows in the window, rows kept.
type SampleStratum struct {
	Part, Month, Class string
	Population, Rows   int
}

// markdown writes the section.
func (s *SampleSection) markdown(b *bytes.Buffer) {
	b.WriteString("## Sample\n\n")
	if !s.Sampled {
		fmt.Fprintf(b, "Every row of the window: %s.\n\n", s.Description)
		return
	}
	fmt.Fprintf(b, "The model was fitted and judged on %s. The validation rows are a later month than every training row (out of time) and were never fitted on; every figure of this report is measured on the validation sample, not on the whole base.\n\n", s.Description)
	var rows [][]string
	for _, st := range s.Strata {
		rows = append(rows, []string{st.Part, st.Month, st.Class, thousands(st.Population), thousands(st.Rows), percent(ratio(st.Rows, st.Population), 1)})
	}
	table(b, []string{"Part", "Month", "Class", "Rows in the window", "Rows kept", "Share"}, "lllrrr", rows)
	b.WriteString("\n")
}
