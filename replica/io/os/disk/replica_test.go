package disk_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	rio "viewstamp/replica/io"

	"viewstamp/replica/client"
	"viewstamp/replica/echo"
	"viewstamp/replica/io/os/clock"
	"viewstamp/replica/io/os/disk"
	"viewstamp/replica/io/os/loop"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// End-to-end sizes: enough requests to cross two checkpoints of the
// simulator preset (every 20 ops), and a bound on ticks so that a replica
// that never gets there fails the test instead of hanging it.
const (
	e2eRequests = 50
	e2eTickMax  = 20000
	e2eTick     = time.Millisecond
)

// node is one single-replica cluster on a real data file, driven by a real
// loop, with one client talking to it through posted messages.
type node struct {
	t       *testing.T
	loop    *loop.Loop
	disk    *disk.Disk
	rep     *vsr.Replica
	sm      *echo.Machine
	client  *client.Client
	replies int
	offLoop int
}

func (n *node) SendToReplica(_ uint8, msg []byte) {
	n.loop.Post(func() { n.rep.OnMessage(msg) })
}

func (n *node) SendToClient(_ u128.U128, msg []byte) {
	n.loop.Post(func() {
		if n.client != nil {
			n.client.OnMessage(msg)
		}
	})
}

// asClient sends the client's messages to the replica.
type asClient struct{ n *node }

func (c asClient) SendToReplica(_ uint8, msg []byte) { c.n.SendToReplica(0, msg) }
func (c asClient) SendToClient(u128.U128, []byte)    {}

// storage wraps the Disk to check, from the replica's side, that every
// completion arrives on the loop goroutine.
type storage struct{ n *node }

func (s storage) Read(z rio.Zone, off uint64, buf []byte, done func()) {
	s.n.disk.Read(z, off, buf, s.n.checked(done))
}

func (s storage) Write(z rio.Zone, off uint64, buf []byte, done func()) {
	s.n.disk.Write(z, off, buf, s.n.checked(done))
}

func (n *node) checked(done func()) func() {
	return func() {
		if !n.loop.OnLoop() {
			n.offLoop++
		}
		done()
	}
}

var cluster = u128.U128{Lo: 12}

// run drives the loop until until() holds on the loop goroutine, or fails
// after e2eTickMax ticks.
func (n *node) run(until func() bool) {
	n.t.Helper()
	stop := make(chan struct{})
	var err error
	ticks := 0
	n.loop.Run(e2eTick, func() {
		ticks++
		n.rep.Tick()
		if n.client != nil {
			n.client.Tick()
		}
		switch {
		case until():
			close(stop)
		case ticks == e2eTickMax:
			err = fmt.Errorf("not done after %d ticks: status %v, commit %d, %d replies", ticks, n.rep.Status(), n.rep.CommitMin(), n.replies)
			close(stop)
		}
	}, stop)
	if err != nil {
		n.t.Fatal(err)
	}
}

// start opens the data file, formats it if asked, and opens a replica on it.
func start(t *testing.T, path string, b disk.Backend, format bool) *node {
	t.Helper()
	cfg := vsr.SimConfig(1)
	n := &node{t: t, loop: loop.New(), sm: &echo.Machine{}}
	d, err := disk.Open(path, cfg.Layout(), disk.Options{Backend: b, Loop: n.loop})
	if errors.Is(err, disk.ErrUringUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	n.disk = d
	if format {
		formatted := false
		n.loop.Post(func() { vsr.Format(cfg, cluster, 0, storage{n}, func() { formatted = true }) })
		stop := make(chan struct{})
		n.loop.Run(e2eTick, func() {
			if formatted {
				close(stop)
			}
		}, stop)
	}
	n.rep, err = vsr.New(vsr.Options{
		Config: cfg, Cluster: cluster, Replica: 0, Time: &clock.Clock{},
		Network: n, Storage: storage{n}, SM: n.sm, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	n.loop.Post(n.rep.Open)
	return n
}

func (n *node) close() {
	n.t.Helper()
	done := make(chan error, 1)
	stop := make(chan struct{})
	n.loop.Post(func() {
		done <- n.disk.Close()
		close(stop)
	})
	n.loop.Run(e2eTick, func() {}, stop)
	if err := <-done; err != nil {
		n.t.Fatal(err)
	}
}

// TestReplicaOnDisk runs the real replica on a real data file through the
// loop: format, commit requests across checkpoints, close, reopen, and
// recover every committed op with the same state.
func TestReplicaOnDisk(t *testing.T) {
	for _, b := range []disk.Backend{disk.BackendUring, disk.BackendSync} {
		t.Run(b.String(), func(t *testing.T) {
			cfg := vsr.SimConfig(1)
			path := filepath.Join(t.TempDir(), "0_0.viewstamp")
			if err := disk.Create(path, cfg.Layout().Size); err != nil {
				t.Skip(err) // a tmpfs TMPDIR: the refusal has its own test
			}
			n := start(t, path, b, true)
			n.client = client.New(client.Options{
				ID: u128.U128{Lo: 1, Hi: 2}, Cluster: cluster, ReplicaCount: 1, Network: asClient{n},
				Seed: 2, RequestTicks: 50, SizeMax: cfg.MessageSizeMax,
				OnReply: func(client.Reply) {
					n.replies++
					if n.replies <= e2eRequests {
						if err := n.client.Submit(echo.Operation, []byte(fmt.Sprintf("request %08d", n.replies))); err != nil {
							t.Error(err)
						}
					}
				},
				OnEvicted: func(why vsr.EvictionReason) { t.Errorf("evicted: %v", why) },
			})
			registered := false
			n.run(func() bool {
				if !registered && n.rep.Status() == vsr.StatusNormal {
					registered = true
					if err := n.client.Register(); err != nil {
						t.Fatal(err)
					}
				}
				return n.replies > e2eRequests
			})
			commit, state := n.rep.CommitMin(), n.sm.Checksum()
			if commit < e2eRequests+1 || n.offLoop != 0 {
				t.Fatalf("commit %d after %d replies, %d completions off the loop", commit, n.replies, n.offLoop)
			}
			n.close()

			m := start(t, path, b, false)
			m.run(func() bool { return m.rep.Status() == vsr.StatusNormal && m.rep.CommitMin() >= commit })
			if m.rep.CommitMin() != commit || m.sm.Checksum() != state || m.offLoop != 0 {
				t.Fatalf("after reopening: commit %d (was %d), state equal %v, %d completions off the loop",
					m.rep.CommitMin(), commit, m.sm.Checksum() == state, m.offLoop)
			}
			m.close()
		})
	}
}
