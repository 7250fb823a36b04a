package sim

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"viewstamp/reports"
)

// Recording must be invisible to the run: same trace hash and record with
// the recorder on and off, and the timeline must agree with the record.
func TestRecorderDoesNotChangeTheRun(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		off := run(seed, Config{})
		var tl reports.Timeline
		on := run(seed, Config{Recorder: &tl, SampleTicks: 50})
		if !reflect.DeepEqual(off, on) {
			t.Fatalf("seed %d: recording changed the run:\noff %+v\non  %+v", seed, off, on)
		}
		count := map[reports.EventKind]uint64{}
		var lat []uint64
		for _, e := range tl.Events {
			count[e.Kind]++
			if e.Kind == reports.EvReply {
				lat = append(lat, e.Latency)
			}
		}
		if count[reports.EvCrash] != on.Crashes || count[reports.EvRestart] != on.Restarts || count[reports.EvPause] != on.Pauses {
			t.Errorf("seed %d: timeline has %d crashes, %d restarts, %d pauses; record %d, %d, %d", seed,
				count[reports.EvCrash], count[reports.EvRestart], count[reports.EvPause], on.Crashes, on.Restarts, on.Pauses)
		}
		if count[reports.EvPartition] != on.Partitions {
			t.Errorf("seed %d: %d partition events, record says %d", seed, count[reports.EvPartition], on.Partitions)
		}
		if uint64(len(lat)) != on.RequestsCompleted || count[reports.EvLiveness] != 1 {
			t.Errorf("seed %d: %d replies and %d liveness marks; record: %d requests", seed, len(lat), count[reports.EvLiveness], on.RequestsCompleted)
		}
		if on.RequestsCompleted > 0 && (on.LatencyMax == 0 || on.LatencyP50 > on.LatencyP99 || on.LatencyP99 > on.LatencyMax) {
			t.Errorf("seed %d: latency p50 %d p99 %d max %d", seed, on.LatencyP50, on.LatencyP99, on.LatencyMax)
		}
		for _, l := range lat {
			if l > on.LatencyMax {
				t.Errorf("seed %d: reply latency %d above the record's max %d", seed, l, on.LatencyMax)
			}
		}
		last := tl.Samples[len(tl.Samples)-1]
		if last.Tick != on.Ticks || last.Sent != on.Messages.Sent || last.Dropped != on.Messages.Dropped {
			t.Errorf("seed %d: last sample %+v, record ends at tick %d with %+v", seed, last, on.Ticks, on.Messages)
		}
		// Formatting the data files takes the first ticks, before sampling starts.
		if want := (on.Ticks - tl.Samples[0].Tick) / 50; uint64(len(tl.Samples)) < want {
			t.Errorf("seed %d: %d samples over ticks %d..%d, want at least %d", seed, len(tl.Samples), tl.Samples[0].Tick, on.Ticks, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	s := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		p    int
		want uint64
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {0, 1}} {
		if got := reports.Percentile(s, c.p); got != c.want {
			t.Errorf("p%d = %d, want %d", c.p, got, c.want)
		}
	}
	if reports.Percentile([]uint64{7}, 99) != 7 {
		t.Error("single value")
	}
}

// panicky panics at its n-th event, standing in for a bug anywhere in the
// run.
type panicky struct{ n int }

func (p *panicky) Event(reports.Event) {
	if p.n--; p.n == 0 {
		panic(fmt.Sprintf("planted panic %p", p))
	}
}
func (p *panicky) Sample(reports.Sample) {}

// A crash's record must replay byte for byte too: its stack carries no heap
// addresses.
func TestCrashRecordIsDeterministic(t *testing.T) {
	var recs [2]reports.Record
	for i := range recs { // one call site: the stack names the caller's line
		recs[i] = run(4, Config{Recorder: &panicky{n: 50}})
	}
	a, b := recs[0], recs[1]
	if a.Result != reports.Crash || !strings.Contains(a.Failure, "planted panic") || !strings.Contains(a.Failure, "sim.(*Cluster).tap(...)") {
		t.Fatalf("not a crash with a stack: %s: %s", a.Result, a.Failure)
	}
	// The panic value itself holds an address; everything after it must match.
	_, sa, _ := strings.Cut(a.Failure, "\n")
	_, sb, _ := strings.Cut(b.Failure, "\n")
	if sa != sb || a.Ticks != b.Ticks || a.TraceHash != b.TraceHash {
		t.Fatalf("same seed, different crash records:\n%s\n---\n%s", sa, sb)
	}
}
