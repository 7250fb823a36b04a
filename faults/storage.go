package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"viewstamp/sim/disk"
	"viewstamp/sim/draw"
)

// StorageStream names the seed's PCG stream storage faults are drawn from:
// a stream of their own, so turning them on changes no other draw.
const StorageStream = 0x5707A6E

// Storage fault rates run from calm to storm on a log scale, per IO (per
// tick for bit rot, per copy write for the superblock); each class is off
// on a share of seeds (storageOffShare), so that every mix is explored.
const (
	latentCalm, latentStorm               = 1e-4, 5e-2
	bitRotCalm, bitRotStorm               = 1e-5, 1e-2
	writeFaultCalm, writeFaultStorm       = 1e-4, 5e-2
	misdirectWriteCalm, misdirectStorm    = 1e-4, 2e-2
	misdirectReadCalm, misdirectReadStorm = 1e-4, 2e-2
	superblockCalm, superblockStorm       = 1e-3, 1e-1
	crashHeadCalm, crashHeadStorm         = 5e-2, 8e-1 // per crash
	crossZoneMin, crossZoneMax            = 0.1, 0.5
	storageOffShare                       = 0.25
	// gridOffShare: seeds that keep the grid zone fault-free.
	gridOffShare = 0.3
)

// Storage fault classes, by the names of the run record and --storage-faults-off.
const (
	ClassLatent           = "latent"
	ClassBitRot           = "bit_rot"
	ClassWrite            = "write"
	ClassMisdirectedWrite = "misdirected_write"
	ClassMisdirectedRead  = "misdirected_read"
	ClassTorn             = "torn"
	ClassSuperblock       = "superblock"
	ClassCrashHead        = "crash_head"
	ClassGrid             = "grid" // a zone, not a class: faults in the grid zone
	ClassReformat         = "reformat"
)

// StorageClasses lists every name --storage-faults-off takes.
var StorageClasses = []string{ClassLatent, ClassBitRot, ClassWrite, ClassMisdirectedWrite, ClassMisdirectedRead, ClassTorn, ClassSuperblock, ClassCrashHead, ClassGrid, ClassReformat}

// StorageFaults is one seed's storage fault plan.
type StorageFaults struct {
	Disk disk.Faults
	Grid bool // the grid zone may be faulted (the atlas places faults there)
}

// DrawStorage draws the storage faults of seed from their own stream, in
// this order: for each of latent, bit rot, write, misdirected write,
// misdirected read, superblock, one Float64 (off if < storageOffShare),
// then if on one log-uniform draw (sim/draw); then one Float64 for cross-zone
// misdirects (off if < 0.5) and if on a PPM draw; one Float64 for torn-within
// (off if < storageOffShare); one Float64 for the grid zone; then crash
// head as the classes above (drawn last, so adding it moved no earlier
// draw: a seed with it off runs as before it existed). Classes named in
// off are drawn as usual, then zeroed, so the other classes keep their rates.
func DrawStorage(seed uint64, off []string) (StorageFaults, error) {
	for _, c := range off {
		if !slices.Contains(StorageClasses, c) {
			return StorageFaults{}, fmt.Errorf("storage fault class %q: want one of %s", c, strings.Join(StorageClasses, ", "))
		}
	}
	rng := rand.New(rand.NewPCG(seed, StorageStream))
	rate := func(lo, hi float64) float64 {
		if rng.Float64() < storageOffShare {
			return 0
		}
		p, _ := draw.LogUniform(rng, lo, hi)
		return p
	}
	var s StorageFaults
	f := &s.Disk
	f.Latent = rate(latentCalm, latentStorm)
	f.BitRot = rate(bitRotCalm, bitRotStorm)
	f.Write = rate(writeFaultCalm, writeFaultStorm)
	f.MisdirectWrite = rate(misdirectWriteCalm, misdirectStorm)
	f.MisdirectRead = rate(misdirectReadCalm, misdirectReadStorm)
	f.Superblock = rate(superblockCalm, superblockStorm)
	if rng.Float64() >= 0.5 {
		f.MisdirectCrossZone = draw.PPM(rng, int(crossZoneMin*1e6), int(crossZoneMax*1e6))
	}
	f.TearWithin = rng.Float64() >= storageOffShare
	s.Grid = rng.Float64() >= gridOffShare
	f.CrashHead = rate(crashHeadCalm, crashHeadStorm)
	for _, c := range off {
		switch c {
		case ClassLatent:
			f.Latent = 0
		case ClassBitRot:
			f.BitRot = 0
		case ClassWrite:
			f.Write = 0
		case ClassMisdirectedWrite:
			f.MisdirectWrite, f.MisdirectCrossZone = 0, 0
		case ClassMisdirectedRead:
			f.MisdirectRead = 0
		case ClassTorn:
			f.TearWithin = false
		case ClassSuperblock:
			f.Superblock = 0
		case ClassCrashHead:
			f.CrashHead = 0
		case ClassGrid:
			s.Grid = false
		}
	}
	return s, nil
}

