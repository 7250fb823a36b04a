package reports_test

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"viewstamp/faults"
	"viewstamp/reports"
	"viewstamp/sim"
)

// readGraph checks that name.png decodes to a picture of at least minW×minH
// pixels and returns the SVG's text.
func readGraph(t *testing.T, dir, name string, minW, minH int) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s.png: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() < minW || b.Dy() < minH {
		t.Errorf("%s.png is %dx%d, want at least %dx%d", name, b.Dx(), b.Dy(), minW, minH)
	}
	// A blank canvas would decode too: demand more than a handful of colours.
	colors := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	if len(colors) < 8 {
		t.Errorf("%s.png has only %d distinct colours: is anything drawn?", name, len(colors))
	}
	svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(svg)), "<?xml") || !strings.Contains(string(svg), "<svg") {
		t.Errorf("%s.svg is not an SVG document", name)
	}
	return string(svg)
}

// The report of a seed with five or more replicas, view changes, crashes,
// pauses, partitions and completed requests (seed 18 when this was
// written) must show every lane state and marker.
func TestSeedReport(t *testing.T) {
	var tl reports.Timeline
	var rec reports.Record
	for seed := uint64(1); ; seed++ {
		o := faults.Draw(seed, faults.Limits{})
		if o.ReplicaCount < 5 || o.Process.CrashProbability == 0 || o.Process.PauseProbability == 0 {
			continue
		}
		tl = reports.Timeline{}
		rec = sim.Run(o, sim.Config{Recorder: &tl})
		if rec.Crashes > 0 && rec.ViewChanges > 0 && rec.Pauses > 0 && rec.Partitions > 0 && rec.RequestsCompleted > 0 {
			break
		}
		if seed > 200 {
			t.Fatal("no seed up to 200 has crashes, pauses, view changes, partitions and requests")
		}
	}
	dir := t.TempDir()
	if err := reports.WriteSeedReport(dir, rec, &tl, reports.Reproduce(rec.Seed, nil)); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"timeline": {"replica 0", "replica 4", "normal", "view change", "recovering", "down", "paused", "crash", "restart",
			"partition", "liveness phase", "View number", "Executed op", "r4"},
		"latency":           {"request", "p50 = ", "p99 = ", "max = ", "latency (ticks)"},
		"latency_histogram": {"requests", "p50 = ", "p99 = ", "max = "},
		"messages":          {"sent", "dropped", "messages per tick"},
	}
	for _, name := range reports.SeedGraphs {
		svg := readGraph(t, dir, name, 700, 300)
		for _, s := range want[name] {
			if !strings.Contains(svg, ">"+s) {
				t.Errorf("%s.svg lacks %q", name, s)
			}
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"timeline.png", "latency.png", "latency_histogram.png", "messages.png", rec.TraceHash, "vopr --seed " + rec.Seed} {
		if !strings.Contains(string(html), s) {
			t.Errorf("index.html lacks %q", s)
		}
	}
	var back reports.Record
	b, _ := os.ReadFile(filepath.Join(dir, "record.json"))
	if err := json.Unmarshal(b, &back); err != nil || back.TraceHash != rec.TraceHash {
		t.Errorf("record.json does not hold the run record: %v", err)
	}
}

// A run that completes no request still gets every picture.
func TestSeedReportWithoutRequests(t *testing.T) {
	tl := reports.Timeline{Events: []reports.Event{
		{Tick: 0, Kind: reports.EvStatus, Replica: 0, Status: "recovering"},
		{Tick: 3, Kind: reports.EvStatus, Replica: 0, Status: "normal"},
		{Tick: 50, Kind: reports.EvCrash, Replica: 0},
	}, Samples: []reports.Sample{{Tick: 0}, {Tick: 100, Sent: 10}}}
	rec := reports.Record{Seed: "9", Result: reports.Liveness, ReplicaCount: 1, Ticks: 100}
	dir := t.TempDir()
	if err := reports.WriteSeedReport(dir, rec, &tl, reports.Reproduce(rec.Seed, nil)); err != nil {
		t.Fatal(err)
	}
	if svg := readGraph(t, dir, "latency_histogram", 700, 300); !strings.Contains(svg, "no request completed") {
		t.Error("an empty latency histogram does not say why")
	}
}
