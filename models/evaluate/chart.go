package evaluate

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strings"
)

// Chart size in pixels.
const (
	ChartWidth  = 640
	ChartHeight = 480
)

// Plot area inside the chart, in pixels.
const (
	plotLeft   = 78
	plotRight  = 612
	plotTop    = 62
	plotBottom = 418
)

var (
	colBackground = color.RGBA{255, 255, 255, 255}
	colGrid       = color.RGBA{228, 228, 228, 255}
	colAxis       = color.RGBA{60, 60, 60, 255}
	colText       = color.RGBA{30, 30, 30, 255}
	colMuted      = color.RGBA{110, 110, 110, 255}
	colBaseline   = color.RGBA{150, 150, 150, 255}
	colModel      = color.RGBA{31, 100, 180, 255}
	colAccent     = color.RGBA{214, 72, 30, 255}
	colPerfect    = color.RGBA{60, 160, 80, 255}
)

// rocChart draws the ROC curve of s against the random diagonal and marks
// the chosen threshold.
func rocChart(s Summary, subtitle string) ([]byte, error) {
	c := newCanvas("ROC curve", subtitle, "False positive rate (non-churners flagged)", "True positive rate (churners flagged)")
	c.polyline([]Point{{0, 0}, {1, 1}}, colBaseline, 2, true)
	drawn := !bad(s.AUC) && len(s.ROC) >= 2
	if drawn {
		c.polyline(s.ROC, colModel, 2, false)
	}
	items := []legendItem{
		{fmt.Sprintf("Model: AUC %s (95%% CI %s)", fixed(s.AUC, 2), ascii(interval(s.AUCCI, 2))), colModel, false, false},
		{"Random: AUC 0.50", colBaseline, true, false},
	}
	cf := s.Confusion
	fpr, tpr := ratio(cf.FP, cf.FP+cf.TN), ratio(cf.TP, cf.TP+cf.FN)
	if !bad(fpr) && !bad(tpr) {
		x, y := c.px(Point{fpr, tpr})
		c.disc(x, y, 5, colAccent)
		c.labelNear(x, y, "threshold "+fixed(cf.Threshold, 2), colAccent)
		items = append(items, legendItem{"Chosen threshold (best F1)", colAccent, false, true})
	}
	if !drawn {
		c.centreNote("no ROC curve: it needs both churners and non-churners")
	}
	c.legend(items, cornerBottomRight)
	return c.png()
}

// gainsChart draws the cumulative gains curve of s against random contact
// and a perfect ranking, and annotates the top decile.
func gainsChart(s Summary, subtitle string) ([]byte, error) {
	c := newCanvas("Cumulative gains", subtitle, "Share of subscribers contacted, highest risk first", "Share of churners found")
	var items []legendItem
	if len(s.Gains) >= 2 {
		items = append(items, legendItem{"Model", colModel, false, false})
	}
	if rate := s.PositiveRate(); !bad(rate) && rate > 0 {
		c.polyline([]Point{{0, 0}, {rate, 1}, {1, 1}}, colPerfect, 2, true)
		items = append(items, legendItem{"Perfect ranking", colPerfect, true, false})
	}
	c.polyline([]Point{{0, 0}, {1, 1}}, colBaseline, 2, true)
	items = append(items, legendItem{"Random contact", colBaseline, true, false})
	c.polyline(s.Gains, colModel, 2, false)
	if g, ok := gainsAt(s.Gains, 0.1); ok {
		// Guides from the top-decile point down to the x axis and across
		// to the y axis, so both shares can be read off.
		x, y := c.fpx(Point{0.1, g})
		x0, y0 := c.fpx(Point{0, 0})
		c.line(x, y0, x, y, colAccent, 1, true)
		c.line(x0, y, x, y, colAccent, 1, true)
		px, py := c.px(Point{0.1, g})
		c.disc(px, py, 5, colAccent)
		c.labelNear(px, py, "lift "+ascii(times(s.Lift10)), colAccent)
		items = append(items, legendItem{fmt.Sprintf("Top 10%%: %s of churners found", percent(g, 0)), colAccent, false, true})
	}
	if len(s.Gains) < 2 {
		c.centreNote("no gains curve: there are no churners")
	}
	c.legend(items, cornerBottomRight)
	return c.png()
}

