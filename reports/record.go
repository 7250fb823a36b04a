// Package reports holds the run record: the one JSON object a simulator run
// leaves behind, which swarm tooling and graphs read.
package reports

import "encoding/json"

// Result names how a run ended.
type Result string

const (
	Pass        Result = "pass"
	Correctness Result = "correctness"
	Liveness    Result = "liveness"
	Crash       Result = "crash"
)

// What ended a safety phase (Record.SafetyEnd).
const (
	SafetyEndRequests = "requests"
	SafetyEndTicksMax = "ticks_max"
	SafetyEndPatience = "patience"
)

// ExitCode is the process exit code for a result, as TigerBeetle's VOPR uses.
func (r Result) ExitCode() int {
	switch r {
	case Pass:
		return 0
	case Liveness:
		return 128
	case Correctness:
		return 129
	}
	return 127
}

// Messages counts network traffic across the run. Corrupted counts
// deliveries the network damaged; Rejected, messages receivers dropped as
// undecodable (bad checksum, size, command or cluster), which includes every
// corrupted one delivered to a live receiver.
type Messages struct {
	Sent       uint64 `json:"sent"`
	Delivered  uint64 `json:"delivered"`
	Dropped    uint64 `json:"dropped"`
	Duplicated uint64 `json:"duplicated"`
	// LateReplayed counts the duplicates delivered seconds to a minute
	// late (packet.LateReplayDelayMinNs), included in Duplicated.
	LateReplayed uint64 `json:"late_replayed,omitempty"`
	Corrupted    uint64 `json:"corrupted"`
	Rejected     uint64 `json:"rejected"`
}

// Evictions counts the sessions evicted in a run, by reason name
// (no_session, session_too_low, ...). Records written before reasons were
// kept hold a bare count, which reads back under EvictionsUnknown.
type Evictions map[string]uint64

// EvictionsUnknown is the reason old records' counts read back under.
const EvictionsUnknown = "unknown"

// Total is the number of evictions, whatever the reason.
func (e Evictions) Total() uint64 {
	var n uint64
	for _, c := range e {
		n += c
	}
	return n
}

// UnmarshalJSON reads an object of counts by reason, or an old record's
// bare count.
func (e *Evictions) UnmarshalJSON(b []byte) error {
	var n uint64
	if err := json.Unmarshal(b, &n); err == nil {
		*e = Evictions{}
		if n > 0 {
			(*e)[EvictionsUnknown] = n
		}
		return nil
	}
	var m map[string]uint64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*e = m
	return nil
}

