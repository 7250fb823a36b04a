package sim

import (
	"slices"

	"viewstamp/replica/vsr"
	"viewstamp/reports"
)

// Recorder receives a run's timeline, for graphs. It is called from inside
// the simulation loop and must not call back into the cluster: what it sees
// is a copy, so recording cannot change the run or its trace hash.
type Recorder interface {
	Event(reports.Event)
	Sample(reports.Sample)
}

const defaultSampleTicks = 100

// timeline is the cluster's side of recording. Request latencies are kept
// even without a Recorder because the run record reports their percentiles.
type timeline struct {
	submitted   []uint64 // per client: tick of the request in flight
	waiting     []bool   // per client: a request is in flight
	latencies   []uint64 // ticks from submit to reply, in reply order
	partitioned bool
	liveness    bool
	sampledAt   uint64
}

// tap sees every trace event. It is the one place recording hooks into the
// run, so the timeline and the trace hash can never disagree about what
// happened.
func (c *Cluster) tap(kind uint8, a, b, d uint64) {
	tl := &c.tl
	if kind == evRequest || kind == evReply || kind == evEvicted {
		for uint64(len(tl.waiting)) <= a {
			tl.submitted, tl.waiting = append(tl.submitted, 0), append(tl.waiting, false)
		}
	}
	tick := c.sched.Tick()
	rec := c.cfg.Recorder
	switch kind {
	case evRequest:
		tl.submitted[a], tl.waiting[a] = tick, true
		if rec != nil {
			rec.Event(reports.Event{Tick: tick, Kind: reports.EvRequest, Client: int(a)})
		}
	case evReply:
		if !tl.waiting[a] { // the session's registration, not a request
			return
		}
		tl.waiting[a] = false
		lat := tick - tl.submitted[a]
		tl.latencies = append(tl.latencies, lat)
		if rec != nil {
			rec.Event(reports.Event{Tick: tick, Kind: reports.EvReply, Client: int(a), Op: b, Latency: lat})
		}
	case evEvicted:
		tl.waiting[a] = false
		if rec != nil {
			rec.Event(reports.Event{Tick: tick, Kind: reports.EvEvicted, Client: int(a)})
		}
	}
	if rec == nil {
		return
	}
	ev := reports.Event{Tick: tick, Replica: int(a)}
	switch kind {
	case evStatus:
		ev.Kind, ev.Status, ev.View = reports.EvStatus, vsr.Status(b).String(), uint32(d)
	case evCommit:
		ev.Kind, ev.Op = reports.EvCommit, b
	case evCrash:
		ev.Kind = reports.EvCrash
	case evRestart:
		ev.Kind = reports.EvRestart
	case evPause:
		ev.Kind = reports.EvPause
	case evUnpause:
		ev.Kind = reports.EvUnpause
	default:
		return
	}
	rec.Event(ev)
}

// markLiveness records the start of the liveness phase once. Run calls it
// as the phase starts, since a cluster that has already converged runs no
// tick in it.
func (c *Cluster) markLiveness() {
	if c.cfg.Recorder != nil && c.liveness && !c.tl.liveness {
		c.tl.liveness = true
		c.cfg.Recorder.Event(reports.Event{Tick: c.livenessAt, Kind: reports.EvLiveness})
	}
}

// sampleTimeline runs once per tick while recording: it notices partitions
// and the start of the liveness phase, which have no trace event of their
// own, and samples the network counters every SampleTicks.
func (c *Cluster) sampleTimeline(tick uint64) {
	rec, tl := c.cfg.Recorder, &c.tl
	if rec == nil {
		return
	}
	if p := c.net.InPartition(); p != tl.partitioned {
		tl.partitioned = p
		ev := reports.Event{Tick: tick, Kind: reports.EvHeal}
		if p {
			ev.Kind = reports.EvPartition
			for i := range c.replicas {
				if c.net.Side(i) {
					ev.Side = append(ev.Side, i)
				}
			}
		}
		rec.Event(ev)
	}
	c.markLiveness()
	every := c.cfg.SampleTicks
	if every == 0 {
		every = defaultSampleTicks
	}
	if tick%every == 0 {
		c.sampleNetwork(tick)
	}
}

func (c *Cluster) sampleNetwork(tick uint64) {
	st := c.net.Stats()
	c.tl.sampledAt = tick
	c.cfg.Recorder.Sample(reports.Sample{Tick: tick, Sent: st.Sent, Dropped: st.Dropped})
}

// finishTimeline closes the last sampling interval at the run's end.
func (c *Cluster) finishTimeline() {
	if c.cfg.Recorder == nil {
		return
	}
	if tick := c.sched.Tick(); tick > c.tl.sampledAt {
		c.sampleNetwork(tick)
	}
}

// latencyPercentiles fills the record's request latency fields.
func (c *Cluster) latencyPercentiles(rec *reports.Record) {
	if len(c.tl.latencies) == 0 {
		return
	}
	l := slices.Clone(c.tl.latencies)
	slices.Sort(l)
	rec.LatencyP50 = reports.Percentile(l, 50)
	rec.LatencyP99 = reports.Percentile(l, 99)
	rec.LatencyMax = l[len(l)-1]
}
