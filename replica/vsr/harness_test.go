package vsr

import (
	"testing"
	"viewstamp/replica/storage"
	"viewstamp/replica/storage/grid"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
)

// memStorage is a data file in memory whose IO completes only when the test
// says so, so a test can stop the world with writes in flight.
type memStorage struct {
	cfg     Config
	zones   [rio.ZoneCount][]byte
	pending []memIO
}

type memIO struct {
	write bool
	zone  rio.Zone
	off   uint64
	buf   []byte
	done  func()
}

func newMemStorage(cfg Config) *memStorage {
	s := &memStorage{cfg: cfg}
	sizes := cfg.Layout().ZoneSizes()
	// Every zone the replica writes today; the grid is not in use yet.
	for _, z := range []rio.Zone{rio.ZoneSuperblock, rio.ZoneWALHeaders, rio.ZoneWALPrepares, rio.ZoneClientReplies} {
		s.zones[z] = make([]byte, sizes[z])
	}
	return s
}

func (s *memStorage) Read(z rio.Zone, off uint64, buf []byte, done func()) {
	s.pending = append(s.pending, memIO{zone: z, off: off, buf: buf, done: done})
}

func (s *memStorage) Write(z rio.Zone, off uint64, buf []byte, done func()) {
	s.pending = append(s.pending, memIO{write: true, zone: z, off: off, buf: append([]byte(nil), buf...), done: done})
}

// inFlight counts pending writes to zone z.
func (s *memStorage) inFlight(z rio.Zone) int {
	n := 0
	for _, o := range s.pending {
		if o.write && o.zone == z {
			n++
		}
	}
	return n
}

// flush completes IO, including IO issued by completions, until none is left.
func (s *memStorage) flush() {
	for len(s.pending) > 0 {
		o := s.pending[0]
		s.pending = s.pending[1:]
		if o.write {
			copy(s.zones[o.zone][o.off:], o.buf)
		} else {
			copy(o.buf, s.zones[o.zone][o.off:])
		}
		o.done()
	}
}

// crash drops every pending IO; writes to the superblock are torn (garbage
// lands), the worst a crash can do to them.
func (s *memStorage) crash() {
	for _, o := range s.pending {
		if o.write && o.zone == rio.ZoneSuperblock {
			for i := range o.buf {
				s.zones[o.zone][o.off+uint64(i)] = 0xa5
			}
		}
	}
	s.pending = nil
}

type memNet struct{ sent []*Message }

func (n *memNet) SendToReplica(_ uint8, b []byte) {
	m, err := Decode(b, testCluster, 1<<20)
	if err != nil {
		panic(err)
	}
	n.sent = append(n.sent, m)
}
func (n *memNet) SendToClient(u128.U128, []byte) {}

type memTime struct{}

func (memTime) Monotonic() uint64 { return 1 }
func (memTime) Realtime() int64   { return 1 }

type nopSM struct{ InMemory }

func (nopSM) Check(Operation, []byte) EvictionReason                     { return 0 }
func (nopSM) EventCount(Operation, []byte) uint64                        { return 0 }
func (nopSM) Pulse(uint64) (Operation, bool)                             { return 0, false }
func (nopSM) Commit(u128.U128, uint64, uint64, Operation, []byte) []byte { return nil }
func (nopSM) Checksum() u128.U128                                        { return u128.Zero }

// nopSM has no state, so its checkpoints hold none.
func (nopSM) MarkCheckpoint()                                                   {}
func (nopSM) Checkpoint(_ *grid.Grid, _ *storage.CheckpointState, done func())  { done() }
func (nopSM) Open(_ *grid.Grid, _ *storage.CheckpointState, done func(ok bool)) { done(true) }

// openReplica formats (if st is fresh) and opens replica index of a cluster
// of count, completing every IO.
func openReplica(t *testing.T, count, index uint8, st *memStorage, format bool) (*Replica, *memNet) {
	t.Helper()
	cfg := SimConfig(count)
	if format {
		Format(cfg, testCluster, index, st, func() {})
		st.flush()
	}
	net := &memNet{}
	r, err := New(Options{Config: cfg, Cluster: testCluster, Replica: index, Time: memTime{}, AgreedTime: true, Network: net, Storage: st, SM: nopSM{}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.Open()
	st.flush()
	return r, net
}

func prepareFrom(primary uint8, view uint32, op uint64, parent u128.U128, client u128.U128) *Message {
	p := &Message{Header: Header{
		Command: CommandPrepare, Cluster: testCluster, Replica: primary, View: view, Parent: parent,
		Client: client, Op: op, Timestamp: op, Operation: OperationRegister,
	}}
	p.Header.Seal(nil)
	return p
}

// routeNet records what one replica sends, for miniCluster to deliver.
type routeNet struct {
	from uint8
	out  *[]packet
}

type packet struct {
	from, to uint8
	b        []byte
}

func (n routeNet) SendToReplica(to uint8, b []byte) {
	*n.out = append(*n.out, packet{n.from, to, b})
}
func (routeNet) SendToClient(u128.U128, []byte) {}

// miniCluster runs real replicas on memStorage, delivering messages only
// when told to and dropping those drop selects.
type miniCluster struct {
	replicas []*Replica
	disks    []*memStorage
	inflight []packet
	drop     func(p packet, m *Message) bool
}

func newMiniCluster(t *testing.T, count uint8) *miniCluster {
	t.Helper()
	c := &miniCluster{}
	cfg := SimConfig(count)
	for i := uint8(0); i < count; i++ {
		st := newMemStorage(cfg)
		Format(cfg, testCluster, i, st, func() {})
		st.flush()
		r, err := New(Options{Config: cfg, Cluster: testCluster, Replica: i, Time: memTime{}, AgreedTime: true, Network: routeNet{i, &c.inflight}, Storage: st, SM: nopSM{}, Seed: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		c.replicas = append(c.replicas, r)
		c.disks = append(c.disks, st)
		r.Open()
	}
	c.settle()
	return c
}

// settle completes IO and delivers messages until neither is left.
func (c *miniCluster) settle() {
	for {
		busy := false
		for _, d := range c.disks {
			if len(d.pending) > 0 {
				busy = true
				d.flush()
			}
		}
		if len(c.inflight) > 0 {
			busy = true
			ps := c.inflight
			c.inflight = nil
			for _, p := range ps {
				m, err := Decode(p.b, testCluster, 1<<20)
				if err != nil || (c.drop != nil && c.drop(p, m)) {
					continue
				}
				c.replicas[p.to].OnMessage(p.b)
			}
		}
		if !busy {
			return
		}
	}
}

// registerRequest is the register a 0.17.9 client sends: release 0.17.9,
// a RegisterRequest body of zeros.
func registerRequest(client u128.U128, view uint32) *Message {
	m := &Message{Header: Header{Command: CommandRequest, Cluster: testCluster, Release: ReleaseProduction,
		Client: client, View: view, Operation: OperationRegister}, Body: make([]byte, RegisterRequestSize)}
	m.Encode()
	return m
}
