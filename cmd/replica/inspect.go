package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	rio "viewstamp/replica/io"
	"viewstamp/replica/io/os/clock"
	"viewstamp/replica/io/os/disk"
	"viewstamp/replica/io/os/loop"
	"viewstamp/replica/ledger"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/block"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// inspectOpenTimeout bounds the read-only open that reports the grid and
// the client sessions: recovery reads the WAL and the checkpoint's
// trailers, seconds at most on a local disk.
const inspectOpenTimeout = 2 * time.Minute

func newInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect [--json] FILE",
		Short: "Describe a data file: superblock copies, WAL, grid and free set, client sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := inspect(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			rep.print(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// bestCopy is the valid superblock copy with the highest sequence.
func bestCopy(copies []SBCopy) int {
	best := 0
	for i, c := range copies {
		if c.Valid && (!copies[best].Valid || c.Sequence > copies[best].Sequence) {
			best = i
		}
	}
	return best
}

// Report is what inspect prints; its JSON form is stable for scripts.
type Report struct {
	Path         string     `json:"path"`
	Size         int64      `json:"size"`
	Cluster      string     `json:"cluster"`
	Replica      uint8      `json:"replica"`
	ReplicaCount uint8      `json:"replica_count"`
	Superblock   []SBCopy   `json:"superblock"`
	WAL          WALSummary `json:"wal"`
	// Grid and Sessions are the state of the checkpoint the file opens
	// from (the WAL's ops above it are not applied).
	Grid     *GridUsage `json:"grid,omitempty"`
	Sessions []Session  `json:"sessions,omitempty"`
	// Unopened says why the grid and sessions are missing: the file is
	// in use, or its checkpoint did not open.
	Unopened string `json:"unopened,omitempty"`
	// DiscardedWrites are the writes recovery wanted to make (repairs a
	// start would make too), which inspect dropped.
	DiscardedWrites int `json:"discarded_writes"`
}

// SBCopy is one superblock copy.
type SBCopy struct {
	Copy        int    `json:"copy"`
	Valid       bool   `json:"valid"`
	Error       string `json:"error,omitempty"`
	Sequence    uint64 `json:"sequence,omitempty"`
	Checkpoint  uint64 `json:"checkpoint,omitempty"`
	View        uint32 `json:"view,omitempty"`
	LogView     uint32 `json:"log_view,omitempty"`
	CommitMax   uint64 `json:"commit_max,omitempty"`
	SyncOp      uint64 `json:"sync_op,omitempty"`
	ViewHeaders int    `json:"view_headers,omitempty"`
	StorageSize uint64 `json:"storage_size,omitempty"`
	// Reformatted: the file was made by recover (or the simulator's
	// reformat) and has not yet learned the view it must rejoin at;
	// ReformatHead is the op it must commit before it votes again.
	Reformatted  bool   `json:"reformatted,omitempty"`
	ReformatHead uint64 `json:"reformat_head,omitempty"`
}

// WALSummary classifies every slot by its two copies of the header: the
// redundant header ring and the prepare's own header.
type WALSummary struct {
	Slots int `json:"slots"`
	// Ops that are present and agree in both rings.
	Present  int    `json:"present"`
	OpMin    uint64 `json:"op_min"`
	OpMax    uint64 `json:"op_max"`
	Empty    int    `json:"empty"`     // never written: zeros in both
	RingOnly int    `json:"ring_only"` // header ring valid, prepare not: a lost or torn prepare (repaired from peers)
	Torn     int    `json:"torn"`      // prepare valid, header ring not: the header's write did not land
	Mismatch int    `json:"mismatch"`  // both valid, different prepares
	Corrupt  int    `json:"corrupt"`   // neither valid, not zeros
	Faulty   int    `json:"faulty"`    // header ring holds a faulty marker: known lost, awaiting repair from peers
	// Operations counts the present prepares by operation name.
	Operations map[string]int `json:"operations"`
}

