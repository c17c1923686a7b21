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
