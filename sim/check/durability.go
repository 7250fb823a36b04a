package check

import (
	"fmt"
	"strings"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Peek copies the durable contents at offset in zone of a replica's disk
// into buf: what a crash at this instant would leave there.
type Peek func(replica int, zone rio.Zone, offset uint64, buf []byte)

// Durability is the durability checker. It reads the replicas' disks, not
// their memory, so that a prepare acknowledged or committed before it was
// written is seen at once, without waiting for a crash to lose it and a view
// change to pick a log without it.
//
// The journal acknowledges a prepare once it is in its prepares-ring slot
// and then its header is in the header ring; recovery trusts a valid
// prepares-ring slot on its own. So a prepare_ok must find both, unless the
// prepare was already on disk when the process opened its journal (recovery
// counts it durable without rewriting the ring); and a committed op must be
// in the prepares ring of a replication quorum, for no view change quorum can
// then miss it. Without checkpoints no slot is reused within a run (sim.New
// bounds the ops to half the WAL), so only a replica with another view's
// prepare at that op lacks it, and it just does not count.
type Durability struct {
	cluster u128.U128
	slots   uint64
	sizeMax uint64
	quorum  int
	peek    Peek
	// opened is, per replica and slot, the checksum of the valid prepare
	// its disk held when its current process opened the journal.
	opened [][]u128.U128
	// wiped is, per replica and slot, the checksum of the valid prepare its
	// disk held when the simulator last wiped it (a disk replaced): copies
	// a commit may have been decided on, destroyed since (Wiped).
	wiped [][]u128.U128

	slot []byte // one prepares-ring slot
	ring [vsr.HeaderSize]byte
	m    vsr.Message
}

func NewDurability(cluster u128.U128, cfg vsr.Config, peek Peek) *Durability {
	r := int(cfg.ReplicaCount)
	d := &Durability{
		cluster: cluster,
		slots:   cfg.JournalSlotCount,
		sizeMax: cfg.MessageSizeMax,
		quorum:  int(vsr.QuorumsFor(cfg.ReplicaCount).Replication),
		peek:    peek,
		opened:  make([][]u128.U128, r),
		wiped:   make([][]u128.U128, r),
		slot:    make([]byte, cfg.MessageSizeMax),
	}
	for i := range d.opened {
		d.opened[i] = make([]u128.U128, cfg.JournalSlotCount)
	}
	return d
}

// Opened notes what replica's disk holds as a new process opens it: the
// prepares its recovery will count durable whatever the header ring says.
func (d *Durability) Opened(replica int) {
	for s := uint64(0); s < d.slots; s++ {
		d.opened[replica][s] = u128.Zero
		if sum, ok := d.prepareAt(replica, s); ok {
			d.opened[replica][s] = sum
		}
	}
}

// Wiped notes, just before replica's data file is wiped, the prepares it
// holds: a primary may have decided to commit one on that replica's
// acknowledgement, sent while the copy existed, and the op first enters the
// committed history (a replica executes it) only after the wipe. The
// reformatted replica counts as faulty for every slot (the fault atlas), and
// never votes with what it lost, so the quorum that decided still protects
// the op; the checker counts the copy as it was when acknowledged.
func (d *Durability) Wiped(replica int) {
	if d.wiped[replica] == nil {
		d.wiped[replica] = make([]u128.U128, d.slots)
	}
	// A slot the disk holds nothing valid in keeps what an earlier wipe
	// found there: a replica wiped twice before the op's first execution.
	for s := uint64(0); s < d.slots; s++ {
		if sum, ok := d.prepareAt(replica, s); ok {
			d.wiped[replica][s] = sum
		}
	}
}

// Acked checks a prepare_ok replica sends for the prepare sum at op.
func (d *Durability) Acked(replica int, op uint64, sum u128.U128) error {
	if !d.holds(replica, op, sum) {
		return fmt.Errorf("replica %d sent prepare_ok for op %d (checksum %v) before it was durable: its WAL slot holds %s", replica, op, sum, d.describe(d.slot, true))
	}
	s := op % d.slots
	if d.opened[replica][s] == sum {
		return nil
	}
	d.peek(replica, rio.ZoneWALHeaders, s*vsr.HeaderSize, d.ring[:])
	if string(d.ring[:]) != string(d.slot[:vsr.HeaderSize]) {
		return fmt.Errorf("replica %d sent prepare_ok for op %d (checksum %v) before its header was durable: the prepare is in its WAL slot but its header ring entry holds %s", replica, op, sum, d.describe(d.ring[:], false))
	}
	return nil
}

// Committed checks an op as it first enters the committed history.
func (d *Durability) Committed(op uint64, sum u128.U128) error {
	held := 0
	for i := range d.opened {
		if d.holds(i, op, sum) || d.heldWhenWiped(i, op, sum) {
			held++
		}
	}
	if held >= d.quorum {
		return nil
	}
	// Read again to name every disk: the common case allocates nothing.
	var holders []int
	var others []string
	for i := range d.opened {
		if d.holds(i, op, sum) {
			holders = append(holders, i)
		} else if d.heldWhenWiped(i, op, sum) {
			holders = append(holders, i)
			others = append(others, fmt.Sprintf("replica %d held it when wiped", i))
		} else {
			others = append(others, fmt.Sprintf("replica %d holds %s", i, d.describe(d.slot, true)))
		}
	}
	return fmt.Errorf("op %d (checksum %v) committed while only replicas %v hold it durably, fewer than the replication quorum %d (%s)", op, sum, holders, d.quorum, strings.Join(others, "; "))
}

// holds reports whether replica's prepares-ring slot for op holds a valid
// prepare with checksum sum, leaving what the slot holds in d.slot.
func (d *Durability) holds(replica int, op uint64, sum u128.U128) bool {
	got, ok := d.prepareAt(replica, op%d.slots)
	return ok && got == sum
}

// heldWhenWiped reports whether replica's prepares-ring slot for op held the
// prepare sum when its data file was last wiped.
func (d *Durability) heldWhenWiped(replica int, op uint64, sum u128.U128) bool {
	return d.wiped[replica] != nil && d.wiped[replica][op%d.slots] == sum
}

// prepareAt reads slot s of replica's prepares ring and returns the checksum
// of the valid prepare there, if any.
func (d *Durability) prepareAt(replica int, s uint64) (u128.U128, bool) {
	b := d.slot
	d.peek(replica, rio.ZoneWALPrepares, s*d.sizeMax, b[:vsr.HeaderSize])
	var h vsr.Header
	if vsr.DecodeHeader(b, &h) != nil || uint64(h.Size) < vsr.HeaderSize || uint64(h.Size) > d.sizeMax {
		return u128.Zero, false
	}
	// The body is read even for a header that is not this slot's prepare,
	// so that describe reads what the slot holds, not a previous slot's.
	d.peek(replica, rio.ZoneWALPrepares, s*d.sizeMax+vsr.HeaderSize, b[vsr.HeaderSize:h.Size])
	if h.Command != vsr.CommandPrepare || h.Op%d.slots != s || vsr.DecodeInto(&d.m, b[:h.Size], d.cluster, d.sizeMax) != nil {
		return u128.Zero, false
	}
	return h.Checksum, true
}

// describe names what a header (and, for a prepares-ring slot, its body)
// on disk holds, for a violation's message.
func (d *Durability) describe(b []byte, prepare bool) string {
	if allZero(b[:vsr.HeaderSize]) {
		return "nothing"
	}
	var h vsr.Header
	if err := vsr.DecodeHeader(b, &h); err != nil {
		return fmt.Sprintf("a torn header (%v)", err)
	}
	what := fmt.Sprintf("%v op %d view %d checksum %v", h.Command, h.Op, h.View, h.Checksum)
	if prepare && uint64(h.Size) >= vsr.HeaderSize && uint64(h.Size) <= d.sizeMax {
		if err := vsr.DecodeInto(&d.m, b[:h.Size], d.cluster, d.sizeMax); err != nil {
			what += fmt.Sprintf(" with a torn body (%v)", err)
		}
	}
	return what
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