// GridUsage is the grid of the checkpoint the file opens from.
type GridUsage struct {
	BlockSize      uint64 `json:"block_size"`
	BlocksAcquired uint64 `json:"blocks_acquired"`
	BytesAcquired  uint64 `json:"bytes_acquired"`
	BlockCapacity  uint64 `json:"block_capacity"`
	HighestBlock   uint64 `json:"highest_block"`
	// Heads are the newest block of each of the checkpoint's trailers and
	// of its manifest log: the blocks its open reads first.
	Heads []BlockHead `json:"heads,omitempty"`
}

// BlockHead is a block the checkpoint references by name.
type BlockHead struct {
	Name     string `json:"name"`
	Address  uint64 `json:"address"`
	Checksum string `json:"checksum"`
}

// Session is one client session.
type Session struct {
	Client  string `json:"client"`
	Session uint64 `json:"session"`
	Request uint32 `json:"request"`
	LastOp  uint64 `json:"last_op"`
}

func inspect(path string) (*Report, error) {
	fh, err := readFileHeader(path)
	if err != nil {
		return nil, err
	}
	sb := fh.best
	cfg := productionConfig(sb.ReplicaCount)
	rep := &Report{Path: path, Size: fh.size, Cluster: formatU128(sb.Cluster), Replica: sb.State.Replica, ReplicaCount: sb.ReplicaCount}
	for _, c := range fh.copies {
		s := SBCopy{Copy: c.index, Valid: c.err == nil}
		if c.err != nil {
			s.Error = c.err.Error()
		} else {
			st := &c.sb.State
			s.Sequence, s.Checkpoint, s.View, s.LogView = st.Sequence, st.Checkpoint.Op, st.View, st.LogView
			s.CommitMax, s.SyncOp, s.ViewHeaders, s.StorageSize = st.CommitMax, st.SyncOp, len(st.ViewHeaders), st.Checkpoint.StorageSize
			s.Reformatted, s.ReformatHead = st.Reformatted, st.ReformatHead
		}
		rep.Superblock = append(rep.Superblock, s)
	}
	if rep.WAL, err = summarizeWAL(path, cfg); err != nil {
		return nil, err
	}
	if err := openReadOnly(path, cfg, sb.Cluster, sb.State.Replica, rep); err != nil {
		rep.Unopened = err.Error()
	}
	return rep, nil
}

// summarizeWAL reads both header copies of every WAL slot with ordinary
// reads.
func summarizeWAL(path string, cfg vsr.Config) (WALSummary, error) {
	w := WALSummary{Slots: int(cfg.JournalSlotCount), Operations: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return w, err
	}
	defer func() { _ = f.Close() }()
	l := cfg.Layout()
	ring := make([]byte, cfg.JournalSlotCount*vsr.HeaderSize)
	if _, err := f.ReadAt(ring, int64(l.Zones[rio.ZoneWALHeaders].Offset)); err != nil {
		return w, fmt.Errorf("read WAL headers: %w", err)
	}
	prep := make([]byte, vsr.HeaderSize)
	first := true
	for s := range cfg.JournalSlotCount {
		if _, err := f.ReadAt(prep, int64(l.Zones[rio.ZoneWALPrepares].Offset+s*cfg.MessageSizeMax)); err != nil {
			return w, fmt.Errorf("read WAL prepare %d: %w", s, err)
		}
		rb := ring[s*vsr.HeaderSize : (s+1)*vsr.HeaderSize]
		var rh, ph vsr.Header
		rok := vsr.DecodeHeader(rb, &rh) == nil && rh.Command == vsr.CommandPrepare
		pok := vsr.DecodeHeader(prep, &ph) == nil && ph.Command == vsr.CommandPrepare
		switch {
		case rok && vsr.IsFaultyMarker(&rh):
			w.Faulty++
		case rok && pok && rh.Checksum == ph.Checksum:
			w.Present++
			if first || rh.Op < w.OpMin {
				w.OpMin = rh.Op
			}
			if first || rh.Op > w.OpMax {
				w.OpMax = rh.Op
			}
			first = false
			w.Operations[operationName(rh.Operation)]++
		case rok && pok:
			w.Mismatch++
		case rok:
			w.RingOnly++
		case pok:
			w.Torn++
		case zeros(rb) && zeros(prep):
			w.Empty++
		default:
			w.Corrupt++
		}
	}
	return w, nil
}

func zeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func operationName(op vsr.Operation) string {
	switch op {
	case vsr.OperationRoot:
		return "root"
	case vsr.OperationRegister:
		return "register"
	case vsr.OperationNoop:
		return "noop"
	}
	if op >= vsr.OperationStateMachineMin {
		return ledger.OperationName(uint8(op))
	}
	return fmt.Sprintf("vsr_%d", uint8(op))
}

// openReadOnly recovers a replica from the file with its writes discarded
// (recovery may repair superblock copies or WAL slots; inspect must not)
// and no network, then reads the grid and the client sessions off it.
func openReadOnly(path string, cfg vsr.Config, cluster u128.U128, index uint8, rep *Report) (err error) {
	l := loop.New()
	d, err := disk.Open(path, cfg.Layout(), disk.Options{Backend: disk.BackendSync, Loop: l})
	if err != nil {
		return err
	}
	ro := &readOnly{d: d, post: l.Post}
	stop := make(chan struct{})
	var opened bool
	obs := &openObserver{opened: func() {
		// The checkpoint's grid, free set and sessions are loaded and
		// the WAL's replay has not begun: report the checkpoint's state.
		if !opened {
			opened = true
			close(stop)
		}
	}}
	r, err := vsr.New(vsr.Options{
		Config: cfg, Cluster: cluster, Replica: index, Time: &clock.Clock{},
		Network: dropNetwork{}, Storage: ro, SM: newLedger(cfg), Seed: 1, Observer: obs,
	})
	if err != nil {
		return errors.Join(err, closeDisk(l, d))
	}
	deadline := time.Now().Add(inspectOpenTimeout)
	func() {
		// A damaged checkpoint panics the replica's open; report it as
		// the reason the grid is missing rather than crash inspect.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("the checkpoint does not open: %v", p)
			}
		}()
		l.Post(r.Open)
		l.Run(tick, func() {
			if !opened && time.Now().After(deadline) {
				close(stop)
			}
		}, stop)
	}()
	if err == nil && !opened {
		err = fmt.Errorf("the checkpoint did not open within %s", inspectOpenTimeout)
	}
	if err == nil {
		rep.Grid = &GridUsage{
			BlockSize: cfg.BlockSize, BlocksAcquired: r.GridBlocksAcquired(),
			BytesAcquired: r.GridBlocksAcquired() * cfg.BlockSize, BlockCapacity: cfg.GridBlockCount, HighestBlock: highestBlock(r),
			Heads: blockHeads(r.CheckpointState()),
		}
		r.Sessions(func(s vsr.Session) {
			rep.Sessions = append(rep.Sessions, Session{Client: s.Client.String(), Session: s.Session, Request: s.Request, LastOp: s.LastOp})
		})
	}
	rep.DiscardedWrites = ro.discarded
	return errors.Join(err, closeDisk(l, d))
}

// highestBlock is the highest grid address the open checkpoint references:
// how far into the grid the file must reach.
func highestBlock(r *vsr.Replica) uint64 {
	var highest uint64
	r.CheckpointBlocks(func(a uint64) { highest = max(highest, a) })
	return highest
}

func blockHeads(cs storage.CheckpointState) []BlockHead {
	var heads []BlockHead
	for _, h := range []struct {
		name string
		ref  block.Ref
	}{
		{"free_set_acquired", cs.FreeSetAcquired.Last}, {"free_set_released", cs.FreeSetReleased.Last},
		{"client_sessions", cs.ClientSessions.Last}, {"manifest", cs.Manifest.Newest}, {"snapshot", cs.Snapshot.Last},
	} {
		if h.ref.Address != 0 {
			heads = append(heads, BlockHead{Name: h.name, Address: h.ref.Address, Checksum: h.ref.Checksum.String()})
		}
	}
	return heads
}

// readOnly is the Disk with every write dropped (and reported done).
type readOnly struct {
	d         *disk.Disk
	post      func(func())
	discarded int
}

