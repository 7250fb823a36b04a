package reports

import (
	"encoding/json"
	"testing"
)

// Records from before evictions were counted by reason hold a bare number;
// they must still read, so old swarm outputs can be merged and reported.
func TestEvictionsReadOldAndNew(t *testing.T) {
	var old, zero, now Record
	if err := json.Unmarshal([]byte(`{"seed":"1","evictions":3}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Evictions.Total() != 3 || old.Evictions[EvictionsUnknown] != 3 {
		t.Fatalf("old count read as %v", old.Evictions)
	}
	if err := json.Unmarshal([]byte(`{"seed":"1","evictions":0}`), &zero); err != nil || zero.Evictions.Total() != 0 {
		t.Fatalf("old zero read as %v (%v)", zero.Evictions, err)
	}
	in := Record{Seed: "2", Evictions: Evictions{"no_session": 2, "session_too_low": 1}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &now); err != nil {
		t.Fatal(err)
	}
	if now.Evictions.Total() != 3 || now.Evictions["no_session"] != 2 {
		t.Fatalf("round trip gave %v from %s", now.Evictions, b)
	}
}
