package clock_test

import (
	"testing"

	"viewstamp/replica/clock"
	"viewstamp/replica/vsr"
)

// The clock needs the replication quorum but cannot import vsr, which will
// import it: the two formulas must agree.
func TestReplicationQuorumIsVSRs(t *testing.T) {
	for r := uint8(1); r <= vsr.ReplicasMax; r++ {
		if got, want := clock.ReplicationQuorum(r), vsr.QuorumsFor(r).Replication; got != want {
			t.Errorf("%d replicas: clock quorum %d, vsr %d", r, got, want)
		}
	}
	if clock.SourcesMax != vsr.ReplicasMax {
		t.Errorf("clock keeps %d sources, vsr allows %d replicas", clock.SourcesMax, vsr.ReplicasMax)
	}
}
