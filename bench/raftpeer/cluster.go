// Command raftpeer is the peer benchmark of `replica benchmark`: the same
// ledger state machine (replica/ledger's in-memory Machine) replicated by
// etcd's raft (go.etcd.io/raft/v3) over an in-process transport, each
// node's log appended to a file and fdatasync'd once per Ready, as a
// replica's WAL write is durable before it acknowledges. The load is the
// very driver `replica benchmark` runs (viewstamp/bench), so the figures
// compare like for like.
//
// It is its own module so that raft and its protobuf dependency stay out
// of the main module.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// Raft's settings, chosen as a production etcd's are, scaled to our tick.
const (
	// tick is the replica's tick, so timeouts mean the same time.
	tick = 10 * time.Millisecond
	// electionTicks and heartbeatTicks are etcd's defaults (1 s election
	// timeout, 100 ms heartbeat at a 100 ms tick... here 10x faster,
	// which only matters at start and is fine on loopback).
	electionTicks  = 10
	heartbeatTicks = 1
	// maxSizePerMsg bounds one append message: one 1 MiB batch, the
	// replica's message size max.
	maxSizePerMsg = 1 << 20
	// maxInflight appends per follower: the replica's pipeline is 8
	// prepares; raft's etcd default is 256. We keep etcd's.
	maxInflight = 256
	// inboxSize messages wait per node; a full inbox drops, which raft
	// retransmits, as a lossy network would.
	inboxSize = 4096
	// proposalHeader is the request id and the operation before a body.
	proposalHeader = 9
	// messageSizeMax is the ledger's request size bound (1 MiB).
	messageSizeMax = 1 << 20
	// keepEntries applied entries stay in memory for slow followers; older
	// ones are compacted away, so a long run does not hold every batch.
	keepEntries = 64
)

// cluster is n raft nodes in this process.
type cluster struct {
	nodes []*node
	stop  chan struct{}
	wg    sync.WaitGroup
}

// node is one raft member: its raft.Node, its in-memory raft storage, its
// log file, and its own copy of the ledger.
type node struct {
	id      uint64
	c       *cluster
	rn      raft.Node
	storage *raft.MemoryStorage
	wal     *os.File
	inbox   chan []byte

	// Apply state: touched only by the node's run goroutine.
	machine *ledger.Machine
	ts      uint64

	mu      sync.Mutex
	nextReq uint64
	pending map[uint64]chan []byte

	fsyncs, entries uint64 // counted by run, read after stop
}

func newCluster(n int, dir string) (*cluster, error) {
	c := &cluster{stop: make(chan struct{})}
	peers := make([]raft.Peer, n)
	for i := range peers {
		peers[i] = raft.Peer{ID: uint64(i + 1)}
	}
	for i := range n {
		st := raft.NewMemoryStorage()
		wal, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("raft-%d.wal", i+1)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			c.close()
			return nil, err
		}
		nd := &node{
			id: uint64(i + 1), c: c, storage: st, wal: wal, inbox: make(chan []byte, inboxSize),
			machine: ledger.NewMachine(messageSizeMax, ledger.Bugs{}), pending: map[uint64]chan []byte{},
		}
		nd.rn = raft.StartNode(&raft.Config{
			ID: nd.id, ElectionTick: electionTicks, HeartbeatTick: heartbeatTicks, Storage: st,
			MaxSizePerMsg: maxSizePerMsg, MaxInflightMsgs: maxInflight, CheckQuorum: true, PreVote: true,
			Logger: quietLogger{},
		}, peers)
		c.nodes = append(c.nodes, nd)
	}
	for _, nd := range c.nodes {
		c.wg.Go(nd.run)
		c.wg.Go(nd.receive)
	}
	return c, nil
}

// leader returns the leader once there is one. Node 1 campaigns as soon
// as it may, to skip an election timeout, but another node may win first.
func (c *cluster) leader(ctx context.Context) (*node, error) {
	campaigned := false
	for {
		for _, nd := range c.nodes {
			if nd.rn.Status().RaftState == raft.StateLeader {
				return nd, nil
			}
		}
		// Campaigning before the bootstrap conf changes are applied is
		// refused.
		if first := c.nodes[0]; !campaigned && first.rn.Status().Applied >= uint64(len(c.nodes)) {
			_ = first.rn.Campaign(ctx)
			campaigned = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader: %w", ctx.Err())
		case <-time.After(tick):
		}
	}
}

func (c *cluster) close() {
	close(c.stop)
	c.wg.Wait()
	for _, nd := range c.nodes {
		if nd.rn != nil {
			nd.rn.Stop()
		}
		if nd.wal != nil {
			_ = nd.wal.Close()
		}
	}
}

// run is the node's Ready loop, etcd's documented order: persist the
// entries and hard state (one write and one fdatasync per Ready, the
// group commit), then send, then apply, then Advance.
func (nd *node) run() {
	t := time.NewTicker(tick)
	defer t.Stop()
	var buf []byte
	for {
		select {
		case <-nd.c.stop:
			return
		case <-t.C:
			nd.rn.Tick()
		case rd := <-nd.rn.Ready():
			if len(rd.Entries) > 0 || !raft.IsEmptyHardState(rd.HardState) {
				buf = appendRecord(buf[:0], rd.HardState, rd.Entries)
				if _, err := nd.wal.Write(buf); err != nil {
					panic(fmt.Sprintf("raftpeer: node %d: write log: %v", nd.id, err))
				}
				if err := unix.Fdatasync(int(nd.wal.Fd())); err != nil {
					panic(fmt.Sprintf("raftpeer: node %d: fdatasync log: %v", nd.id, err))
				}
				nd.fsyncs++
			}
			if !raft.IsEmptyHardState(rd.HardState) {
				_ = nd.storage.SetHardState(rd.HardState)
			}
			_ = nd.storage.Append(rd.Entries)
			for _, m := range rd.Messages {
				nd.c.send(m)
			}
			for _, e := range rd.CommittedEntries {
				nd.apply(e)
			}
			if n := len(rd.CommittedEntries); n > 0 {
				if last := rd.CommittedEntries[n-1].GetIndex(); last > keepEntries {
					_ = nd.storage.Compact(last - keepEntries)
				}
			}
			nd.rn.Advance()
		}
	}
}

