package sim

import (
	"reflect"
	"testing"

	"viewstamp/faults"
	"viewstamp/reports"
)

const storageTestTicks = 6_000

func storageConfig(on bool, off ...string) Config {
	return Config{Lite: true, TicksMax: storageTestTicks, StorageFaults: on, StorageFaultsOff: off}
}

// Storage faults replay like everything else, are counted in the record,
// and the runs pass: the replicas repair what the faults destroy.
func TestStorageFaultsReplayAndPass(t *testing.T) {
	var total reports.StorageFaults
	for seed := uint64(1); seed <= 6; seed++ {
		a, b := run(seed, storageConfig(true)), run(seed, storageConfig(true))
		if a.TraceHash != b.TraceHash || !reflect.DeepEqual(a.StorageFaults, b.StorageFaults) {
			t.Fatalf("seed %d replayed differently: %s %+v vs %s %+v", seed, a.TraceHash, a.StorageFaults, b.TraceHash, b.StorageFaults)
		}
		if a.Result != reports.Pass {
			t.Fatalf("seed %d: %s: %s", seed, a.Result, a.Failure)
		}
		if a.StorageFaults == nil {
			t.Fatalf("seed %d: no storage_faults section", seed)
		}
		s := a.StorageFaults
		total.Latent += s.Latent
		total.BitRot += s.BitRot
		total.Write += s.Write
		total.Superblock += s.Superblock
		if off := run(seed, storageConfig(false)); off.StorageFaults != nil {
			t.Fatalf("seed %d: a storage_faults section without storage faults", seed)
		}
	}
	struck := 0
	for _, n := range []uint64{total.Latent, total.BitRot, total.Write, total.Superblock} {
		if n > 0 {
			struck++
		}
	}
	if struck < 2 {
		t.Fatalf("fewer than two classes struck: %+v", total)
	}
}

// With every class turned off, the hostile disk is the plain one: the run
// is the run without storage faults, draw for draw.
func TestStorageFaultsAllOffRunLikeNone(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		on, off := run(seed, storageConfig(true, faults.StorageClasses...)), run(seed, storageConfig(false))
		if on.TraceHash != off.TraceHash {
			t.Fatalf("seed %d: all classes off changed the run (%s vs %s)", seed, on.TraceHash, off.TraceHash)
		}
	}
}