// gainsAt interpolates the gains curve at x.
func gainsAt(pts []Point, x float64) (float64, bool) {
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if a.X <= x && x <= b.X && b.X > a.X {
			return a.Y + (b.Y-a.Y)*(x-a.X)/(b.X-a.X), true
		}
	}
	return 0, false
}

// calibrationChart draws mean predicted against observed churn per bin,
// the point area showing the rows in the bin.
func calibrationChart(s Summary, subtitle string) ([]byte, error) {
	c := newCanvas("Calibration", subtitle, "Mean predicted churn probability (per bin)", "Observed churn rate")
	c.polyline([]Point{{0, 0}, {1, 1}}, colBaseline, 2, true)
	var pts []Point
	most := 0
	for _, b := range s.Calibration {
		if b.Rows > 0 && !bad(b.MeanPredicted) && !bad(b.ObservedRate) {
			pts = append(pts, Point{b.MeanPredicted, b.ObservedRate})
			most = max(most, b.Rows)
		}
	}
	c.polyline(pts, colModel, 2, false)
	for _, b := range s.Calibration {
		if b.Rows == 0 || bad(b.MeanPredicted) || bad(b.ObservedRate) {
			continue
		}
		x, y := c.px(Point{b.MeanPredicted, b.ObservedRate})
		r := 3 + 9*math.Sqrt(float64(b.Rows)/float64(most))
		c.disc(x, y, r, colModel)
	}
	if len(pts) == 0 {
		c.centreNote("no calibration: there are no rows")
	}
	c.legend([]legendItem{
		{"Model, one point per bin", colModel, false, true},
		{fmt.Sprintf("point area ~ rows (largest %s)", thousands(most)), colMuted, false, false},
		{"Perfect calibration", colBaseline, true, false},
	}, cornerTopLeft)
	return c.png()
}

// canvas is a chart being drawn: an image with a plot area mapping [0,1]²
// to pixels.
type canvas struct {
	img  *image.RGBA
	plot image.Rectangle
}

func newCanvas(title, subtitle, xLabel, yLabel string) *canvas {
	c := &canvas{
		img:  image.NewRGBA(image.Rect(0, 0, ChartWidth, ChartHeight)),
		plot: image.Rect(plotLeft, plotTop, plotRight, plotBottom),
	}
	draw.Draw(c.img, c.img.Bounds(), image.NewUniform(colBackground), image.Point{}, draw.Src)
	c.text(ChartWidth/2, 10, title, colText, 2, alignCentre)
	if subtitle != "" {
		c.text(ChartWidth/2, 38, subtitle, colMuted, 1, alignCentre)
	}
	// Grid every 0.1, tick labels every 0.2.
	for i := 0; i <= 10; i++ {
		v := float64(i) / 10
		x, _ := c.px(Point{v, 0})
		_, y := c.px(Point{0, v})
		col := colGrid
		if i == 0 {
			col = colAxis
		}
		c.line(float64(x), float64(c.plot.Min.Y), float64(x), float64(c.plot.Max.Y), col, 1, false)
		c.line(float64(c.plot.Min.X), float64(y), float64(c.plot.Max.X), float64(y), col, 1, false)
		if i%2 == 0 {
			label := fmt.Sprintf("%.1f", v)
			c.line(float64(x), float64(c.plot.Max.Y), float64(x), float64(c.plot.Max.Y+5), colAxis, 1, false)
			c.text(x, c.plot.Max.Y+8, label, colText, 1, alignCentre)
			c.line(float64(c.plot.Min.X-5), float64(y), float64(c.plot.Min.X), float64(y), colAxis, 1, false)
			c.text(c.plot.Min.X-8, y-6, label, colText, 1, alignRight)
		}
	}
	c.text((c.plot.Min.X+c.plot.Max.X)/2, c.plot.Max.Y+30, xLabel, colText, 1, alignCentre)
	c.vtext(16, (c.plot.Min.Y+c.plot.Max.Y)/2, yLabel, colText)
	return c
}

// px maps a point of [0,1]² to pixel coordinates.
func (c *canvas) px(p Point) (x, y int) {
	fx, fy := c.fpx(p)
	return int(math.Round(fx)), int(math.Round(fy))
}