// appendRecord frames one Ready's hard state and entries: each entry
// marshalled with a length prefix, as etcd's WAL records them.
func appendRecord(buf []byte, hs *raftpb.HardState, ents []*raftpb.Entry) []byte {
	if !raft.IsEmptyHardState(hs) {
		b, _ := proto.Marshal(hs)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(b)))
		buf = append(buf, b...)
	}
	for _, e := range ents {
		b, _ := proto.Marshal(e)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(b)))
		buf = append(buf, b...)
	}
	return buf
}

// send marshals m, as a network transport would, and queues it for its
// node; a full inbox drops it.
func (c *cluster) send(m *raftpb.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	to := c.nodes[m.GetTo()-1]
	select {
	case to.inbox <- b:
	default:
	}
}

func (nd *node) receive() {
	for {
		select {
		case <-nd.c.stop:
			return
		case b := <-nd.inbox:
			m := &raftpb.Message{}
			if err := proto.Unmarshal(b, m); err != nil {
				panic(err)
			}
			_ = nd.rn.Step(context.Background(), m)
		}
	}
}

// apply executes a committed request on this node's ledger at timestamps
// derived from the log alone (one for the request and one per event, as
// a VSR primary assigns them), so every node computes the same state; the
// node that proposed it answers its caller.
func (nd *node) apply(e *raftpb.Entry) {
	nd.entries++
	data := e.GetData()
	if e.GetType() == raftpb.EntryConfChange {
		// StartNode's peers arrive as conf changes that must be applied
		// before anyone may campaign.
		cc := &raftpb.ConfChange{}
		if err := proto.Unmarshal(data, cc); err != nil {
			panic(err)
		}
		nd.rn.ApplyConfChange(cc)
		return
	}
	if e.GetType() != raftpb.EntryNormal || len(data) < proposalHeader {
		return
	}
	req := binary.LittleEndian.Uint64(data)
	op := vsr.Operation(data[8])
	body := data[proposalHeader:]
	nd.mu.Lock()
	nd.ts += 1 + nd.machine.EventCount(op, body)
	reply := nd.machine.Commit(u128.Zero, e.GetIndex(), nd.ts, op, body)
	ch := nd.pending[req]
	delete(nd.pending, req)
	nd.mu.Unlock()
	if ch != nil {
		ch <- reply
	}
}

// errRefused is a request the ledger refuses before it is proposed (a
// replica evicts such a client).
var errRefused = errors.New("raftpeer: request refused")

// Submit is bench.Submit on the leader: one batch as a request of its own,
// checked, proposed and applied; it returns the batch's results.
func (nd *node) Submit(ctx context.Context, op vsr.Operation, batch []byte) ([]byte, error) {
	body := ledger.EncodeBatch(uint8(op), batch)
	nd.mu.Lock()
	if reason := nd.machine.Check(op, body); reason != 0 {
		nd.mu.Unlock()
		return nil, fmt.Errorf("%w: eviction reason %d", errRefused, reason)
	}
	nd.nextReq++
	req := nd.nextReq
	ch := make(chan []byte, 1)
	nd.pending[req] = ch
	nd.mu.Unlock()
	data := make([]byte, proposalHeader+len(body))
	binary.LittleEndian.PutUint64(data, req)
	data[8] = byte(op)
	copy(data[proposalHeader:], body)
	if err := nd.rn.Propose(ctx, data); err != nil {
		nd.forget(req)
		return nil, err
	}
	select {
	case r := <-ch:
		return ledger.DecodeBatch(uint8(op), r)
	case <-ctx.Done():
		nd.forget(req)
		return nil, ctx.Err()
	}
}

// checksum is the node's ledger state digest, read on its run goroutine's
// behalf under mu (apply takes mu too).
func (nd *node) checksum() u128.U128 {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.machine.Checksum()
}

func (nd *node) forget(req uint64) {
	nd.mu.Lock()
	delete(nd.pending, req)
	nd.mu.Unlock()
}

// quietLogger drops raft's info and debug lines, which would interleave
// with the results.
type quietLogger struct{}

func (quietLogger) Debug(...any)                {}
func (quietLogger) Debugf(string, ...any)       {}
func (quietLogger) Info(...any)                 {}
func (quietLogger) Infof(string, ...any)        {}
func (quietLogger) Warning(v ...any)            { fmt.Fprintln(os.Stderr, v...) }
func (quietLogger) Warningf(f string, v ...any) { fmt.Fprintf(os.Stderr, f+"\n", v...) }
func (quietLogger) Error(v ...any)              { fmt.Fprintln(os.Stderr, v...) }
func (quietLogger) Errorf(f string, v ...any)   { fmt.Fprintf(os.Stderr, f+"\n", v...) }
func (quietLogger) Fatal(v ...any)              { panic(fmt.Sprint(v...)) }
func (quietLogger) Fatalf(f string, v ...any)   { panic(fmt.Sprintf(f, v...)) }
func (quietLogger) Panic(v ...any)              { panic(fmt.Sprint(v...)) }
func (quietLogger) Panicf(f string, v ...any)   { panic(fmt.Sprintf(f, v...)) }
