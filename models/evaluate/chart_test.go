package evaluate

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
)

var charts = []struct {
	name string
	draw func(Summary, string) ([]byte, error)
}{
	{"roc", rocChart},
	{"gains", gainsChart},
	{"calibration", calibrationChart},
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	if got := img.Bounds().Size(); got != image.Pt(ChartWidth, ChartHeight) {
		t.Fatalf("chart is %v, want %dx%d", got, ChartWidth, ChartHeight)
	}
	return img
}

// countColour counts the pixels of exactly col inside r.
func countColour(img image.Image, r image.Rectangle, col color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == col {
				n++
			}
		}
	}
	return n
}

// Charts of empty, degenerate or NaN-laden summaries still draw.
func TestChartsDegenerate(t *testing.T) {
	nan := math.NaN()
	summaries := []struct {
		name string
		s    Summary
	}{
		{"zero summary", Summary{}},
		{"no rows", Summarise(nil, nil, 1)},
		{"one class", Summarise([]float64{.2, .6}, []bool{false, false}, 1)},
		{"one row", Summarise([]float64{.7}, []bool{true}, 1)},
		{"NaN points", Summary{
			Rows: 10, Positives: 3, AUC: nan, Lift10: nan,
			ROC:         []Point{{0, 0}, {nan, 0.5}, {0.5, nan}, {1, 1}},
			Gains:       []Point{{0, 0}, {nan, nan}},
			Calibration: []CalBin{{Lo: 0, Hi: 1, Rows: 10, MeanPredicted: nan, ObservedRate: 0.3}},
		}},
		{"out of range points", Summary{
			Rows: 10, Positives: 3, AUC: 0.7,
			ROC:         []Point{{-1, -1}, {2, 2}},
			Gains:       []Point{{0, 0}, {0.5, 3}, {1, 1}},
			Calibration: []CalBin{{Rows: 4, MeanPredicted: 1.5, ObservedRate: -0.5}},
		}},
	}
	for _, sum := range summaries {
		for _, c := range charts {
			t.Run(sum.name+"/"+c.name, func(t *testing.T) {
				b, err := c.draw(sum.s, "")
				if err != nil {
					t.Fatalf("%s chart: %v", c.name, err)
				}
				decode(t, b)
			})
		}
	}
}

// The model's curve is drawn in the plot when there is one, and not when
// there is none (only the legend swatch remains).
func TestChartsDrawTheModel(t *testing.T) {
	probs, labels := synthetic(2000, 9)
	full := Summarise(probs, labels, 1)
	empty := Summarise(probs, make([]bool, len(probs)), 1) // no churners
	plot := image.Rect(plotLeft, plotTop, plotRight, plotBottom)

	// Pixels of the model colour a legend holds: its swatch and markers.
	const legendAllowance = 400
	for _, c := range charts {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.draw(full, "subtitle")
			if err != nil {
				t.Fatal(err)
			}
			withCurve := countColour(decode(t, b), plot, colModel)
			if withCurve < 2*legendAllowance {
				t.Errorf("%s chart has %d model-coloured pixels, want a drawn curve (> %d)", c.name, withCurve, 2*legendAllowance)
			}
			if c.name == "calibration" {
				return // an all-negative month still has calibration points
			}
			b, err = c.draw(empty, "subtitle")
			if err != nil {
				t.Fatal(err)
			}
			if n := countColour(decode(t, b), plot, colModel); n > legendAllowance {
				t.Errorf("%s chart without churners has %d model-coloured pixels, want no curve", c.name, n)
			}
		})
	}
}

// A 2px line covers two pixel rows where it is horizontal.
func TestStrokeWidth(t *testing.T) {
	c := newCanvas("", "", "", "")
	col := color.RGBA{1, 2, 3, 255}
	c.line(200, 200.4, 300, 200.4, col, 2, false)
	for y := 198; y <= 202; y++ {
		n := countColour(c.img, image.Rect(250, y, 251, y+1), col)
		want := 0
		if y == 200 || y == 201 {
			want = 1
		}
		if n != want {
			t.Errorf("pixel (250,%d) drawn = %d, want %d", y, n, want)
		}
	}
}

func TestGlyphs(t *testing.T) {
	tests := []struct {
		s     string
		width int
	}{
		{"", 1},
		{"AUC 0.87", 8 * glyphAdvance},
		{"0.85–0.89 ×", len("0.85-0.89 x") * glyphAdvance}, // typographic → ASCII
	}
	for _, tt := range tests {
		m := glyphs(tt.s)
		if got := m.Bounds().Dx(); got != tt.width {
			t.Errorf("glyphs(%q) width = %d, want %d", tt.s, got, tt.width)
		}
	}
	// A space is blank; a letter is not.
	if n := countColour(glyphs(" "), image.Rect(0, 0, glyphAdvance, glyphHeight), color.RGBA{255, 255, 255, 255}); n != 0 {
		t.Errorf("space has %d inked pixels", n)
	}
	inked := 0
	m := glyphs("A")
	for y := range glyphHeight {
		for x := range glyphAdvance {
			if m.AlphaAt(x, y).A > 0 {
				inked++
			}
		}
	}
	if inked < 10 {
		t.Errorf("glyph A has %d inked pixels, want a letter", inked)
	}
}
