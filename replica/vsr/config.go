package vsr

import (
	"fmt"

	"viewstamp/replica/clock"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/scrub"
)

// Config holds the sizes that production and the simulator choose differently.
// Every replica of a cluster must run with the same Config.
type Config struct {
	// The data file's sizes (sectors, WAL slots, messages, pipeline,
	// clients, grid), shared with the storage engine so that the journal,
	// the checkpoint schedule and the layout of the file agree.
	storage.Config

	ReplicaCount uint8
	// Release is this replica's release (ReleaseString), sent in its
	// messages; a client whose release is below ReleaseClientMin or above
	// Release is evicted, as TigerBeetle does.
	Release          uint32
	ReleaseClientMin uint32
	// RequestSizeLimit bounds a client's request, header included: a
	// register's reply gives the client batch_size_limit = RequestSizeLimit
	// - HeaderSize, and a larger request is evicted. TigerBeetle's
	// production value is the message size; its --development, 32 KiB.
	RequestSizeLimit uint64
	RequestQueueMax  int // requests waiting for a pipeline slot
	HeadersPerReply  int // headers in one `headers` message (bounded by MessageSizeMax too)

	// Timeouts, in ticks of 10 ms.
	PingTicks            uint64
	PrepareTicks         uint64
	CommitTicks          uint64 // primary heartbeat
	NormalHeartbeatTicks uint64 // backup: primary presumed dead after this long without a word
	ViewChangeTicks      uint64 // a view change that has not finished by then moves on
	ViewChangeSendTicks  uint64 // resend exit_view / join_view
	RepairTicks          uint64
	AbdicateTicks        uint64 // primary steps aside after this long without committing
	// ExitVoteTicks: an exit_view vote not heard again for this long no
	// longer counts. Voters re-send held votes at least every
	// NormalHeartbeatTicks (plus jitter), so this spans two re-sends: one
	// lost message does not expire a vote still held.
	ExitVoteTicks uint64
	// ClockAbdicateTicks: a primary whose clock has not been synchronized
	// for this long, with requests waiting, steps aside; a bad clock must
	// not stall the cluster (TigerBeetle's primary_abdicate_timeout).
	ClockAbdicateTicks uint64
	// Clock sets the synchronization windows (replica/clock).
	Clock clock.Config
	// ScrubCycleTicks is how long the grid scrubber may take to re-read
	// every block of the checkpoint (replica/storage/scrub).
	ScrubCycleTicks uint64

	// Bugs plants known protocol bugs, to prove the simulator's checkers
	// catch them. Always zero outside such tests.
	Bugs Bugs
}

// Bugs are deliberate protocol mistakes.
type Bugs struct {
	ReplicationQuorumTooSmall bool // commit with one prepare_ok fewer than the quorum
	AckBeforeDurable          bool // send prepare_ok before the WAL write completes
}

// ProductionConfig mirrors TigerBeetle's production constants where they exist.
func ProductionConfig(replicaCount uint8) Config {
	return Config{
		Config:               storage.ProductionConfig(),
		ReplicaCount:         replicaCount,
		Release:              ReleaseProduction,
		ReleaseClientMin:     ReleaseClientMinProduction,
		RequestSizeLimit:     storage.ProductionMessageSizeMax,
		RequestQueueMax:      64,
		HeadersPerReply:      64,
		PingTicks:            100,
		PrepareTicks:         25,
		CommitTicks:          50,
		NormalHeartbeatTicks: 500,
		ViewChangeTicks:      500,
		ViewChangeSendTicks:  50,
		RepairTicks:          10,
		AbdicateTicks:        1000,
		ExitVoteTicks:        1500,
		ClockAbdicateTicks:   1000,
		Clock:                clock.ProductionConfig(),
		ScrubCycleTicks:      scrub.ProductionCycleTicks,
	}
}

// SimConfig is small on purpose, like TigerBeetle's test configuration: a small
// pipeline and small messages make the interesting edges (full pipeline, full
// request queue, multi-message repair) common.
func SimConfig(replicaCount uint8) Config {
	c := ProductionConfig(replicaCount)
	// The storage engine's simulator preset: a WAL of 32 slots that wraps
	// every 20 ops, so every seed crosses checkpoints.
	c.Config = storage.SimulatorConfig()
	c.RequestSizeLimit = c.MessageSizeMax
	c.RequestQueueMax = 8
	c.HeadersPerReply = 8
	c.ScrubCycleTicks = scrub.SimulatorCycleTicks
	return c
}

