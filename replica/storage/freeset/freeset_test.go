package freeset

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	f()
}

func TestAcquireTakesTheFirstFreeBlock(t *testing.T) {
	f := New(10)
	for want := uint64(1); want <= 10; want++ {
		if got := f.Acquire(); got != want {
			t.Fatalf("acquire %d, want %d", got, want)
		}
	}
	if got := f.Acquire(); got != 0 {
		t.Fatalf("full grid gave block %d", got)
	}
	if f.AcquiredCount() != 10 || f.FreeCount() != 0 || f.HighestAcquired() != 10 {
		t.Fatalf("counts %d/%d, highest %d", f.AcquiredCount(), f.FreeCount(), f.HighestAcquired())
	}
}

// The rule that makes restarts and repairs safe: a block released while
// checkpoint N is current is reused only once checkpoint N+1 is durable,
// and one released while N is not yet durable waits for N+1 as well.
func TestReleasedBlockWaitsForTheNextDurableCheckpoint(t *testing.T) {
	f := New(8)
	for range 4 {
		f.Acquire()
	}
	f.Release(2) // checkpoint 0 is current and durable
	if !f.IsAcquired(2) || !f.IsReleased(2) {
		t.Fatal("released block counted free at once")
	}
	if got := f.Acquire(); got != 5 {
		t.Fatalf("acquire after release took %d, want 5", got)
	}

	f.CheckpointWritten() // checkpoint 1 written, not yet durable
	f.Release(3)
	if got := f.Acquire(); got != 6 {
		t.Fatalf("block reused before checkpoint 1 was durable: got %d", got)
	}

	f.CheckpointDurable() // no one restarts from checkpoint 0 any more
	if f.IsAcquired(2) || f.IsReleased(2) {
		t.Fatal("block 2, released before checkpoint 1, not freed at its durability")
	}
	if !f.IsAcquired(3) || !f.IsReleased(3) {
		t.Fatal("block 3, released before checkpoint 1 was durable, freed with it")
	}
	if got := f.Acquire(); got != 2 {
		t.Fatalf("acquire took %d, want the freed block 2", got)
	}
	if got := f.Acquire(); got != 7 {
		t.Fatalf("acquire took %d, want 7 (block 3 still protected)", got)
	}

	f.CheckpointWritten()
	f.CheckpointDurable() // checkpoint 2 durable
	if f.IsAcquired(3) {
		t.Fatal("block 3 not freed once checkpoint 2 was durable")
	}
	if got := f.Acquire(); got != 3 {
		t.Fatalf("acquire took %d, want 3", got)
	}
	if f.ReleasedCount() != 0 {
		t.Fatalf("%d blocks still released", f.ReleasedCount())
	}
}

func TestMisuseIsRefused(t *testing.T) {
	f := New(4)
	a := f.Acquire()
	mustPanic(t, "release a free block", func() { f.Release(4) })
	f.Release(a)
	mustPanic(t, "release twice", func() { f.Release(a) })
	mustPanic(t, "address 0", func() { f.IsAcquired(0) })
	mustPanic(t, "address past the grid", func() { f.Release(5) })
	mustPanic(t, "durable twice", func() { f.CheckpointDurable() })
	f.CheckpointWritten()
	mustPanic(t, "written twice without durability", func() { f.CheckpointWritten() })
	mustPanic(t, "mark acquired twice", func() { f.MarkAcquired(a) })
	mustPanic(t, "encode while not durable", func() { f.EncodeAcquired() })
}

// Jobs reserve in a fixed order; whichever order they then acquire in, each
// gets the same blocks, which is what keeps grids identical across replicas
// whose IO completes in different orders.
func TestReservationsAreIndependentOfAcquireOrder(t *testing.T) {
	run := func(order []int) [3][]uint64 {
		f := New(100)
		// Some prior history: holes in the grid.
		for range 20 {
			f.Acquire()
		}
		for _, a := range []uint64{3, 4, 9, 15} {
			f.Release(a)
		}
		f.CheckpointWritten()
		f.CheckpointDurable()
		var rs [3]Reservation
		for j, n := range []uint64{3, 5, 2} {
			r, ok := f.Reserve(n)
			if !ok {
				t.Fatal("reserve failed")
			}
			rs[j] = r
		}
		var got [3][]uint64
		for _, j := range order {
			got[j] = append(got[j], f.AcquireReserved(&rs[j]))
		}
		for j := range rs {
			f.Forfeit(&rs[j])
		}
		return got
	}
	// Job 0 acquires 3, job 1 five, job 2 two, interleaved differently.
	a := run([]int{0, 0, 0, 1, 1, 1, 1, 1, 2, 2})
	b := run([]int{2, 1, 0, 2, 1, 0, 1, 0, 1, 1})
	for j := range a {
		if !slicesEqual(a[j], b[j]) {
			t.Fatalf("job %d got %v in one order and %v in another", j, a[j], b[j])
		}
	}
	want := [3][]uint64{{3, 4, 9}, {15, 21, 22, 23, 24}, {25, 26}}
	for j := range want {
		if !slicesEqual(a[j], want[j]) {
			t.Fatalf("job %d got %v, want %v", j, a[j], want[j])
		}
	}
}

