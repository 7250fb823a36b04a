package client

import (
	"encoding/binary"
	"testing"

	"viewstamp/replica/checksum"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

type nopNet struct{}

func (nopNet) SendToReplica(uint8, []byte)    {}
func (nopNet) SendToClient(u128.U128, []byte) {}

var testCluster = u128.U128{Lo: 7, Hi: 9}

func eviction(id u128.U128, view uint32) []byte {
	m := &vsr.Message{Header: vsr.Header{Command: vsr.CommandEviction, Cluster: testCluster, View: view, Client: id, Reason: vsr.EvictionNoSession}}
	return m.Encode()
}

// registerReply is a valid reply to a register: the release echoed, op =
// commit, a timestamp, and a RegisterResult body.
func registerReply(id u128.U128, view uint32, ref u128.U128, limit uint32) []byte {
	body := make([]byte, vsr.RegisterResultSize)
	binary.LittleEndian.PutUint32(body, limit)
	m := &vsr.Message{Header: vsr.Header{Command: vsr.CommandReply, Cluster: testCluster, View: view, Release: vsr.ReleaseProduction,
		Client: id, Ref: ref, Op: 3, Commit: 3, Timestamp: 1, Operation: vsr.OperationRegister}, Body: body}
	return m.Encode()
}

// An eviction from a primary of a view older than one the client has heard
// from is ignored; one from its own view ends the session.
func TestEvictionFromOlderViewIgnored(t *testing.T) {
	id := u128.U128{Lo: 1}
	evicted := 0
	c := New(Options{ID: id, Cluster: testCluster, ReplicaCount: 3, Network: nopNet{}, SizeMax: 4096,
		OnEvicted: func(vsr.EvictionReason) { evicted++ }})
	if err := c.Register(); err != nil {
		t.Fatal(err)
	}
	c.OnMessage(registerReply(id, 2, c.inflightCS, 1000))
	if !c.Registered() {
		t.Fatal("register reply not accepted")
	}
	c.OnMessage(eviction(id, 1))
	if evicted != 0 || c.Evicted() || c.Drops.Stale != 1 {
		t.Fatalf("eviction from view 1 accepted by a client in view 2 (evicted %d, stale drops %d)", evicted, c.Drops.Stale)
	}
	c.OnMessage(eviction(id, 2))
	if evicted != 1 || !c.Evicted() {
		t.Fatalf("eviction from the client's own view was not accepted")
	}
}

// The client registers with a RegisterRequest body, takes batch_size_limit
// from the reply and holds its requests to it; a reply breaking a rule
// TigerBeetle's client asserts (here, another release) is refused.
func TestRegisterLimitAndReplyRules(t *testing.T) {
	id := u128.U128{Lo: 2}
	var sent [][]byte
	c := New(Options{ID: id, Cluster: testCluster, ReplicaCount: 1, Network: recordNet{&sent}, SizeMax: 4096})
	if err := c.Register(); err != nil {
		t.Fatal(err)
	}
	m, err := vsr.Decode(sent[0], testCluster, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Body) != vsr.RegisterRequestSize || m.Header.Release != vsr.ReleaseProduction {
		t.Fatalf("register of %d body bytes, release %s", len(m.Body), vsr.ReleaseString(m.Header.Release))
	}
	bad := registerReply(id, 0, c.inflightCS, 1000)
	bad[108]++ // the release, under a fresh checksum
	checksum.Sum(bad[16:vsr.HeaderSize]).Put(bad[0:])
	c.OnMessage(bad)
	if c.Registered() || c.Drops.Invalid != 1 {
		t.Fatalf("a register reply of another release: registered %v, invalid drops %d", c.Registered(), c.Drops.Invalid)
	}
	c.OnMessage(registerReply(id, 0, c.inflightCS, 1000))
	if !c.Registered() || c.BatchSizeLimit() != 1000 {
		t.Fatalf("registered %v, batch_size_limit %d", c.Registered(), c.BatchSizeLimit())
	}
	if err := c.Submit(146, make([]byte, 1001)); err != ErrTooMuchData {
		t.Fatalf("a body over the limit: %v", err)
	}
	if err := c.Submit(146, make([]byte, 1000)); err != nil {
		t.Fatalf("a body at the limit: %v", err)
	}
}

type recordNet struct{ sent *[][]byte }

func (n recordNet) SendToReplica(_ uint8, b []byte) { *n.sent = append(*n.sent, b) }
func (recordNet) SendToClient(u128.U128, []byte)    {}
