package reports

import (
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Colors are picked so that every status stays distinguishable in
// grayscale and for the common forms of colour blindness.
var (
	colNormal     = color.RGBA{0x8c, 0xd1, 0x7d, 0xff}
	colViewChange = color.RGBA{0xf5, 0x9e, 0x0b, 0xff}
	colRecovering = color.RGBA{0x3b, 0x82, 0xf6, 0xff}
	colDown       = color.RGBA{0x37, 0x41, 0x51, 0xff}
	colPaused     = color.RGBA{0xa7, 0x8b, 0xfa, 0xff}
	colPartition  = color.NRGBA{0xef, 0x44, 0x44, 0x38}
	colCrash      = color.RGBA{0xdc, 0x26, 0x26, 0xff}
	colRestart    = color.RGBA{0x05, 0x96, 0x69, 0xff}
	colLiveness   = color.RGBA{0x11, 0x11, 0x11, 0xff}
	colSent       = color.RGBA{0x25, 0x63, 0xeb, 0xff}
	colDropped    = color.RGBA{0xdc, 0x26, 0x26, 0xff}
	colP50        = color.RGBA{0x05, 0x96, 0x69, 0xff}
	colP99        = color.RGBA{0xf5, 0x9e, 0x0b, 0xff}
	colMax        = color.RGBA{0xdc, 0x26, 0x26, 0xff}
)

// replicaColors tell lanes apart in the view and commit panels.
var replicaColors = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

func replicaColor(i int) color.Color { return replicaColors[i%len(replicaColors)] }

// figure is a picture made of aligned plots plus a one-row legend above
// them: gonum's own legend sits inside the data area, where on a dense
// timeline it would hide exactly what the reader came to see.
type figure struct {
	title  string
	rows   [][]*plot.Plot
	legend []legendEntry
	w, h   vg.Length
}

type legendEntry struct {
	name  string
	thumb plot.Thumbnailer
}

const (
	titleHeight  = 22
	legendHeight = 18
)

// save writes name.png and name.svg into dir.
func (f *figure) save(dir, name string) error {
	img := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(96))
	f.draw(draw.New(img))
	if err := writeTo(filepath.Join(dir, name+".png"), vgimg.PngCanvas{Canvas: img}); err != nil {
		return err
	}
	svg := vgsvg.New(f.w, f.h)
	f.draw(draw.New(svg))
	return writeTo(filepath.Join(dir, name+".svg"), svg)
}

func writeTo(path string, w io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (f *figure) draw(c draw.Canvas) {
	c.FillPolygon(color.White, rect(c.Rectangle))
	top := c.Max.Y
	if f.title != "" {
		sty := textStyle(13)
		sty.Font.Size = vg.Points(13)
		sty.XAlign = draw.XCenter
		sty.YAlign = draw.YTop
		c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: top - 4}, f.title)
		top -= titleHeight
	}
	if len(f.legend) > 0 {
		f.drawLegend(c, top)
		top -= legendHeight
	}
	body := draw.Crop(c, 0, 0, 0, top-c.Max.Y)
	cols := len(f.rows[0])
	tiles := draw.Tiles{Rows: len(f.rows), Cols: cols, PadX: vg.Points(24), PadY: vg.Points(6), PadTop: vg.Points(4),
		PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10)}
	canvases := plot.Align(f.rows, tiles, body)
	for i, row := range f.rows {
		for j, p := range row {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
}

// drawLegend lays the entries out left to right, centred.
func (f *figure) drawLegend(c draw.Canvas, top vg.Length) {
	sty := textStyle(10)
	sty.YAlign = draw.YCenter
	const thumb, gap = vg.Length(14), vg.Length(14)
	total := vg.Length(0)
	for _, e := range f.legend {
		total += thumb + 4 + sty.Width(e.name) + gap
	}
	x := (c.Min.X+c.Max.X)/2 - total/2
	y := top - legendHeight/2
	for _, e := range f.legend {
		tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y - 5}, Max: vg.Point{X: x + thumb, Y: y + 5}}}
		e.thumb.Thumbnail(&tc)
		c.FillText(sty, vg.Point{X: x + thumb + 4, Y: y}, e.name)
		x += thumb + 4 + sty.Width(e.name) + gap
	}
}