// Record is one run. Seed is a decimal string because JSON numbers lose
// precision past 2^53.
type Record struct {
	Seed              string         `json:"seed"`
	Result            Result         `json:"result"`
	ExitCode          int            `json:"exit_code"`
	Ticks             uint64         `json:"ticks"`
	ReplicaCount      int            `json:"replica_count"`
	ClientCount       int            `json:"client_count"`
	RequestsCompleted uint64         `json:"requests_completed"`
	CommitMax         uint64         `json:"commit_max"`
	ViewMax           uint32         `json:"view_max"`
	ViewChanges       uint64         `json:"view_changes"`
	Crashes           uint64         `json:"crashes"`
	Restarts          uint64         `json:"restarts"`
	Pauses            uint64         `json:"pauses"`
	Partitions        uint64         `json:"partitions"`
	Evictions         Evictions      `json:"evictions"`
	Messages          Messages       `json:"messages"`
	LivenessTicks     uint64         `json:"liveness_ticks"`
	Options           map[string]any `json:"options"`
	TraceHash         string         `json:"trace_hash"`
	Failure           string         `json:"failure,omitempty"`
	// RequestsCompletedSafety counts the requests completed in the safety
	// phase alone; RequestsCompleted adds those the liveness phase finished.
	RequestsCompletedSafety uint64 `json:"requests_completed_safety"`
	// RequestsSent counts the requests the clients submitted in the safety
	// phase (at most the requests max); SafetyEnd says what ended that
	// phase: every request sent and answered (SafetyEndRequests), the tick
	// limit (SafetyEndTicksMax), or a stretch without any reply as long as
	// the patience (SafetyEndPatience); empty when a failure ended it.
	RequestsSent uint64 `json:"requests_sent"`
	SafetyEnd    string `json:"safety_end,omitempty"`
	// NoProgressCause says, when the safety phase completed no request,
	// what the simulator saw that explains it (quorum down, partitioned,
	// clients evicted, ...).
	NoProgressCause string `json:"no_progress_cause,omitempty"`
	// LivenessExcused says, for a run that passes without its liveness
	// phase converging, why that is no failure: a block the core waits for
	// is intact only outside the core (sim's coreMissingBlocks).
	LivenessExcused string `json:"liveness_excused,omitempty"`
	// ReplyGapMax is the safety phase's longest stretch without a reply to
	// any client, in ticks: how close the run came to its patience
	// (--ticks-max-requests), which ends the phase.
	ReplyGapMax uint64 `json:"reply_gap_max_ticks"`
	// Checkpoints is how many distinct checkpoints the cluster made (each
	// checkpoint op counted once, whichever replicas reached it).
	Checkpoints int `json:"checkpoints"`
	// StateSyncs counts replicas that adopted a peer's newer checkpoint,
	// having fallen behind what the WALs still held.
	StateSyncs uint64 `json:"state_syncs"`
	// RecoveringHead counts replicas that opened unsure of their WAL's head
	// (or from a reformatted data file) and waited in recovering_head;
	// DisksHealed the restarts whose disk the simulator healed first, lest
	// too many replicas wait at once (see sim's restart).
	RecoveringHead uint64 `json:"recovering_head,omitempty"`
	DisksHealed    uint64 `json:"disks_healed,omitempty"`
	// GridBlocksMax is the most grid blocks any replica held acquired at a
	// checkpoint; JournalWraps how many times the highest committed op went
	// round the WAL.
	GridBlocksMax uint64 `json:"grid_blocks_max"`
	JournalWraps  uint64 `json:"journal_wraps"`
	// Disk memory: the simulated disks' shared sector store at its peak,
	// the sectors held (DiskBytesMax) and the pages of memory they touch
	// (DiskBytesResidentMax); and how far into the grid zone any disk has
	// written, in blocks (GridBlocksWritten: the highest address written,
	// at most the configured grid).
	DiskBytesMax         uint64 `json:"disk_bytes_max"`
	DiskBytesResidentMax uint64 `json:"disk_bytes_resident_max"`
	GridBlocksWritten    uint64 `json:"grid_blocks_written"`
	// GridLeakChecks counts replica checkpoints whose held grid blocks the
	// leak checker matched with what the checkpoint reaches; GridLeakSkips
	// those it could not walk (a block unreadable on every disk).
	GridLeakChecks uint64 `json:"grid_leak_checks"`
	GridLeakSkips  uint64 `json:"grid_leak_skips,omitempty"`
	// Workload counts the committed ledger operations: per operation, the
	// number of requests and of each result status (create operations) or
	// of objects found (lookups and queries).
	Workload map[string]map[string]uint64 `json:"workload,omitempty"`
	// Client request latency in ticks, submit to reply; absent when no
	// request completed.
	LatencyP50 uint64 `json:"latency_p50_ticks,omitempty"`
	LatencyP99 uint64 `json:"latency_p99_ticks,omitempty"`
	LatencyMax uint64 `json:"latency_max_ticks,omitempty"`
	// Clock describes the replicas' clocks when the run drew clock faults;
	// absent when every replica read one perfect clock.
	Clock *Clock `json:"clock,omitempty"`
	// StorageFaults counts the storage faults injected when the run drew
	// them; absent when the disks only lost or tore writes at crashes.
	StorageFaults *StorageFaults `json:"storage_faults,omitempty"`
	// Scrub sums the grid scrubbers' work over every replica and restart;
	// absent when no scrubber read a block.
	Scrub *Scrub `json:"scrub,omitempty"`
	// Repairs sums what the replicas mended, by kind, over every replica
	// and restart; absent when nothing was.
	Repairs *Repairs `json:"repairs,omitempty"`
	// GridReads counts grid block reads whose verification failed, by what
	// it found (bad_header_checksum, misdirected, stale, ...), over every
	// replica and restart; absent when none failed.
	GridReads map[string]uint64 `json:"grid_read_faults,omitempty"`
}

