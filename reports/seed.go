package reports

import (
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SeedGraphs are the base names (without .png / .svg) of a seed report's
// pictures.
var SeedGraphs = []string{"timeline", "latency", "latency_histogram", "messages"}

// WriteSeedReport renders one run's timeline into dir: the SeedGraphs as PNG
// and SVG, record.json, timeline.json and an index.html that shows them
// with the reproduce command.
func WriteSeedReport(dir string, rec Record, tl *Timeline, reproduce string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	lanes := buildLanes(tl, rec.ReplicaCount, rec.Ticks)
	title := fmt.Sprintf("seed %s: %d replicas, %d clients, %s after %d ticks", rec.Seed, rec.ReplicaCount, rec.ClientCount, rec.Result, rec.Ticks)
	figs := map[string]*figure{
		"timeline":          timelineFigure(title, lanes),
		"latency":           latencyFigure(title, lanes, tl),
		"latency_histogram": histogramFigure(title, tl),
		"messages":          messagesFigure(title, lanes, tl),
	}
	for _, name := range SeedGraphs {
		if err := figs[name].save(dir, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := writeJSON(filepath.Join(dir, "record.json"), rec); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "timeline.json"), tl); err != nil {
		return err
	}
	return writeSeedIndex(dir, rec, reproduce)
}

// segment is a stretch of one lane in one state.
type segment struct {
	from, to float64
	state    string
	view     uint32
}

// lanes is a run's timeline folded per replica.
type lanes struct {
	replicas   int
	end        float64
	segs       [][]segment
	views      [][]plotter.XYs // per replica: runs of the view while the process is up
	commits    [][]plotter.XYs // per replica: runs of the executed op
	crashes    plotter.XYs     // x tick, y lane
	restarts   plotter.XYs
	partitions [][2]float64
	liveness   float64 // 0: no liveness phase
}

const (
	stateNormal     = "normal"
	stateViewChange = "view_change"
	stateRecovering = "recovering"
	stateDown       = "down"
	statePaused     = "paused"
)

var stateColors = map[string]color.Color{
	stateNormal: colNormal, stateViewChange: colViewChange, stateRecovering: colRecovering,
	stateDown: colDown, statePaused: colPaused,
}

// buildLanes folds the events into per-replica segments. A lane shows the
// process state (down, paused) when the process is not running, and the
// protocol status otherwise.
func buildLanes(tl *Timeline, replicas int, end uint64) *lanes {
	l := &lanes{replicas: replicas, end: float64(end), segs: make([][]segment, replicas),
		views: make([][]plotter.XYs, replicas), commits: make([][]plotter.XYs, replicas)}
	type rs struct {
		status, process string
		view            uint32
		op              uint64
		cur             *segment
		up              bool // a view run is open
		committing      bool // a commit run is open
	}
	st := make([]rs, replicas)
	for i := range st {
		st[i].process = "up"
	}
	lane := func(i int) float64 { return float64(replicas - 1 - i) }
	show := func(i int, t float64) {
		s := &st[i]
		state := s.status
		if s.process != "up" {
			state = s.process
		}
		if state == "" || (s.cur != nil && s.cur.state == state && s.cur.view == s.view) {
			return
		}
		if s.cur != nil {
			s.cur.to = t
		}
		l.segs[i] = append(l.segs[i], segment{from: t, to: t, state: state, view: s.view})
		s.cur = &l.segs[i][len(l.segs[i])-1]
	}
	point := func(runs *[]plotter.XYs, open bool, t, v float64) {
		if !open || len(*runs) == 0 {
			*runs = append(*runs, nil)
		}
		r := &(*runs)[len(*runs)-1]
		*r = append(*r, plotter.XY{X: t, Y: v})
	}
	closeRuns := func(i int, t float64) {
		s := &st[i]
		if !s.up {
			return
		}
		point(&l.views[i], true, t, float64(s.view))
		if s.committing {
			point(&l.commits[i], true, t, float64(s.op))
		}
		s.up, s.committing = false, false
	}
	var partitionAt float64
	partitioned := false
	for _, e := range tl.Events {
		t := float64(e.Tick)
		switch e.Kind {
		case EvPartition:
			partitionAt, partitioned = t, true
			continue
		case EvHeal:
			if partitioned {
				l.partitions = append(l.partitions, [2]float64{partitionAt, t})
				partitioned = false
			}
			continue
		case EvLiveness:
			l.liveness = t
			continue
		case EvRequest, EvReply, EvEvicted:
			continue
		}
		if e.Replica < 0 || e.Replica >= replicas {
			continue
		}
		i, s := e.Replica, &st[e.Replica]
		switch e.Kind {
		case EvStatus:
			// A restarted replica's line starts when it leaves recovering,
			// at the op it has executed so far (none: it re-executes from
			// op 1 once it learns what is committed).
			if s.status == stateRecovering && e.Status != stateRecovering {
				point(&l.commits[i], s.committing, t, float64(s.op))
				s.committing = true
			}
			s.status, s.view = e.Status, e.View
			point(&l.views[i], s.up, t, float64(e.View))
			s.up = true
		case EvCommit:
			s.op = e.Op
			if s.status == stateRecovering {
				continue
			}
			point(&l.commits[i], s.committing, t, float64(e.Op))
			s.committing = true
		case EvCrash:
			closeRuns(i, t)
			s.process, s.status, s.op = stateDown, "", 0
			l.crashes = append(l.crashes, plotter.XY{X: t, Y: lane(i) + 0.42})
		case EvRestart:
			s.process, s.status = "up", stateRecovering
			l.restarts = append(l.restarts, plotter.XY{X: t, Y: lane(i) - 0.42})
		case EvPause:
			s.process = statePaused
		case EvUnpause:
			s.process = "up"
		}
		show(i, t)
	}
	if partitioned {
		l.partitions = append(l.partitions, [2]float64{partitionAt, l.end})
	}
	for i := range st {
		closeRuns(i, l.end)
		if st[i].cur != nil {
			st[i].cur.to = l.end
		}
	}
	return l
}

// statusLanes draws one horizontal bar per replica, coloured by state, with
// the view number written into segments wide enough to hold it.
type statusLanes struct{ l *lanes }

func (s statusLanes) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	label := textStyle(7)
	label.XAlign, label.YAlign = draw.XCenter, draw.YCenter
	for i, segs := range s.l.segs {
		y := float64(s.l.replicas - 1 - i)
		y0, y1 := ty(y-0.3), ty(y+0.3)
		for _, sg := range segs {
			x0, x1 := tx(sg.from), tx(sg.to)
			if x1-x0 < 0.6 {
				x1 = x0 + 0.6
			}
			c.FillPolygon(stateColors[sg.state], c.ClipPolygonX(rect(vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x1, Y: y1}})))
			if sg.state == stateDown || sg.state == statePaused {
				continue
			}
			txt := fmt.Sprintf("v%d", sg.view)
			if x1-x0 > label.Width(txt)+6 {
				c.FillText(label, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, txt)
			}
		}
	}
}