// newPlot is a plot with the house style: light grid, labelled axes.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	// Sans rather than gonum's serif default: small labels on a dense
	// timeline stay legible.
	for _, sty := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		sty.Font.Variant = "Sans"
	}
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Tick.Marker = intTicks{}
	p.Y.Tick.Marker = intTicks{}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 0xe0}
	g.Horizontal.Color = color.Gray{Y: 0xe0}
	p.Add(g)
	return p
}

// intTicks labels about eight round values per axis, without exponents:
// ticks and counts read better as 120000 than as 1.2e+05, and gonum's
// default of three labels is too coarse to find an event on a long run.
// With whole set, steps never go below 1: an axis of ops or views has no
// op 0.4.
type intTicks struct{ whole bool }

func (it intTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 8
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{2, 5, 10} {
		if step >= raw {
			break
		}
		step = m * mag
	}
	if it.whole && step < 1 {
		step = 1
	}
	perLabel := 5.0 // minor ticks per labelled one
	if it.whole && step < 5 {
		perLabel = 1
	}
	minor := step / perLabel
	// Count in whole minor steps: adding floats drifts, and a label then
	// reads 0.8000000000000002.
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	var ts []plot.Tick
	for k := math.Ceil(lo / minor); k*minor <= hi+minor*1e-9; k++ {
		t := plot.Tick{Value: k * minor}
		if t.Value == 0 {
			t.Value = 0 // not -0, which labels as "-0"
		}
		if math.Mod(k, perLabel) == 0 {
			t.Label = strconv.FormatFloat(t.Value, 'f', decimals, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// boxThumb is a filled square legend thumbnail.
type boxThumb struct{ c color.Color }

func (b boxThumb) Thumbnail(c *draw.Canvas) { c.FillPolygon(b.c, rect(c.Rectangle)) }

// glyphThumb is a marker legend thumbnail.
type glyphThumb struct{ g draw.GlyphStyle }

func (t glyphThumb) Thumbnail(c *draw.Canvas) { c.DrawGlyph(t.g, c.Center()) }

// lineThumb is a line legend thumbnail.
type lineThumb struct{ l draw.LineStyle }

func (t lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(t.l, c.Min.X, y, c.Max.X, y)
}

// spans shades x ranges across the whole height of a plot; it draws first
// so data stays on top.
type spans struct {
	ranges [][2]float64
	color  color.Color
}

func (s spans) Plot(c draw.Canvas, p *plot.Plot) {
	tx, _ := p.Transforms(&c)
	for _, r := range s.ranges {
		x0, x1 := tx(r[0]), tx(r[1])
		if x1-x0 < 1 {
			x1 = x0 + 1 // a short partition still shows
		}
		c.FillPolygon(s.color, c.ClipPolygonX([]vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}}))
	}
}

// rule is a marker line across the data area: vertical at x = at, or
// horizontal at y = at.
type rule struct {
	at       float64
	vertical bool
	style    draw.LineStyle
}

func (r rule) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	if r.vertical {
		if x := tx(r.at); c.ContainsX(x) {
			c.StrokeLine2(r.style, x, c.Min.Y, x, c.Max.Y)
		}
	} else if y := ty(r.at); c.ContainsY(y) {
		c.StrokeLine2(r.style, c.Min.X, y, c.Max.X, y)
	}
}

func dashed(col color.Color, width float64) draw.LineStyle {
	return draw.LineStyle{Color: col, Width: vg.Points(width), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
}

func solid(col color.Color, width float64) draw.LineStyle {
	return draw.LineStyle{Color: col, Width: vg.Points(width)}
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }

func rect(r vg.Rectangle) []vg.Point {
	return []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}}
}

// downTriangle is a filled triangle pointing down: a crash, the counterpart
// of the restart's pyramid.
type downTriangle struct{}

func (downTriangle) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	c.FillPolygon(sty.Color, []vg.Point{{X: pt.X - r, Y: pt.Y + r*0.8}, {X: pt.X + r, Y: pt.Y + r*0.8}, {X: pt.X, Y: pt.Y - r}})
}

// textStyle is the style of text drawn outside gonum's own elements.
func textStyle(size float64) text.Style {
	sty := plot.NewLegend().TextStyle
	sty.Font.Variant = "Sans"
	sty.Font.Size = vg.Points(size)
	return sty
}
