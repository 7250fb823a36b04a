package vsr

import (
	"bytes"
	"testing"

	"viewstamp/replica/u128"
)

// tableAt builds the client table a replica holds after registering
// clients 1..n and answering one request of each, its replies stamped with
// the replica's own index and view as execute stamps them.
func tableAt(n int, replica uint8, view uint32) sessions {
	s := newSessions(4)
	op := uint64(0)
	answer := func(c int) {
		op++
		e := s.get(u128.From64(uint64(c)))
		body := []byte{byte(c), 2, 3}
		e.reply = Message{Header: Header{Command: CommandReply, Replica: replica, View: view, Client: e.client, Op: op, Request: 1}, Body: body}
		e.reply.Header.Seal(body)
		e.request, e.lastOp, e.requestCS = 1, op, u128.From64(uint64(100+c))
	}
	for c := 1; c <= n; c++ {
		op++
		s.open(u128.From64(uint64(c)), op)
		answer(c)
	}
	return s
}

func TestSessionsEncodeIsTheSameOnEveryReplica(t *testing.T) {
	a, b := tableAt(6, 0, 3), tableAt(6, 2, 5)
	if !bytes.Equal(a.encode(), b.encode()) {
		t.Fatal("two replicas with the same table encode it differently")
	}
	// Six clients in four slots: two evictions, so the slots are not in
	// register order any more.
	got, err := decodeSessions(a.encode(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if got.len() != 4 || !bytes.Equal(got.encode(), a.encode()) {
		t.Fatalf("round trip: %d sessions, encodings equal %v", got.len(), bytes.Equal(got.encode(), a.encode()))
	}
	for c := uint64(1); c <= 6; c++ {
		want, have := a.get(u128.From64(c)), got.get(u128.From64(c))
		if (want == nil) != (have == nil) {
			t.Fatalf("client %d: present %v after decode, %v before", c, have != nil, want != nil)
		}
		if want != nil && (have.session != want.session || have.request != want.request || have.lastOp != want.lastOp ||
			have.requestCS != want.requestCS || have.reply.Header.ChecksumBody != want.reply.Header.ChecksumBody) {
			t.Fatalf("client %d: decoded %+v, want %+v", c, *have, *want)
		}
	}
}

func TestSessionsDecodeRefusesBadInput(t *testing.T) {
	table := tableAt(3, 1, 1)
	good := table.encode()
	if _, err := decodeSessions(good[:len(good)-1], 4); err == nil {
		t.Fatal("a truncated encoding decoded")
	}
	if _, err := decodeSessions(good, 5); err == nil {
		t.Fatal("an encoding for 4 slots decoded as 5")
	}
	flag := bytes.Clone(good)
	flag[sessionsHeaderSize] = 7
	if _, err := decodeSessions(flag, 4); err == nil {
		t.Fatal("a slot flag of 7 decoded")
	}
	hdr := bytes.Clone(good)
	hdr[sessionsHeaderSize+sessionReplyHeaderAt+120]++
	if _, err := decodeSessions(hdr, 4); err == nil {
		t.Fatal("a corrupt reply header decoded")
	}
}
