package vsr

import (
	"errors"
	"testing"

	"viewstamp/replica/u128"
)

var testCluster = u128.From64(7)

func TestHeaderRoundTripEveryCommand(t *testing.T) {
	for c := Command(0); c < commandUpperBound; c++ {
		if !c.Valid() {
			continue
		}
		m := &Message{Header: Header{
			Cluster: testCluster, Command: c, View: 3, Replica: 2,
			Parent: u128.U128{Lo: 1, Hi: 2}, Ref: u128.U128{Lo: 3}, Context: u128.U128{Lo: 4},
			CheckpointID: u128.U128{Hi: 5}, Client: u128.U128{Lo: 6, Hi: 6}, Op: 7, Commit: 8,
			CommitMin: 9, Timestamp: 10, Timestamp2: 11, Session: 12, Request: 13, LogView: 14,
			Present: 15, Nack: 16, Operation: 17, Reason: 3, CheckpointOp: 18, ReleaseCount: 19,
		}, Body: []byte("body")}
		wire := m.Encode()
		got, err := Decode(wire, testCluster, 4096)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		// Only the fields the layout places survive; the frame always does.
		want := Header{Checksum: m.Header.Checksum, ChecksumBody: m.Header.ChecksumBody,
			Cluster: testCluster, Size: uint32(len(wire)), View: 3, Replica: 2, Command: c}
		for _, p := range layouts[c] {
			var b [16]byte
			m.Header.put(b[:], p.f)
			if b == [16]byte{} {
				t.Fatalf("%v: field %d is placed but put writes nothing for it", c, p.f)
			}
			want.get(b[:], p.f)
		}
		if got.Header != want {
			t.Fatalf("%v: decoded %+v, want %+v", c, got.Header, want)
		}
		if string(got.Body) != "body" {
			t.Fatalf("%v: body %q", c, got.Body)
		}
	}
}

func TestLayoutsDoNotOverlap(t *testing.T) {
	widths := map[field]uint16{fParent: 16, fRef: 16, fContext: 16, fCheckpointID: 16, fCheckpointOp: 8, fClient: 16,
		fOp: 8, fCommit: 8, fCommitMin: 8, fTimestamp: 8, fTimestamp2: 8, fSession: 8, fRequest: 4,
		fLogView: 4, fPresent: 8, fNack: 8, fOperation: 1, fReason: 1, fReleaseCount: 2}
	for c, l := range layouts {
		var used [HeaderSize]bool
		for _, p := range l {
			for i := p.off; i < p.off+widths[p.f]; i++ {
				if i < 128 || i >= HeaderSize || used[i] {
					t.Fatalf("%v: field %d at %d overlaps or leaves the command area", Command(c), p.f, p.off)
				}
				used[i] = true
			}
		}
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	m := &Message{Header: Header{Cluster: testCluster, Command: CommandPing}}
	good := m.Encode()
	cases := []struct {
		name string
		mut  func([]byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:100] }, ErrSize},
		{"flipped header bit", func(b []byte) []byte { b[200] ^= 1; return b }, ErrChecksum},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, ErrSize},
		{"too large", func(b []byte) []byte { return make([]byte, 5000) }, ErrSize},
	}
	for _, tc := range cases {
		b := append([]byte(nil), good...)
		if _, err := Decode(tc.mut(b), testCluster, 4096); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Decode(good, u128.From64(8), 4096); !errors.Is(err, ErrCluster) {
		t.Errorf("wrong cluster: got %v", err)
	}
	withBody := (&Message{Header: Header{Cluster: testCluster, Command: CommandPing}, Body: []byte("x")}).Encode()
	withBody[HeaderSize] ^= 1
	if _, err := Decode(withBody, testCluster, 4096); !errors.Is(err, ErrChecksumBody) {
		t.Errorf("corrupt body: got %v", err)
	}
	bad := &Message{Header: Header{Cluster: testCluster, Command: 12}}
	if _, err := Decode(bad.Encode(), testCluster, 4096); !errors.Is(err, ErrCommand) {
		t.Errorf("unknown command: got %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Message{Header: Header{Cluster: testCluster, Command: CommandPrepare, Op: 1}, Body: []byte("abc")}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, testCluster, 4096)
		if err == nil && int(m.Header.Size) != len(b) {
			t.Fatal("accepted a message whose size field disagrees with its length")
		}
	})
}