// Validate reports a configuration the replica cannot run with.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch {
	case c.ReplicaCount < 1 || c.ReplicaCount > ReplicasMax:
		return fmt.Errorf("replica count %d outside [1, %d]", c.ReplicaCount, ReplicasMax)
	case c.PipelineMax+1 > 64:
		return fmt.Errorf("pipeline max %d outside [1, 63]", c.PipelineMax)
	case c.JournalSlotCount < 2*c.PipelineMax:
		return fmt.Errorf("journal slot count %d smaller than two pipelines", c.JournalSlotCount)
	case c.ExitVoteTicks < 2*jittered(c.NormalHeartbeatTicks) || c.ExitVoteTicks < 2*jittered(c.ViewChangeSendTicks) || c.ExitVoteTicks < 2*jittered(c.CommitTicks):
		return fmt.Errorf("exit vote ticks %d shorter than two re-sends of a held vote", c.ExitVoteTicks)
	case c.Clock.Validate() != nil:
		return c.Clock.Validate()
	case c.Clock.TickNs != clock.TickNs:
		return fmt.Errorf("clock tick %d ns is not the replica's %d ns", c.Clock.TickNs, clock.TickNs)
	case c.ClockAbdicateTicks <= c.Clock.WindowMinTicks+2*jittered(c.PingTicks):
		// A primary that has just started (or restarted) needs a window's
		// worth of pongs before its clock can synchronize.
		return fmt.Errorf("clock abdicate ticks %d leave no time for a first window of %d ticks and two pings", c.ClockAbdicateTicks, c.Clock.WindowMinTicks)
	case c.Release == 0 || c.ReleaseClientMin == 0 || c.ReleaseClientMin > c.Release:
		return fmt.Errorf("release %s with client minimum %s", ReleaseString(c.Release), ReleaseString(c.ReleaseClientMin))
	case c.RequestSizeLimit < HeaderSize+RegisterRequestSize || c.RequestSizeLimit > c.MessageSizeMax:
		return fmt.Errorf("request size limit %d outside [%d, message size max %d]", c.RequestSizeLimit, HeaderSize+RegisterRequestSize, c.MessageSizeMax)
	case uint64(c.HeadersPerReply)*HeaderSize+HeaderSize > c.MessageSizeMax:
		return fmt.Errorf("headers per reply %d do not fit a message", c.HeadersPerReply)
	}
	return nil
}

// jittered is the longest a periodic timeout of base ticks can take.
func jittered(base uint64) uint64 { return base + base/4 }

// RequestSizeLimitDevelopment is TigerBeetle's request size limit under
// --development: 32 KiB, a batch_size_limit of 32,512.
const RequestSizeLimitDevelopment = 32 << 10

// BatchSizeLimit is the largest request body this configuration accepts,
// what a register's reply tells the client.
func (c Config) BatchSizeLimit() uint32 { return uint32(c.RequestSizeLimit - HeaderSize) }

// ReplicasMax bounds the cluster size, as in TigerBeetle.
const ReplicasMax = 6

// Quorums are TigerBeetle's flexible quorums: a smaller replication quorum buys
// latency, paid for by a larger view-change quorum, so that any replication
// quorum intersects any view-change quorum.
type Quorums struct {
	Replication uint8
	ViewChange  uint8
	Nack        uint8
}

// QuorumsFor returns the quorums for a cluster of r replicas.
func QuorumsFor(r uint8) Quorums {
	var q Quorums
	switch {
	case r == 2:
		q.Replication = 2
	default:
		q.Replication = min(3, (r+1)/2)
	}
	if r == 2 {
		q.ViewChange = 2
	} else {
		q.ViewChange = r - q.Replication + 1
	}
	q.Nack = r - q.Replication + 1
	return q
}

// Layout is where each zone of the data file lies for this configuration.
func (c Config) Layout() storage.Layout { return storage.MustLayout(c.Config) }