func (s statusLanes) DataRange() (xmin, xmax, ymin, ymax float64) {
	return 0, s.l.end, -0.5, float64(s.l.replicas) - 0.5
}

var (
	crashGlyph   = draw.GlyphStyle{Color: colCrash, Radius: vg.Points(4), Shape: downTriangle{}}
	restartGlyph = draw.GlyphStyle{Color: colRestart, Radius: vg.Points(4), Shape: draw.PyramidGlyph{}}
)

func (l *lanes) decorate(p *plot.Plot) {
	p.Add(spans{ranges: l.partitions, color: colPartition})
	if l.liveness > 0 {
		p.Add(rule{at: l.liveness, vertical: true, style: dashed(colLiveness, 1.2)})
	}
	p.X.Min, p.X.Max = 0, math.Max(l.end, 1)
}

func timelineFigure(title string, l *lanes) *figure {
	status := newPlot("Replica status (view number inside each stretch)", "", "")
	l.decorate(status)
	status.Add(statusLanes{l})
	if len(l.crashes) > 0 {
		sc, _ := plotter.NewScatter(l.crashes)
		sc.GlyphStyle = crashGlyph
		status.Add(sc)
	}
	if len(l.restarts) > 0 {
		sc, _ := plotter.NewScatter(l.restarts)
		sc.GlyphStyle = restartGlyph
		status.Add(sc)
	}
	names := make([]string, l.replicas)
	for i := range names {
		names[i] = fmt.Sprintf("replica %d", l.replicas-1-i)
	}
	status.NominalY(names...)
	status.Y.Min, status.Y.Max = -0.5, float64(l.replicas)-0.5

	view := newPlot("View number", "", "view")
	commit := newPlot("Executed op (commit_min)", "tick (10 ms each)", "op")
	for i := 0; i < l.replicas; i++ {
		addRuns(view, l.views[i], replicaColor(i))
		addRuns(commit, l.commits[i], replicaColor(i))
	}
	l.decorate(view)
	l.decorate(commit)
	// Lift zero off the axis line: restarted replicas sit at op 0 until
	// they re-execute, and that must stay visible.
	for _, p := range []*plot.Plot{view, commit} {
		p.Y.Min = -0.04 * math.Max(p.Y.Max, 1)
		p.Y.Tick.Marker = intTicks{whole: true}
	}
	legend := []legendEntry{
		{stateNormal, boxThumb{colNormal}}, {"view change", boxThumb{colViewChange}}, {stateRecovering, boxThumb{colRecovering}},
		{stateDown, boxThumb{colDown}}, {statePaused, boxThumb{colPaused}},
		{"crash", glyphThumb{crashGlyph}}, {"restart", glyphThumb{restartGlyph}},
		{"partition", boxThumb{colPartition}}, {"liveness phase", lineThumb{dashed(colLiveness, 1.2)}},
	}
	for i := 0; i < l.replicas; i++ {
		legend = append(legend, legendEntry{fmt.Sprintf("r%d", i), lineThumb{solid(replicaColor(i), 2)}})
	}
	h := vg.Points(260 + 30*float64(l.replicas) + 2*220)
	return &figure{title: title, rows: [][]*plot.Plot{{status}, {view}, {commit}}, legend: legend, w: vg.Points(1100), h: h}
}

