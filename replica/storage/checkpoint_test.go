package storage

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"viewstamp/replica/storage/block"
	"viewstamp/replica/u128"
)

func sampleState() CheckpointState {
	ref := func(a, s uint64) block.Ref { return block.Ref{Address: a, Checksum: u128.U128{Lo: s, Hi: ^s}} }
	trailer := func(a uint64) TrailerRef {
		return TrailerRef{Last: ref(a, a*3), Size: a * 100, BlockCount: a % 5, Checksum: u128.U128{Lo: a, Hi: 7}}
	}
	return CheckpointState{
		HeaderChecksum:  u128.U128{Lo: 11, Hi: 12},
		Op:              959,
		FreeSetAcquired: trailer(21),
		FreeSetReleased: trailer(22),
		ClientSessions:  trailer(23),
		Manifest:        ManifestRef{Oldest: ref(30, 1), Newest: ref(31, 2), BlockCount: 2},
		ParentID:        u128.U128{Lo: 41, Hi: 42},
		GrandparentID:   u128.U128{Lo: 43, Hi: 44},
		StorageSize:     1 << 33,
		Snapshot:        trailer(24),
	}
}

func TestCheckpointStateRoundTrip(t *testing.T) {
	s := sampleState()
	b := bytes.Repeat([]byte{0xee}, CheckpointStateSize+10)
	s.Encode(b)
	for i, v := range b[cpEnd:CheckpointStateSize] {
		if v != 0 {
			t.Fatalf("tail byte %d is %#x, want zero", cpEnd+i, v)
		}
	}
	if b[CheckpointStateSize] != 0xee {
		t.Fatal("Encode wrote past CheckpointStateSize")
	}
	got, err := DecodeCheckpointState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("decoded %+v, want %+v", got, s)
	}
	var zero CheckpointState
	zero.Encode(b)
	if got, err := DecodeCheckpointState(b); err != nil || got != zero {
		t.Fatalf("zero state: %+v %v", got, err)
	}
}

func TestCheckpointIDChangesWithEveryField(t *testing.T) {
	base := sampleState()
	id := base.CheckpointID()
	if id != base.CheckpointID() {
		t.Fatal("checkpoint id is not a function of the state")
	}
	mutations := []func(*CheckpointState){
		func(s *CheckpointState) { s.HeaderChecksum.Lo++ },
		func(s *CheckpointState) { s.Op++ },
		func(s *CheckpointState) { s.FreeSetAcquired.Last.Address++ },
		func(s *CheckpointState) { s.FreeSetAcquired.Checksum.Hi++ },
		func(s *CheckpointState) { s.FreeSetReleased.Size++ },
		func(s *CheckpointState) { s.ClientSessions.BlockCount++ },
		func(s *CheckpointState) { s.ClientSessions.Last.Checksum.Lo++ },
		func(s *CheckpointState) { s.Manifest.Oldest.Address++ },
		func(s *CheckpointState) { s.Manifest.Newest.Checksum.Hi++ },
		func(s *CheckpointState) { s.Manifest.BlockCount++ },
		func(s *CheckpointState) { s.ParentID.Lo++ },
		func(s *CheckpointState) { s.GrandparentID.Hi++ },
		func(s *CheckpointState) { s.StorageSize++ },
		func(s *CheckpointState) { s.Snapshot.Size++ },
	}
	for i, m := range mutations {
		s := base
		m(&s)
		if s.CheckpointID() == id {
			t.Errorf("mutation %d leaves the checkpoint id unchanged", i)
		}
	}
}

func TestDecodeCheckpointStateRefusesNonsense(t *testing.T) {
	s := sampleState()
	b := make([]byte, CheckpointStateSize)
	cases := map[string]func(b []byte){
		"tail byte":                 func(b []byte) { b[CheckpointStateSize-1] = 1 },
		"trailer blocks no address": func(b []byte) { clear(b[cpAcquired : cpAcquired+8]) },
		"manifest count no blocks":  func(b []byte) { clear(b[cpManifest : cpManifest+8]) },
	}
	for name, mutate := range cases {
		s.Encode(b)
		mutate(b)
		if _, err := DecodeCheckpointState(b); !errors.Is(err, ErrCheckpointState) {
			t.Errorf("%s: %v, want ErrCheckpointState", name, err)
		}
	}
	if _, err := DecodeCheckpointState(b[:CheckpointStateSize-1]); err == nil {
		t.Error("short buffer accepted")
	}
	// The state and the superblock's own fields fit the first sectors of a copy.
	l := MustLayout(SimulatorConfig())
	if SuperblockFieldsSize > l.SuperblockCopySize-l.SectorCeil(l.ViewHeadersMax()*HeaderSize) {
		t.Fatal("checkpoint state does not fit the superblock copy")
	}
}
