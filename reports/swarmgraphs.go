package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SwarmGraphs are the base names of a swarm report's pictures.
var SwarmGraphs = []string{"results", "liveness", "latency_per_seed"}

var resultColors = map[Result]color.Color{
	Pass: colNormal, Correctness: colCrash, Liveness: colViewChange, Crash: colDown, Timeout: colPaused,
}

// WriteSwarmReport renders a swarm into dir: the SwarmGraphs as PNG and SVG
// and an index.html with the summary and a table of failing seeds.
// seedReports maps a failing seed to its per-seed report's index.html,
// relative to dir, where one was made.
func WriteSwarmReport(dir string, runs []Run, s Summary, seedReports map[string]string) error {
	if err := mkdir(dir); err != nil {
		return err
	}
	title := fmt.Sprintf("swarm: %d seeds at %s", s.Ran, commitsLabel(s.Commits))
	figs := map[string]*figure{
		"results":          resultsFigure(title, s),
		"liveness":         livenessFigure(title, runs, s),
		"latency_per_seed": latencyPerSeedFigure(title, runs),
	}
	for _, name := range SwarmGraphs {
		if err := figs[name].save(dir, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return writeSwarmIndex(dir, s, seedReports)
}

func commitsLabel(c []string) string {
	if len(c) == 1 {
		return "commit " + short(c[0])
	}
	return fmt.Sprintf("%d commits", len(c))
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func resultsFigure(title string, s Summary) *figure {
	p := newPlot("Runs per result", "", "seeds")
	var names []string
	for i, r := range ResultOrder {
		n := s.Results[r]
		names = append(names, fmt.Sprintf("%s (%d)", r, n))
		vals := make(plotter.Values, len(ResultOrder))
		vals[i] = float64(n)
		bar, err := plotter.NewBarChart(vals, vg.Points(60))
		if err != nil {
			continue
		}
		bar.Color = resultColors[r]
		bar.LineStyle = solid(color.Gray{Y: 0x60}, 0.6)
		p.Add(bar)
	}
	p.NominalX(names...)
	p.Y.Min = 0
	p.Y.Max = math.Max(p.Y.Max*1.05, 1)
	var legend []legendEntry
	for _, r := range ResultOrder {
		legend = append(legend, legendEntry{string(r), boxThumb{resultColors[r]}})
	}
	return &figure{title: title, rows: [][]*plot.Plot{{p}}, legend: legend, w: vg.Points(700), h: vg.Points(380)}
}

func livenessFigure(title string, runs []Run, s Summary) *figure {
	p := newPlot("Ticks to converge in the liveness phase (passing runs)", "ticks from the end of the fault phase", "seeds")
	var vals plotter.Values
	for i := range runs {
		if runs[i].Converged() {
			vals = append(vals, float64(runs[i].LivenessTicks))
		}
	}
	legend := []legendEntry{{"seeds", boxThumb{colRecovering}}}
	if len(vals) > 0 {
		h, err := plotter.NewHist(vals, 40)
		if err == nil {
			h.FillColor = color.RGBA{0x93, 0xc5, 0xfd, 0xff}
			h.LineStyle = solid(colRecovering, 0.8)
			p.Add(h)
		}
		lv := s.Liveness
		p.Add(rule{at: float64(lv.P50), vertical: true, style: dashed(colP50, 1.5)},
			rule{at: float64(lv.P99), vertical: true, style: dashed(colP99, 1.5)},
			rule{at: float64(lv.Max), vertical: true, style: dashed(colMax, 1.5)})
		legend = append(legend, legendEntry{fmt.Sprintf("p50 = %d", lv.P50), lineThumb{dashed(colP50, 1.5)}},
			legendEntry{fmt.Sprintf("p99 = %d", lv.P99), lineThumb{dashed(colP99, 1.5)}},
			legendEntry{fmt.Sprintf("max = %d", lv.Max), lineThumb{dashed(colMax, 1.5)}})
		p.Y.Min = 0
	} else {
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		legend = append(legend, legendEntry{"no run reached convergence (lite runs have no liveness phase)", boxThumb{color.White}})
	}
	return &figure{title: title, rows: [][]*plot.Plot{{p}}, legend: legend, w: vg.Points(800), h: vg.Points(400)}
}

// latencyPerSeedFigure draws each seed's p50, p99 and max request latency,
// seeds ordered by p99 so the curve reads as a distribution across seeds.
func latencyPerSeedFigure(title string, runs []Run) *figure {
	p := newPlot("Request latency per seed, seeds ordered by p99", "seeds, by p99 latency", "latency (ticks, log scale)")
	var with []*Run
	for i := range runs {
		if runs[i].LatencyMax > 0 {
			with = append(with, &runs[i])
		}
	}
	slices.SortStableFunc(with, func(a, b *Run) int {
		return cmp.Or(cmp.Compare(a.LatencyP99, b.LatencyP99), cmp.Compare(a.LatencyMax, b.LatencyMax))
	})
	series := []struct {
		name string
		col  color.Color
		get  func(*Run) uint64
	}{
		{"max", colMax, func(r *Run) uint64 { return r.LatencyMax }},
		{"p99", colP99, func(r *Run) uint64 { return r.LatencyP99 }},
		{"p50", colP50, func(r *Run) uint64 { return r.LatencyP50 }},
	}
	var legend []legendEntry
	for _, s := range series {
		glyph := draw.GlyphStyle{Color: s.col, Radius: vg.Points(1.8), Shape: draw.CircleGlyph{}}
		legend = append(legend, legendEntry{s.name, glyphThumb{glyph}})
		if len(with) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(with))
		for i, r := range with {
			xy[i] = plotter.XY{X: float64(i + 1), Y: float64(max(s.get(r), 1))}
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			continue
		}
		sc.GlyphStyle = glyph
		p.Add(sc)
	}
	if len(with) > 0 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min = math.Max(1, p.Y.Min)
	} else {
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		legend = append(legend, legendEntry{"no seed completed a request", boxThumb{color.White}})
	}
	return &figure{title: title, rows: [][]*plot.Plot{{p}}, legend: legend, w: vg.Points(1000), h: vg.Points(420)}
}

var swarmIndex = template.Must(template.New("swarm").Funcs(template.FuncMap{
	"report": func(m map[string]string, seed string) string { return m[seed] },
	"first": func(s string) string {
		line, _, _ := strings.Cut(s, "\n")
		return line
	},
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>swarm: {{.S.Ran}} seeds</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #111; }
img { max-width: 100%; border: 1px solid #ddd; margin: .5em 0; }
table { border-collapse: collapse; margin: .5em 0 1.5em; } td, th { padding: .2em .8em; text-align: left; border-bottom: 1px solid #eee; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 90%; } .sig { font-family: monospace; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
</style></head><body>
<h1>swarm: {{.S.Ran}} of {{.S.Planned}} seeds{{if .S.Stopped}} (stopped by {{.S.Stopped}}){{end}}</h1>
<p>commit {{range .S.Commits}}<code>{{.}}</code> {{end}}{{if .S.Meta.Shards}}· shards {{range .S.Meta.Shards}}{{.}} {{end}}{{end}}</p>
<table><tr>{{range .Order}}<th>{{.}}</th>{{end}}</tr>
<tr>{{range .Order}}<td class="num">{{index $.S.Results .}}</td>{{end}}</tr></table>
<h2>Failing seeds</h2>
{{if not .S.Failures}}<p>None.</p>{{end}}
{{range .S.Failures}}
<h3 class="sig">{{.Count}} × {{.Signature}}</h3>
<table><tr><th>seed</th><th>ticks</th><th>reproduce</th><th>report</th><th>failure</th></tr>
{{range .Seeds}}<tr><td>{{.Seed}}</td><td class="num">{{.Ticks}}</td><td><code>{{.Reproduce}}</code></td>
<td>{{with report $.Reports .Seed}}<a href="{{.}}">graphs</a>{{end}}</td><td><code>{{first .Failure | printf "%.300s"}}</code></td></tr>
{{end}}</table>
{{end}}
{{range .Graphs}}<h2>{{.}}</h2>
<a href="{{.}}.svg"><img src="{{.}}.png" alt="{{.}}"></a>
{{end}}
<h2>summary.json</h2>
<pre>{{.JSON}}</pre>
</body></html>
`))

func writeSwarmIndex(dir string, s Summary, seedReports map[string]string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return err
	}
	data := map[string]any{"S": s, "Order": ResultOrder, "Graphs": SwarmGraphs, "Reports": seedReports, "JSON": string(b)}
	if err := swarmIndex.Execute(f, data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