// DescribeStorage lists the storage fault plan by name, for the run record.
func DescribeStorage(s StorageFaults) map[string]any {
	f := s.Disk
	return map[string]any{
		"storage_latent_probability":          f.Latent,
		"storage_bit_rot_probability":         f.BitRot,
		"storage_write_fault_probability":     f.Write,
		"storage_misdirect_write_probability": f.MisdirectWrite,
		"storage_misdirect_cross_zone":        f.MisdirectCrossZone,
		"storage_misdirect_read_probability":  f.MisdirectRead,
		"storage_superblock_probability":      f.Superblock,
		"storage_crash_head_probability":      f.CrashHead,
		"storage_tear_within":                 f.TearWithin,
		"storage_grid_faults":                 s.Grid,
	}
}

// ReformatStream names the seed's PCG stream reformats are drawn from: its
// own, so that drawing them moves no other draw.
const ReformatStream = StorageStream + 2

// Reformats: on a share of seeds, one replica (drawn) may have its data
// file wiped while it is down (a disk replaced) and rejoin from a
// reformatted one, at most reformatsMax times, each of its restarts being a
// reformat with a drawn probability.
const (
	reformatOffShare = 0.5
	// reformatReplicasMin: with fewer replicas, the others are no
	// view-change quorum, so they could never settle the new data file
	// (vsr's reformat protocol, recovery.go), and with one the data is
	// simply gone.
	reformatReplicasMin = 3
	// reformatsMax bounds the reformats of a seed, as TigerBeetle's VOPR
	// does (replica count + 2).
	reformatsExtra                 = 2
	reformatPPMMin, reformatPPMMax = 100_000, 1_000_000
)

// Reformats is one seed's reformat plan. Replica < 0: none.
type Reformats struct {
	Replica     int     // the one replica whose data file may be wiped
	Max         int     // reformats at most
	Probability float64 // that a restart of Replica is a reformat
}

// DrawReformats draws the reformat plan of seed for a cluster of replicas,
// from ReformatStream, in this order: one Float64 (off if < reformatOffShare),
// one IntN(replicas) for the replica, one IntN(replicas+reformatsExtra) for
// the count (plus one), one PPM draw for the probability; all drawn even
// where the cluster is too small, or ClassReformat is in off, which turn
// it off.
func DrawReformats(seed uint64, replicas int, off []string) Reformats {
	rng := rand.New(rand.NewPCG(seed, ReformatStream))
	none := rng.Float64() < reformatOffShare
	r := Reformats{Replica: rng.IntN(replicas), Max: 1 + rng.IntN(replicas+reformatsExtra)}
	r.Probability = draw.PPM(rng, reformatPPMMin, reformatPPMMax)
	if none || replicas < reformatReplicasMin || slices.Contains(off, ClassReformat) {
		return Reformats{Replica: -1}
	}
	return r
}

// DescribeReformats lists the reformat plan by name, for the run record.
func DescribeReformats(r Reformats) map[string]any {
	if r.Replica < 0 {
		return map[string]any{"storage_reformats_max": 0}
	}
	return map[string]any{
		"storage_reformats_max":        r.Max,
		"storage_reformat_replica":     r.Replica,
		"storage_reformat_probability": r.Probability,
	}
}
