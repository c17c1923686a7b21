package dataset

import "testing"

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{0.25, "%", "25%"},
		{-0.4, "%", "-40%"},
		{0, "%", "0%"},
		{3, "months", "3 months"},
		{1, "months", "1 month"},
		{1, "SMS", "1 SMS"},
		{1, "s", "1 s"},
		{264.5, "s", "264.5 s"},
		{12345.678, "", "12346"},
		{0.000123, "", "0.000123"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}