// Repairs counts a run's repairs by kind (vsr.Repairs has the meanings):
// WAL slots mended at open from their other copy, or left faulty for
// peers; superblock copies rewritten; headers and prepares repaired from
// peers; grid blocks fetched for reads, and for opening or syncing to a
// checkpoint; client replies fetched.
type Repairs struct {
	WALFixed   uint64 `json:"wal_fixed_locally"`
	WALFaulty  uint64 `json:"wal_faulty_at_open"`
	Superblock uint64 `json:"superblock_copies"`
	Headers    uint64 `json:"headers"`
	Prepares   uint64 `json:"prepares"`
	Blocks     uint64 `json:"grid_blocks"`
	SyncBlocks uint64 `json:"sync_blocks"`
	Replies    uint64 `json:"replies"`
}

// StorageFaults counts a run's injected storage faults by class, over every
// replica's disk. Reformats counts data files wiped while their replica
// was down (a disk replaced), each rejoining from a reformatted one.
type StorageFaults struct {
	Latent           uint64 `json:"latent"`
	BitRot           uint64 `json:"bit_rot"`
	Write            uint64 `json:"write"`
	MisdirectedWrite uint64 `json:"misdirected_write"`
	MisdirectedRead  uint64 `json:"misdirected_read"`
	Torn             uint64 `json:"torn"`
	Superblock       uint64 `json:"superblock"`
	CrashHead        uint64 `json:"crash_head"`
	Reformats        uint64 `json:"reformats"`
}

// Clock is what a run's clock faults were. Offsets and steps are wall clock
// minus true time; the largest magnitude drawn over all replicas is kept.
type Clock struct {
	Perfect     bool  `json:"perfect"`
	OffsetMaxNs int64 `json:"offset_max_ns"`
	DriftMaxPpb int64 `json:"drift_max_ppb"`
	WanderMaxNs int64 `json:"wander_max_ns"`
	StepMaxNs   int64 `json:"step_max_ns"`
	// Steps counts the steps that took effect during the run, Far those
	// that made a false ticker (beyond any agreement); StepMaxNs is the
	// largest of them.
	Steps uint64 `json:"steps"`
	Far   uint64 `json:"far"`
	// UnsynchronizedPrimaryTicks: ticks some primary spent without a
	// synchronized clock (zero until replicas synchronize their clocks).
	UnsynchronizedPrimaryTicks uint64 `json:"unsynchronized_primary_ticks"`
	// Abdications: times a primary stepped aside for want of a
	// synchronized clock.
	Abdications uint64 `json:"abdications"`
	// TimestampErrorMaxNs is the farthest from true time any prepare was
	// stamped; TimestampBoundNs the checker's bound for the run.
	TimestampErrorMaxNs int64 `json:"timestamp_error_max_ns"`
	TimestampBoundNs    int64 `json:"timestamp_bound_ns"`
}

// Percentile is the nearest-rank p-th percentile of sorted, which must not
// be empty.
func Percentile(sorted []uint64, p int) uint64 {
	rank := (len(sorted)*p + 99) / 100
	return sorted[max(rank, 1)-1]
}

// Scrub is the grid scrubbers' work in a run: blocks re-read and verified,
// those that failed, repaired from a peer's copy, and whole tours.
type Scrub struct {
	Scrubbed  uint64 `json:"blocks_scrubbed"`
	Faults    uint64 `json:"faults_found"`
	Repaired  uint64 `json:"repaired"`
	Requested uint64 `json:"requests"`
	Cycles    uint64 `json:"cycles"`
	// Overruns counts tours that outlasted their cycle; OverrunTicksMax
	// is the longest past its cycle's end any tour ran.
	Overruns        uint64 `json:"overruns"`
	OverrunTicksMax uint64 `json:"overrun_ticks_max"`
}