func addRuns(p *plot.Plot, runs []plotter.XYs, col color.Color) {
	for _, r := range runs {
		if len(r) == 0 {
			continue
		}
		ln, err := plotter.NewLine(r)
		if err != nil {
			continue
		}
		ln.StepStyle = plotter.PostStep
		ln.LineStyle = solid(col, 1.3)
		p.Add(ln)
	}
}

// latencies returns each reply's (tick, latency) and the sorted latencies.
func latencies(tl *Timeline) (plotter.XYs, []uint64) {
	var pts plotter.XYs
	var lat []uint64
	for _, e := range tl.Events {
		if e.Kind == EvReply {
			pts = append(pts, plotter.XY{X: float64(e.Tick), Y: float64(e.Latency)})
			lat = append(lat, e.Latency)
		}
	}
	slices.Sort(lat)
	return pts, lat
}

func percentileLines(lat []uint64) []legendEntry {
	if len(lat) == 0 {
		return []legendEntry{{"no request completed", boxThumb{color.White}}}
	}
	return []legendEntry{
		{fmt.Sprintf("p50 = %d ticks", Percentile(lat, 50)), lineThumb{dashed(colP50, 1.5)}},
		{fmt.Sprintf("p99 = %d ticks", Percentile(lat, 99)), lineThumb{dashed(colP99, 1.5)}},
		{fmt.Sprintf("max = %d ticks", lat[len(lat)-1]), lineThumb{dashed(colMax, 1.5)}},
	}
}

// addPercentileRules marks p50, p99 and max of the sorted latencies.
func addPercentileRules(p *plot.Plot, lat []uint64, vertical bool) {
	p.Add(rule{at: float64(Percentile(lat, 50)), vertical: vertical, style: dashed(colP50, 1.5)},
		rule{at: float64(Percentile(lat, 99)), vertical: vertical, style: dashed(colP99, 1.5)},
		rule{at: float64(lat[len(lat)-1]), vertical: vertical, style: dashed(colMax, 1.5)})
}