func TestReservationLimits(t *testing.T) {
	f := New(10)
	r, ok := f.Reserve(2)
	if !ok {
		t.Fatal("reserve failed")
	}
	if got := f.Acquire(); got != 3 {
		t.Fatalf("unreserved acquire took %d, want 3 (past the reservation)", got)
	}
	f.AcquireReserved(&r)
	f.AcquireReserved(&r)
	mustPanic(t, "acquire beyond the reservation", func() { f.AcquireReserved(&r) })
	if _, ok := f.Reserve(8); ok {
		t.Fatal("reserved more blocks than are free")
	}
	mustPanic(t, "durable during a reservation", func() {
		f.CheckpointWritten()
		f.CheckpointDurable()
	})
	f2 := New(10)
	r2, _ := f2.Reserve(1)
	f2.Forfeit(&r2)
	mustPanic(t, "forfeit twice", func() { f2.Forfeit(&r2) })
	mustPanic(t, "acquire after forfeit", func() { f2.AcquireReserved(&r2) })
	if r3, ok := f2.Reserve(10); !ok || f2.AcquireReserved(&r3) != 1 {
		t.Fatal("reservations do not restart from the first block after all are forfeited")
	}
}

// The shard index must not change answers: a grid spanning several shards,
// filled and freed at random, agrees with a plain bitmap model.
func TestSearchAgreesWithAModel(t *testing.T) {
	const blocks = 3*ShardBlocks + 77
	rng := rand.New(rand.NewPCG(1, 2))
	f := New(blocks)
	model := make([]bool, blocks+1)
	var held []uint64
	firstFree := func() uint64 {
		for a := uint64(1); a <= blocks; a++ {
			if !model[a] {
				return a
			}
		}
		return 0
	}
	for step := 0; step < 40000; step++ {
		if rng.IntN(3) > 0 || len(held) == 0 {
			got, want := f.Acquire(), firstFree()
			if got != want {
				t.Fatalf("step %d: acquire %d, model %d", step, got, want)
			}
			if got != 0 {
				model[got] = true
				held = append(held, got)
			}
		} else {
			i := rng.IntN(len(held))
			a := held[i]
			held[i] = held[len(held)-1]
			held = held[:len(held)-1]
			f.Release(a)
			f.CheckpointWritten()
			f.CheckpointDurable()
			f.CheckpointWritten()
			f.CheckpointDurable()
			model[a] = false
		}
		if step%1000 == 0 {
			var highest uint64
			for a := uint64(blocks); a >= 1; a-- {
				if model[a] {
					highest = a
					break
				}
			}
			if f.HighestAcquired() != highest || f.AcquiredCount() != uint64(len(held)) {
				t.Fatalf("step %d: highest %d (model %d), count %d (model %d)", step, f.HighestAcquired(), highest, f.AcquiredCount(), len(held))
			}
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, blocks := range []uint64{1, 63, 64, 65, 1000, 2*ShardBlocks + 5} {
		f := New(blocks)
		for range blocks * 2 / 3 {
			f.Acquire()
		}
		for a := uint64(1); a <= blocks; a++ {
			if f.IsAcquired(a) && rng.IntN(4) == 0 {
				f.Release(a)
			}
		}
		f.CheckpointWritten()
		f.CheckpointDurable() // frees the first releases, making holes
		for a := uint64(1); a <= blocks; a++ {
			if f.IsAcquired(a) && !f.IsReleased(a) && rng.IntN(5) == 0 {
				f.Release(a)
			}
		}
		acq, rel := f.EncodeAcquired(), f.EncodeReleased()
		g, err := Decode(blocks, acq, rel)
		if err != nil {
			t.Fatalf("%d blocks: %v", blocks, err)
		}
		for a := uint64(1); a <= blocks; a++ {
			if f.IsAcquired(a) != g.IsAcquired(a) || f.IsReleased(a) != g.IsReleased(a) {
				t.Fatalf("%d blocks: block %d differs after decode", blocks, a)
			}
		}
		if g.AcquiredCount() != f.AcquiredCount() || g.ReleasedCount() != f.ReleasedCount() || g.HighestAcquired() != f.HighestAcquired() {
			t.Fatalf("%d blocks: counts differ after decode", blocks)
		}
		if g.Durable() {
			t.Fatalf("%d blocks: a decoded checkpoint counts as durable", blocks)
		}
		// The decoded set behaves like the original: same next acquire, and
		// its releases free at its durability.
		g.CheckpointDurable()
		g.CheckpointWritten()
		f.CheckpointWritten()
		f.CheckpointDurable()
		f.CheckpointWritten()
		if fa, ga := f.Acquire(), g.Acquire(); fa != ga {
			t.Fatalf("%d blocks: next acquire %d vs %d after decode", blocks, fa, ga)
		}
		if !bytes.Equal(encode(f.acquired, blocks, f.acquiredCount), encode(g.acquired, blocks, g.acquiredCount)) {
			t.Fatalf("%d blocks: re-encodings differ", blocks)
		}
	}
}

func TestEncodingIsCompactAndCanonical(t *testing.T) {
	f := New(2 * ShardBlocks)
	for range 3000 {
		f.Acquire()
	}
	acq := f.EncodeAcquired()
	// 3000 set then 5192 clear: a header and three runs.
	if len(acq) > encodingHeaderSize+3*3 {
		t.Fatalf("encoding of two runs takes %d bytes", len(acq))
	}
	empty := New(2 * ShardBlocks).EncodeAcquired()
	if len(empty) != encodingHeaderSize+2 {
		t.Fatalf("empty set encodes to %d bytes", len(empty))
	}
	g := New(2 * ShardBlocks)
	for range 3000 {
		g.Acquire()
	}
	if !bytes.Equal(acq, g.EncodeAcquired()) {
		t.Fatal("equal sets encode differently")
	}
}

func TestDecodeRefusesBadEncodings(t *testing.T) {
	f := New(100)
	for range 10 {
		f.Acquire()
	}
	f.Release(5)
	acq, rel := f.EncodeAcquired(), f.EncodeReleased()
	none := New(100).EncodeAcquired()
	cases := map[string][2][]byte{
		"truncated":             {acq[:len(acq)-1], rel},
		"other grid size":       {New(99).EncodeAcquired(), rel},
		"short header":          {acq[:8], rel},
		"trailing run":          {append(bytes.Clone(acq), 1), rel},
		"wrong set count":       {append(append(bytes.Clone(acq[:8]), 9, 0, 0, 0, 0, 0, 0, 0), acq[16:]...), rel},
		"released not acquired": {none, rel},
	}
	for name, c := range cases {
		if _, err := Decode(100, c[0], c[1]); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: %v, want ErrEncoding", name, err)
		}
	}
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A reservation holds exactly n free blocks, ends on one, and follows the
// previous reservation; acquiring from it yields its free blocks in order.
func TestReserveAgreesWithAModel(t *testing.T) {
	const blocks = 2*ShardBlocks + 300
	rng := rand.New(rand.NewPCG(3, 4))
	f := New(blocks)
	for range ShardBlocks + 100 {
		f.Acquire()
	}
	for a := uint64(1); a <= ShardBlocks+100; a++ {
		if rng.IntN(3) == 0 {
			f.Release(a)
		}
	}
	f.CheckpointWritten()
	f.CheckpointDurable()
	free := func(i uint64) bool { return !get(f.acquired, i) }
	for round := range 20 {
		var rs []Reservation
		end := uint64(0)
		for {
			n := uint64(1 + rng.IntN(700))
			r, ok := f.Reserve(n)
			if !ok {
				var left uint64
				for i := end; i < blocks; i++ {
					if free(i) {
						left++
					}
				}
				if left >= n {
					t.Fatalf("round %d: reserve(%d) refused with %d free past %d", round, n, left, end)
				}
				break
			}
			var count uint64
			for i := r.start; i < r.end; i++ {
				if free(i) {
					count++
				}
			}
			if r.start != end || count != n || !free(r.end-1) {
				t.Fatalf("round %d: reservation [%d, %d) after %d holds %d free, want %d", round, r.start, r.end, end, count, n)
			}
			end = r.end
			rs = append(rs, r)
		}
		// Use a random share of each reservation, newest first.
		for j := len(rs) - 1; j >= 0; j-- {
			r := &rs[j]
			prev := uint64(0)
			for k := rng.IntN(int(r.count) + 1); k > 0; k-- {
				a := f.AcquireReserved(r)
				if a-1 < r.start || a-1 >= r.end || a <= prev {
					t.Fatalf("round %d: acquired %d outside [%d, %d) or out of order", round, a, r.start+1, r.end+1)
				}
				prev = a
			}
		}
		for j := range rs {
			f.Forfeit(&rs[j])
		}
		if f.Reserving() {
			t.Fatal("reservations left after forfeiting all")
		}
		// Free some again for the next round.
		for a := uint64(1); a <= blocks; a++ {
			if f.IsAcquired(a) && rng.IntN(4) == 0 {
				f.Release(a)
			}
		}
		f.CheckpointWritten()
		f.CheckpointDurable()
	}
}

// The blocks a checkpoint references are the acquired ones no checkpoint
// since has released, whichever of the two released sets holds them.
func TestEachReferencedSkipsReleasedBlocks(t *testing.T) {
	f := New(200)
	for range 130 {
		f.Acquire()
	}
	f.Release(3)  // while checkpoint 0 is durable
	f.Release(70) // likewise, in another word
	f.CheckpointWritten()
	f.Release(129) // before the new checkpoint is durable: the prior set
	var got []uint64
	f.EachReferenced(func(a uint64) { got = append(got, a) })
	if len(got) != 127 || got[0] != 1 || got[2] != 4 || got[len(got)-1] != 130 {
		t.Fatalf("referenced %d blocks %v...%v", len(got), got[:3], got[len(got)-3:])
	}
	for _, a := range got {
		if a == 3 || a == 70 || a == 129 {
			t.Fatalf("released block %d reported referenced", a)
		}
	}
}
