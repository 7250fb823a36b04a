package reports

// EventKind names a timeline event.
type EventKind string

const (
	EvStatus    EventKind = "status"  // Replica entered Status in View
	EvCommit    EventKind = "commit"  // Replica executed Op
	EvCrash     EventKind = "crash"   // Replica's process died
	EvRestart   EventKind = "restart" // Replica's process started again (status recovering follows)
	EvPause     EventKind = "pause"
	EvUnpause   EventKind = "unpause"
	EvPartition EventKind = "partition" // the network split; Side lists side A
	EvHeal      EventKind = "heal"      // the partition ended
	EvLiveness  EventKind = "liveness"  // the fault phase ended; the liveness phase starts
	EvRequest   EventKind = "request"   // Client submitted a request
	EvReply     EventKind = "reply"     // Client got its reply Latency ticks after submitting
	EvEvicted   EventKind = "evicted"   // Client's session was evicted
)

// Event is one change in a run, at a tick.
type Event struct {
	Tick    uint64    `json:"tick"`
	Kind    EventKind `json:"kind"`
	Replica int       `json:"replica,omitempty"`
	Client  int       `json:"client,omitempty"`
	Status  string    `json:"status,omitempty"`
	View    uint32    `json:"view,omitempty"`
	Op      uint64    `json:"op,omitempty"`
	Latency uint64    `json:"latency,omitempty"`
	Side    []int     `json:"side,omitempty"`
}

// Sample holds the network counters, cumulative since the start of the run,
// as of Tick; differences between samples give messages per tick.
type Sample struct {
	Tick    uint64 `json:"tick"`
	Sent    uint64 `json:"sent"`
	Dropped uint64 `json:"dropped"`
}

// Timeline collects a run's events and samples for graphs. It satisfies
// sim.Recorder; the simulator only ever appends to it.
type Timeline struct {
	Events  []Event  `json:"events"`
	Samples []Sample `json:"samples"`
}

func (t *Timeline) Event(e Event)   { t.Events = append(t.Events, e) }
func (t *Timeline) Sample(s Sample) { t.Samples = append(t.Samples, s) }