func (s *readOnly) Read(z rio.Zone, off uint64, buf []byte, done func()) { s.d.Read(z, off, buf, done) }
func (s *readOnly) Write(_ rio.Zone, _ uint64, _ []byte, done func()) {
	s.discarded++
	s.post(done)
}

// openObserver hears the checkpoint open.
type openObserver struct{ opened func() }

func (o *openObserver) Committed(uint8, *vsr.Header, []byte, []byte, u128.U128) {}
func (o *openObserver) StatusChanged(uint8, vsr.Status, uint32)                 {}
func (o *openObserver) HeaderDropped(uint8, uint64, u128.U128, uint32)          {}
func (o *openObserver) OwnJoinView(uint8, []byte)                               {}
func (o *openObserver) Checkpointed(uint8, uint64, u128.U128)                   {}
func (o *openObserver) Logf(uint8, string, ...any)                              {}
func (o *openObserver) Opened(uint8, uint64, u128.U128, bool)                   { o.opened() }

type dropNetwork struct{}

func (dropNetwork) SendToReplica(uint8, []byte)    {}
func (dropNetwork) SendToClient(u128.U128, []byte) {}

func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "data file %s: %d bytes, cluster %s, replica %d of %d\n", r.Path, r.Size, r.Cluster, r.Replica, r.ReplicaCount)
	fmt.Fprintln(w, "superblock:")
	for _, c := range r.Superblock {
		if !c.Valid {
			fmt.Fprintf(w, "  copy %d: invalid (%s)\n", c.Copy, c.Error)
			continue
		}
		fmt.Fprintf(w, "  copy %d: sequence %d, checkpoint %d, view %d, log_view %d, commit_max %d, sync_op %d, %d view headers%s\n",
			c.Copy, c.Sequence, c.Checkpoint, c.View, c.LogView, c.CommitMax, c.SyncOp, c.ViewHeaders, reformatNote(c))
	}
	wl := r.WAL
	fmt.Fprintf(w, "wal: %d slots, %d present (ops %d..%d), %d empty, %d ring-only, %d torn, %d mismatched, %d corrupt, %d faulty\n",
		wl.Slots, wl.Present, wl.OpMin, wl.OpMax, wl.Empty, wl.RingOnly, wl.Torn, wl.Mismatch, wl.Corrupt, wl.Faulty)
	for _, name := range sortedKeys(wl.Operations) {
		fmt.Fprintf(w, "  %s: %d\n", name, wl.Operations[name])
	}
	if r.Grid == nil {
		fmt.Fprintf(w, "grid, free set and sessions: not read (%s)\n", r.Unopened)
		return
	}
	g := r.Grid
	fmt.Fprintf(w, "as of checkpoint %d:\n", r.Superblock[bestCopy(r.Superblock)].Checkpoint)
	fmt.Fprintf(w, "grid: %d of %d blocks acquired (%d bytes of %d-byte blocks), highest referenced block %d\n",
		g.BlocksAcquired, g.BlockCapacity, g.BytesAcquired, g.BlockSize, g.HighestBlock)
	for _, h := range g.Heads {
		fmt.Fprintf(w, "  %s: block %d (checksum %s)\n", h.Name, h.Address, h.Checksum)
	}
	if r.DiscardedWrites > 0 {
		fmt.Fprintf(w, "recovery would write %d times (repairs a start makes); inspect wrote nothing\n", r.DiscardedWrites)
	}
	fmt.Fprintf(w, "client sessions: %d\n", len(r.Sessions))
	for _, s := range r.Sessions {
		fmt.Fprintf(w, "  client %s: session %d, request %d, last reply op %d\n", s.Client, s.Session, s.Request, s.LastOp)
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// reformatNote describes a copy's reformat marks for the text report.
func reformatNote(c SBCopy) string {
	switch {
	case c.Reformatted && c.ReformatHead == 0:
		return ", reformatted (its view not yet learned)"
	case c.Reformatted:
		return fmt.Sprintf(", reformatted (votes again once op %d is committed)", c.ReformatHead)
	}
	return ""
}