func (c *canvas) fpx(p Point) (x, y float64) {
	w := float64(c.plot.Dx() - 1)
	h := float64(c.plot.Dy() - 1)
	return float64(c.plot.Min.X) + p.X*w, float64(c.plot.Max.Y-1) - p.Y*h
}

// polyline draws pts joined by lines width pixels wide, skipping NaN
// points; the dash pattern runs on across segments.
func (c *canvas) polyline(pts []Point, col color.RGBA, width int, dashed bool) {
	var run float64
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if bad(a.X) || bad(a.Y) || bad(b.X) || bad(b.Y) {
			continue
		}
		x0, y0 := c.fpx(clampPoint(a))
		x1, y1 := c.fpx(clampPoint(b))
		run = c.stroke(x0, y0, x1, y1, col, width, dashed, run)
	}
}

func clampPoint(p Point) Point {
	return Point{min(max(p.X, 0), 1), min(max(p.Y, 0), 1)}
}

func (c *canvas) line(x0, y0, x1, y1 float64, col color.RGBA, width int, dashed bool) {
	c.stroke(x0, y0, x1, y1, col, width, dashed, 0)
}

// Dash pattern, in pixels along the line.
const (
	dashOn     = 8
	dashPeriod = 13
)

// stroke draws a line by stamping a width×width square every half pixel;
// run is how far along a dash pattern the line starts, and the result how
// far it ends.
func (c *canvas) stroke(x0, y0, x1, y1 float64, col color.RGBA, width int, dashed bool, run float64) float64 {
	dx, dy := x1-x0, y1-y0
	length := math.Hypot(dx, dy)
	steps := max(1, int(math.Ceil(length*2)))
	for i := 0; i <= steps; i++ {
		t := float64(i) / float64(steps)
		if dashed && math.Mod(run+t*length, dashPeriod) >= dashOn {
			continue
		}
		x := int(math.Round(x0 + t*dx))
		y := int(math.Round(y0 + t*dy))
		off := (width - 1) / 2
		c.fill(image.Rect(x-off, y-off, x-off+width, y-off+width), col)
	}
	return run + length
}

