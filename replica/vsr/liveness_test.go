package vsr

import (
	"testing"

	"viewstamp/replica/u128"
)

func exitVote(from uint8, view uint32) []byte {
	m := &Message{Header: Header{Command: CommandExitView, Cluster: testCluster, Replica: from, View: view}}
	return m.Encode()
}

// Votes to leave a view expire: a vote heard ExitVoteTicks ago does not add
// up with later ones into a quorum that deposes the primary.
func TestExitVotesExpire(t *testing.T) {
	st := newMemStorage(SimConfig(5))
	r, _ := openReplica(t, 5, 2, st, true)
	if r.Status() != StatusNormal || r.View() != 0 {
		t.Fatalf("want a backup in normal status in view 0, got %v view %d", r.Status(), r.View())
	}
	r.OnMessage(exitVote(1, 0))
	for i := uint64(0); i <= r.cfg.ExitVoteTicks; i++ {
		r.Tick()
		st.flush()
	}
	if r.View() != 0 {
		t.Fatalf("moved to view %d on two votes of five", r.View())
	}
	// Our own vote (the primary is silent) and replica 3's are fresh, 1's
	// has expired: two of the three needed.
	r.OnMessage(exitVote(3, 0))
	if r.View() != 0 {
		t.Fatalf("moved to view %d counting a vote %d ticks old", r.View(), r.cfg.ExitVoteTicks+1)
	}
	r.OnMessage(exitVote(4, 0))
	if r.View() != 1 || r.Status() != StatusViewChange {
		t.Fatalf("three fresh votes of five: want view change to 1, got %v view %d", r.Status(), r.View())
	}
}

// Word from the primary of the view drops the votes to leave it.
func TestExitVotesClearedByHeartbeat(t *testing.T) {
	st := newMemStorage(SimConfig(5))
	r, _ := openReplica(t, 5, 2, st, true)
	r.OnMessage(exitVote(1, 0))
	r.OnMessage(exitVote(3, 0))
	hb := &Message{Header: Header{Command: CommandCommit, Cluster: testCluster, Replica: 0, Commit: 0, Timestamp: 5}}
	r.OnMessage(hb.Encode())
	r.OnMessage(exitVote(4, 0))
	if r.View() != 0 {
		t.Fatalf("moved to view %d on votes the primary's heartbeat made stale", r.View())
	}
	// A replayed heartbeat proves nothing.
	r.OnMessage(exitVote(1, 0))
	r.OnMessage(hb.Bytes())
	r.OnMessage(exitVote(3, 0))
	if r.View() != 1 {
		t.Fatalf("a replayed heartbeat cleared fresh votes: view %d", r.View())
	}
}

// Over ReplicaCount-1 rounds every op is asked of every peer, never of
// ourselves.
func TestRepairPeerRotates(t *testing.T) {
	for count := uint8(2); count <= ReplicasMax; count++ {
		for index := uint8(0); index < count; index++ {
			st := newMemStorage(SimConfig(count))
			r, _ := openReplica(t, count, index, st, true)
			for op := uint64(1); op <= 3; op++ {
				seen := map[uint8]bool{}
				for round := uint64(0); round < uint64(count-1); round++ {
					r.repairRound = round
					p := r.repairPeer(op)
					if p == index || p >= count {
						t.Fatalf("R=%d replica %d: asked %d", count, index, p)
					}
					seen[p] = true
				}
				if len(seen) != int(count-1) {
					t.Fatalf("R=%d replica %d op %d: asked only %v over %d rounds", count, index, op, seen, count-1)
				}
			}
		}
	}
}

// An abdicating primary keeps probing with retransmitted prepares, and once
// a quorum acknowledges again it commits, stops abdicating and heartbeats.
func TestAbdicationResumes(t *testing.T) {
	c := newMiniCluster(t, 3)
	p := c.replicas[1]
	if p.Status() != StatusNormal || !p.Primary() || p.View() != 1 {
		t.Fatalf("want replica 1 primary of view 1, got %v view %d", p.Status(), p.View())
	}
	c.drop = func(_ packet, m *Message) bool { return m.Header.Command == CommandPrepareOK }
	req := registerRequest(u128.U128{Lo: 9}, 1)
	p.OnMessage(req.Bytes())
	c.settle()
	if p.Op() != 1 || p.CommitMax() != 0 {
		t.Fatalf("op %d commit %d after a register whose acks are lost", p.Op(), p.CommitMax())
	}
	for i := uint64(0); i <= p.cfg.AbdicateTicks+1 && !p.abdicating; i++ {
		p.Tick()
		c.settle()
	}
	if !p.abdicating {
		t.Fatalf("no commit for %d ticks and still not abdicating", p.cfg.AbdicateTicks)
	}
	c.drop = nil
	for i := 0; i < 1000 && p.abdicating; i++ {
		p.Tick()
		c.settle()
	}
	if p.abdicating || p.CommitMax() != 1 || p.Status() != StatusNormal || p.View() != 1 {
		t.Fatalf("quorum back: want view 1 resumed with op 1 committed, got abdicating=%v commit %d %v view %d",
			p.abdicating, p.CommitMax(), p.Status(), p.View())
	}
	heartbeat := false
	for i := 0; i < int(2*p.cfg.CommitTicks) && !heartbeat; i++ {
		p.Tick()
		for _, q := range c.inflight {
			if m, err := Decode(q.b, testCluster, 1<<20); err == nil && m.Header.Command == CommandCommit {
				heartbeat = true
			}
		}
		c.settle()
	}
	if !heartbeat {
		t.Fatalf("resumed primary sends no heartbeat")
	}
}