func latencyFigure(title string, l *lanes, tl *Timeline) *figure {
	p := newPlot("Client request latency, submit to reply, at the tick of the reply", "tick (10 ms each)", "latency (ticks)")
	l.decorate(p)
	pts, lat := latencies(tl)
	legend := []legendEntry{{"request", glyphThumb{draw.GlyphStyle{Color: colSent, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}}}}
	if len(pts) > 0 {
		sc, _ := plotter.NewScatter(pts)
		sc.GlyphStyle = draw.GlyphStyle{Color: colSent, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		addPercentileRules(p, lat, false)
		p.Y.Min = 0
	} else {
		p.Y.Min, p.Y.Max = 0, 1
	}
	legend = append(legend, percentileLines(lat)...)
	legend = append(legend, legendEntry{"partition", boxThumb{colPartition}},
		legendEntry{"liveness phase", lineThumb{dashed(colLiveness, 1.2)}})
	return &figure{title: title, rows: [][]*plot.Plot{{p}}, legend: legend, w: vg.Points(1100), h: vg.Points(420)}
}

func histogramFigure(title string, tl *Timeline) *figure {
	p := newPlot("Client request latency distribution", "latency (ticks)", "requests")
	_, lat := latencies(tl)
	if len(lat) > 0 {
		vals := make(plotter.Values, len(lat))
		for i, v := range lat {
			vals[i] = float64(v)
		}
		bins := 40
		if span := lat[len(lat)-1] - lat[0]; span < uint64(bins) {
			bins = int(span) + 1
		}
		h, err := plotter.NewHist(vals, bins)
		if err == nil {
			h.FillColor = color.RGBA{0x93, 0xc5, 0xfd, 0xff}
			h.LineStyle = solid(colSent, 0.8)
			p.Add(h)
		}
		addPercentileRules(p, lat, true)
		p.Y.Min = 0
	} else {
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	}
	legend := append([]legendEntry{{"requests", boxThumb{color.RGBA{0x93, 0xc5, 0xfd, 0xff}}}}, percentileLines(lat)...)
	return &figure{title: title, rows: [][]*plot.Plot{{p}}, legend: legend, w: vg.Points(800), h: vg.Points(420)}
}

// rateBuckets caps the number of points drawn: a 400k-tick run sampled
// every 100 ticks would otherwise draw 4,000 jagged points per line.
const rateBuckets = 600

func messagesFigure(title string, l *lanes, tl *Timeline) *figure {
	p := newPlot("Network messages per tick (mean over each interval)", "tick (10 ms each)", "messages per tick")
	l.decorate(p)
	s := tl.Samples
	var sent, dropped plotter.XYs
	if len(s) > 1 {
		step := max(1, (len(s)-1+rateBuckets-1)/rateBuckets)
		for k := step; k < len(s); k += step {
			a, b := s[k-step], s[k]
			dt := float64(b.Tick - a.Tick)
			if dt == 0 {
				continue
			}
			sent = append(sent, plotter.XY{X: float64(b.Tick), Y: float64(b.Sent-a.Sent) / dt})
			dropped = append(dropped, plotter.XY{X: float64(b.Tick), Y: float64(b.Dropped-a.Dropped) / dt})
		}
	}
	for _, series := range []struct {
		xy  plotter.XYs
		col color.Color
	}{{sent, colSent}, {dropped, colDropped}} {
		if len(series.xy) == 0 {
			continue
		}
		ln, err := plotter.NewLine(series.xy)
		if err != nil {
			continue
		}
		ln.StepStyle = plotter.PreStep
		ln.LineStyle = solid(series.col, 1.2)
		p.Add(ln)
	}
	p.Y.Min = 0
	if len(sent) == 0 {
		p.Y.Max = 1
	}
	legend := []legendEntry{{"sent", lineThumb{solid(colSent, 2)}}, {"dropped", lineThumb{solid(colDropped, 2)}},
		{"partition", boxThumb{colPartition}}, {"liveness phase", lineThumb{dashed(colLiveness, 1.2)}}}
	return &figure{title: title, rows: [][]*plot.Plot{{p}}, legend: legend, w: vg.Points(1100), h: vg.Points(380)}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

var seedIndex = template.Must(template.New("seed").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>seed {{.Rec.Seed}}: {{.Rec.Result}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #111; }
img { max-width: 100%; border: 1px solid #ddd; margin: .5em 0; }
table { border-collapse: collapse; } td, th { padding: .15em .8em; text-align: left; border-bottom: 1px solid #eee; }
.pass { color: #047857; } .fail { color: #b91c1c; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
</style></head><body>
<h1>seed {{.Rec.Seed}}: <span class="{{if eq .Rec.Result "pass"}}pass{{else}}fail{{end}}">{{.Rec.Result}}</span></h1>
{{if .Rec.Failure}}<pre>{{.Rec.Failure}}</pre>{{end}}
<p>Reproduce: <code>{{.Reproduce}}</code></p>
<table>
<tr><th>replicas</th><td>{{.Rec.ReplicaCount}}</td><th>clients</th><td>{{.Rec.ClientCount}}</td><th>ticks</th><td>{{.Rec.Ticks}}</td></tr>
<tr><th>requests</th><td>{{.Rec.RequestsCompleted}}</td><th>commit max</th><td>{{.Rec.CommitMax}}</td><th>view max</th><td>{{.Rec.ViewMax}}</td></tr>
<tr><th>view changes</th><td>{{.Rec.ViewChanges}}</td><th>crashes</th><td>{{.Rec.Crashes}}</td><th>restarts</th><td>{{.Rec.Restarts}}</td></tr>
<tr><th>partitions</th><td>{{.Rec.Partitions}}</td><th>pauses</th><td>{{.Rec.Pauses}}</td><th>liveness ticks</th><td>{{.Rec.LivenessTicks}}</td></tr>
<tr><th>latency p50</th><td>{{.Rec.LatencyP50}}</td><th>p99</th><td>{{.Rec.LatencyP99}}</td><th>max</th><td>{{.Rec.LatencyMax}}</td></tr>
</table>
{{range .Graphs}}<h2>{{.}}</h2>
<a href="{{.}}.svg"><img src="{{.}}.png" alt="{{.}}"></a>
{{end}}
<h2>run record</h2>
<pre>{{.JSON}}</pre>
<p><a href="record.json">record.json</a> · <a href="timeline.json">timeline.json</a></p>
</body></html>
`))

func writeSeedIndex(dir string, rec Record, reproduce string) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return err
	}
	if err := seedIndex.Execute(f, map[string]any{"Rec": rec, "Graphs": SeedGraphs, "JSON": string(b), "Reproduce": reproduce}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
