package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// chart is a small inline SVG bar chart of six months.
type chart struct {
	Key  string // dictionary key of the title
	Last string // the newest month's value, formatted
	SVG  template.HTML
}

// charts draws the history's voice minutes, data and bills.
func charts(h []month) []chart {
	if len(h) == 0 {
		return nil
	}
	pick := []struct {
		key  string
		v    func(month) float64
		frac int
	}{
		{"minutes", func(m month) float64 { return m.VoiceMinutes }, 1},
		{"data", func(m month) float64 { return m.DataMB }, 1},
		{"bills", func(m month) float64 { return m.AmountDue }, 2},
	}
	var out []chart
	for _, p := range pick {
		vals := make([]float64, len(h))
		labels := make([]string, len(h))
		for i, m := range h {
			vals[i], labels[i] = p.v(m), m.Month
		}
		out = append(out, chart{Key: p.key, Last: grouped(vals[len(vals)-1], p.frac), SVG: bars(vals, labels, p.frac)})
	}
	return out
}

// bars is an SVG of one bar per value, with its month and value as a
// tooltip. Only numbers and YYYY-MM labels enter it.
func bars(vals []float64, labels []string, frac int) template.HTML {
	const w, h, gap = 180.0, 60.0, 4.0
	top := 0.0
	for _, v := range vals {
		top = math.Max(top, v)
	}
	bw := (w - gap*float64(len(vals)-1)) / float64(len(vals))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %.0f %.0f" role="img" width="%.0f" height="%.0f">`, w, h+12, w, h+12)
	for i, v := range vals {
		bh := 0.0
		if top > 0 {
			bh = math.Max(1, v/top*h)
		}
		x := float64(i) * (bw + gap)
		lab := template.HTMLEscapeString(labels[i])
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`, x, h-bh, bw, bh, lab, grouped(v, frac))
		if len(lab) >= 7 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f">%s</text>`, x+bw/2, h+11, lab[5:7])
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// series is one line of a lineChart: points in [0,1]×[0,1].
type series struct {
	Class string // CSS class: "a" (the model), "b" (a second line), "ref" (a reference)
	X, Y  []float64
}

// lineChart draws series on the unit square with 0, 50% and 100% marks:
// ROC, gains and calibration curves. label is its accessible name.
func lineChart(label string, ss []series) template.HTML {
	const w, h, pad = 240.0, 200.0, 28.0
	px := func(x float64) float64 { return pad + math.Max(0, math.Min(1, x))*(w-pad-14) }
	py := func(y float64) float64 { return h - pad - math.Max(0, math.Min(1, y))*(h-pad-6) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="line" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(label))
	for _, t := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(0), py(t), px(1), py(t))
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(t), py(0), px(t), py(1))
		fmt.Fprintf(&b, `<text class="yl" x="%.1f" y="%.1f">%.0f%%</text>`, pad-3, py(t)+3, t*100)
		fmt.Fprintf(&b, `<text class="xl" x="%.1f" y="%.1f">%.0f%%</text>`, px(t), h-pad+12, t*100)
	}
	for _, s := range ss {
		var pts strings.Builder
		for i := range s.X {
			if i >= len(s.Y) || math.IsNaN(s.X[i]) || math.IsNaN(s.Y[i]) {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.X[i]), py(s.Y[i]))
		}
		fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, template.HTMLEscapeString(s.Class), strings.TrimSpace(pts.String()))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hbar is one row of an hbars chart.
type hbar struct {
	Label string
	Value float64
	Text  string // the value as shown
}

// hbars draws one horizontal bar per row, scaled to the largest value,
// with its label and value: segments compared, files per day.
func hbars(label string, rows []hbar) template.HTML {
	// Labels are 9px text, about 5.3 units a character: up to 16
	// characters fit the 110-unit label column of the narrow chart; longer
	// ones (churn reasons) get the wide chart, whose label column holds
	// hbarsWideRunes before it cuts with "…".
	const rowH, valW, perRune = 22.0, 70.0, 5.3
	w, labW, keep, class := 320.0, 110.0, 16, "hbars"
	for _, r := range rows {
		if len([]rune(r.Label)) > keep {
			w, labW, keep, class = 500.0, 8+perRune*hbarsWideRunes, hbarsWideRunes, "hbars wide"
			break
		}
	}
	top := 0.0
	for _, r := range rows {
		top = math.Max(top, r.Value)
	}
	h := rowH * float64(len(rows))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="%s" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, class, w, h, template.HTMLEscapeString(label))
	for i, r := range rows {
		y := float64(i) * rowH
		bw := 0.0
		if top > 0 && r.Value > 0 {
			bw = math.Max(1, r.Value/top*(w-labW-valW))
		}
		lab := r.Label
		if len([]rune(lab)) > keep {
			lab = string([]rune(lab)[:keep-1]) + "…"
		}
		fmt.Fprintf(&b, `<text class="lab" x="%.1f" y="%.1f">%s</text>`, labW-4, y+15, template.HTMLEscapeString(lab))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`, labW, y+4, bw, rowH-8,
			template.HTMLEscapeString(r.Label), template.HTMLEscapeString(r.Text))
		fmt.Fprintf(&b, `<text class="val" x="%.1f" y="%.1f">%s</text>`, labW+bw+4, y+15, template.HTMLEscapeString(r.Text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hbarsWideRunes is how many characters of a label the wide bar chart
// shows: the generator's and the model's reasons ("many calls to customer
// care", "voice use falling") fit whole.
const hbarsWideRunes = 44

// pairBars draws two bars per label (observed "a" and predicted "b"
// shares in [0,1]): churn by month.
func pairBars(label string, labels []string, a, b []float64) template.HTML {
	const w, h, gap = 320.0, 120.0, 10.0
	top := 0.0
	for i := range labels {
		top = math.Max(top, math.Max(nz(a[i]), nz(b[i])))
	}
	n := float64(max(1, len(labels)))
	gw := (w - gap*(n-1)) / n
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="pairs" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h+14, template.HTMLEscapeString(label))
	for i, lab := range labels {
		x := float64(i) * (gw + gap)
		for j, v := range []float64{a[i], b[i]} {
			if math.IsNaN(v) {
				continue
			}
			bh := 0.0
			if top > 0 {
				bh = math.Max(1, v/top*h)
			}
			cls := []string{"a", "b"}[j]
			fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s%%</title></rect>`,
				cls, x+float64(j)*gw/2, h-bh, gw/2-1, bh, template.HTMLEscapeString(lab), grouped(v*100, 1))
		}
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f">%s</text>`, x+gw/2, h+12, template.HTMLEscapeString(lab))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

func nz(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
