package disk

import (
	"fmt"
	"math/rand/v2"

	"viewstamp/replica/io"
)

// Atlas decides where storage faults may land across a cluster, so that the
// cluster can always recover what a fault destroys from a peer.
//
// The rule: the data file is cut into chunks, each one unit of recovery:
//
//   - a WAL chunk is one sector of the header ring together with the prepare
//     slots whose headers that sector holds (both copies of those slots);
//   - a client-reply chunk is one session's reply slot;
//   - a grid chunk is one block.
//
// For each chunk, at most QuorumReplication-1 replicas may ever be faulty
// there; every other replica's copy is left alone (crash tears excepted:
// they hit only writes not yet acknowledged). An op is acknowledged only
// once a replication quorum holds it durably, so at least one of those
// replicas keeps an intact copy to repair the others from. A zone of two or
// more chunks never has a replica faulty in all of them: no replica may lose
// every copy of the WAL, its replies or its grid at once, and those it can
// still read let it take part in recovery.
//
// Chunks are assigned by sliding a window of QuorumReplication-1 replicas
// over a permutation of the replicas drawn from the seed, one window step
// per chunk: window k starts at (base + k*(QuorumReplication-1)) mod
// replicas, base drawn per zone. Since QuorumReplication-1 is at most half
// the replicas, consecutive windows are disjoint and no replica is in two
// neighbouring chunks, let alone all of them.
//
// The superblock has no chunks of this kind: each replica's copies are its
// own, with no peer to repair them from. Its faults are instead bounded per
// replica (see Disk) so that open's quorum rule (two copies of a version, or
// one copy chained to one of its parent) always holds:
//
//   - at most one copy is damaged at a time (corrupt, stale, torn at a crash,
//     or a misdirected copy: the copy it missed stays stale and the copy it
//     landed on holds the same version under the missed copy's index, so
//     the pair costs the version one vote); while one is, no other fault
//     lands in the superblock;
//   - a crash may tear the one copy being written whatever else is damaged
//     (writes are one copy at a time), and the torn copy then counts as
//     damaged until rewritten;
//   - misdirected writes of other zones never land in the superblock, nor
//     does a superblock write go elsewhere but onto a whole other copy: one
//     landing mid-zone would span two copies besides the one it missed;
//   - at most one superblock read per process is misdirected.
//
// So an open sees at most two bad copies of four, and of the other two each
// holds the last durable version or the one being written after it.
//
// A cluster of one replica has no peer: its atlas has no faulty replica.
// Grid faults are only placed when there are three replicas or more: with
// two, a replica syncing from the other would leave it the only copy.
type Atlas struct {
	replicas int
	faulty   int // replicas faulty per chunk
	perm     []int
	// always, if >= 0, is a replica whose data file may be wiped
	// (Reformatted): faulty in every chunk, so the windows of the others
	// are one narrower, over others (perm without it).
	always int
	others []int
	base   [io.ZoneCount]int
	chunk  [io.ZoneCount]uint64 // chunk size in bytes; 0: zone never faulty
}

// AtlasChunks are the chunk sizes of each zone, in bytes. WALHeaders and
// WALPrepares must describe the same number of chunks (a header sector and
// the prepares it covers); a zero size keeps that zone free of atlas faults.
type AtlasChunks [io.ZoneCount]uint64

// NewAtlas draws an atlas from rng: one Perm(replicas), then one
// IntN(replicas) per zone in zone order.
func NewAtlas(rng *rand.Rand, replicas, quorumReplication int, chunks AtlasChunks) *Atlas {
	if replicas < 1 || quorumReplication < 1 || quorumReplication > replicas {
		panic(fmt.Sprintf("disk: atlas for %d replicas, replication quorum %d", replicas, quorumReplication))
	}
	a := &Atlas{replicas: replicas, faulty: quorumReplication - 1, perm: rng.Perm(replicas), chunk: chunks, always: -1}
	for z := range io.ZoneCount {
		a.base[z] = rng.IntN(replicas)
	}
	// The two WAL rings are one chunk set: the same window for sector k of
	// the header ring and the k-th run of prepare slots.
	a.base[io.ZoneWALPrepares] = a.base[io.ZoneWALHeaders]
	if 2*a.faulty > replicas {
		panic(fmt.Sprintf("disk: atlas windows of %d overlap among %d replicas", a.faulty, replicas))
	}
	if replicas < gridFaultReplicasMin {
		a.chunk[io.ZoneGrid] = 0
	}
	return a
}

// gridFaultReplicasMin is the smallest cluster whose grid may be faulted.
const gridFaultReplicasMin = 3

// Reformatted makes replica one whose whole data file may be lost (a disk
// replaced, sim's reformats): it counts as faulty in every chunk of every
// zone, and the other replicas share what is left of each chunk's budget,
// QuorumReplication-2 faulty replicas, in windows sliding over them as
// before. A committed op is durable on a replication quorum; wiping this
// replica leaves at least QuorumReplication-1 of the others holding it, at
// most QuorumReplication-2 of them faulty there, so one intact copy always
// remains. With QuorumReplication 2 (three or four replicas) the others are
// never faulty. Being faulty everywhere breaks the rule that no replica is
// faulty in all of a zone's chunks, for this replica only: it recovers
// whatever it lost from peers, by repair, or by a reformat's state sync.
// Call it before any fault is drawn; it draws nothing.
func (a *Atlas) Reformatted(replica int) {
	a.always = replica
	a.others = a.others[:0]
	for _, p := range a.perm {
		if p != replica {
			a.others = append(a.others, p)
		}
	}
}

// FaultyPerChunk is how many replicas may be faulty in one chunk.
func (a *Atlas) FaultyPerChunk() int { return a.faulty }

// Eligible reports whether replica may be faulty at offset of zone. The
// superblock is always eligible: its own budget bounds it.
func (a *Atlas) Eligible(replica int, zone io.Zone, offset uint64) bool {
	if zone == io.ZoneSuperblock {
		return true
	}
	size := a.chunk[zone]
	if size == 0 || a.faulty == 0 {
		return false
	}
	k := offset / size
	perm, width := a.perm, a.faulty
	if a.always >= 0 {
		if replica == a.always {
			return true
		}
		perm, width = a.others, a.faulty-1
	}
	n := uint64(len(perm))
	start := (uint64(a.base[zone]) + k*uint64(width)) % n
	for j := 0; j < width; j++ {
		if perm[(start+uint64(j))%n] == replica {
			return true
		}
	}
	return false
}

// EligibleRange reports whether replica may be faulty across all of
// [offset, offset+length) of zone.
func (a *Atlas) EligibleRange(replica int, zone io.Zone, offset, length uint64) bool {
	if zone == io.ZoneSuperblock {
		return true
	}
	size := a.chunk[zone]
	if size == 0 {
		return false
	}
	for k := offset / size; k*size < offset+length; k++ {
		if !a.Eligible(replica, zone, k*size) {
			return false
		}
	}
	return true
}