func (c *canvas) fill(r image.Rectangle, col color.RGBA) {
	r = r.Intersect(c.img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

// disc draws a filled circle with a white rim, so overlapping markers
// stay apart.
func (c *canvas) disc(cx, cy int, r float64, col color.RGBA) {
	ri := int(math.Ceil(r)) + 1
	for y := -ri; y <= ri; y++ {
		for x := -ri; x <= ri; x++ {
			d := math.Hypot(float64(x), float64(y))
			switch {
			case d <= r-1.2:
				c.fill(image.Rect(cx+x, cy+y, cx+x+1, cy+y+1), col)
			case d <= r:
				c.fill(image.Rect(cx+x, cy+y, cx+x+1, cy+y+1), colBackground)
			}
		}
	}
}

type align int

const (
	alignLeft align = iota
	alignCentre
	alignRight
)

// glyphs renders s (ASCII; other runes are replaced) into an alpha mask
// one text line high.
func glyphs(s string) *image.Alpha {
	s = ascii(s)
	m := image.NewAlpha(image.Rect(0, 0, max(len(s)*glyphAdvance, 1), glyphHeight))
	for i := 0; i < len(s); i++ {
		rows := glyphRows[s[i]-0x20]
		for y, bits := range rows {
			for x := range glyphWidth {
				if bits&(1<<(glyphWidth-1-x)) != 0 {
					m.SetAlpha(i*glyphAdvance+x, y, color.Alpha{255})
				}
			}
		}
	}
	return m
}

// ascii replaces the typographic characters the report uses with ASCII
// ones the bitmap font has.
func ascii(s string) string {
	s = strings.NewReplacer("–", "-", "—", "-", "…", "...", "×", "x", "·", "-", "≥", ">=", "≤", "<=").Replace(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// text draws s with its top at y, aligned on x, each font pixel scale×scale.
func (c *canvas) text(x, y int, s string, col color.RGBA, scale int, a align) {
	m := glyphs(s)
	w := m.Bounds().Dx() * scale
	switch a {
	case alignCentre:
		x -= w / 2
	case alignRight:
		x -= w
	}
	for my := 0; my < m.Bounds().Dy(); my++ {
		for mx := 0; mx < m.Bounds().Dx(); mx++ {
			if m.AlphaAt(mx, my).A >= 128 {
				c.fill(image.Rect(x+mx*scale, y+my*scale, x+(mx+1)*scale, y+(my+1)*scale), col)
			}
		}
	}
}

// vtext draws s reading upwards, centred vertically on y, with its top
// (the left of the letters) at x.
func (c *canvas) vtext(x, y int, s string, col color.RGBA) {
	m := glyphs(s)
	w := m.Bounds().Dx()
	y += w / 2
	for my := 0; my < m.Bounds().Dy(); my++ {
		for mx := 0; mx < w; mx++ {
			if m.AlphaAt(mx, my).A >= 128 {
				c.fill(image.Rect(x+my, y-mx, x+my+1, y-mx+1), col)
			}
		}
	}
}

// labelNear writes s next to the pixel (x, y) of a point on a rising
// curve: below and right of it, where the curve does not pass, or left
// if that would leave the plot. A white box keeps grid lines off it.
func (c *canvas) labelNear(x, y int, s string, col color.RGBA) {
	w := glyphs(s).Bounds().Dx()
	lx := x + 10
	if lx+w > c.plot.Max.X-4 {
		lx = x - 10 - w
	}
	ly := y + 8
	if ly+glyphHeight > c.plot.Max.Y-4 {
		ly = y - 8 - glyphHeight
	}
	c.fill(image.Rect(lx-2, ly-1, lx+w+2, ly+glyphHeight+1), colBackground)
	c.text(lx, ly, s, col, 1, alignLeft)
}

// centreNote writes a message in the middle of the plot.
func (c *canvas) centreNote(s string) {
	w := glyphs(s).Bounds().Dx()
	cx, cy := (c.plot.Min.X+c.plot.Max.X)/2, (c.plot.Min.Y+c.plot.Max.Y)/2
	c.fill(image.Rect(cx-w/2-6, cy-6, cx+w/2+6, cy+glyphHeight+6), colBackground)
	c.text(cx, cy, s, colMuted, 1, alignCentre)
}

type legendItem struct {
	label  string
	col    color.RGBA
	dashed bool
	marker bool // a disc instead of a line
}

type corner int

const (
	cornerTopLeft corner = iota
	cornerBottomRight
)

// legend draws a framed box of items in a corner of the plot.
func (c *canvas) legend(items []legendItem, at corner) {
	const (
		pad    = 8
		swatch = 26
		lineH  = 18
	)
	w := 0
	for _, it := range items {
		w = max(w, glyphs(it.label).Bounds().Dx())
	}
	bw := pad + swatch + 8 + w + pad
	bh := pad + len(items)*lineH - (lineH - glyphHeight) + pad
	x, y := c.plot.Min.X+12, c.plot.Min.Y+12
	if at == cornerBottomRight {
		x, y = c.plot.Max.X-12-bw, c.plot.Max.Y-12-bh
	}
	box := image.Rect(x, y, x+bw, y+bh)
	c.fill(box, colBackground)
	c.line(float64(box.Min.X), float64(box.Min.Y), float64(box.Max.X-1), float64(box.Min.Y), colBaseline, 1, false)
	c.line(float64(box.Min.X), float64(box.Max.Y-1), float64(box.Max.X-1), float64(box.Max.Y-1), colBaseline, 1, false)
	c.line(float64(box.Min.X), float64(box.Min.Y), float64(box.Min.X), float64(box.Max.Y-1), colBaseline, 1, false)
	c.line(float64(box.Max.X-1), float64(box.Min.Y), float64(box.Max.X-1), float64(box.Max.Y-1), colBaseline, 1, false)
	for i, it := range items {
		ty := y + pad + i*lineH
		mid := ty + glyphHeight/2
		sx := x + pad
		switch {
		case it.marker:
			c.disc(sx+swatch/2, mid, 5, it.col)
		case it.col == colMuted:
			// a note, no swatch
		default:
			c.line(float64(sx), float64(mid), float64(sx+swatch), float64(mid), it.col, 2, it.dashed)
		}
		c.text(sx+swatch+8, ty, it.label, colText, 1, alignLeft)
	}
}

func (c *canvas) png() ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, c.img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return b.Bytes(), nil
}
