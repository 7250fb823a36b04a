package disk

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"viewstamp/replica/io"
	"viewstamp/sim/sched"
)

const sector = 512

func zoneSizes() [io.ZoneCount]uint64 {
	return [io.ZoneCount]uint64{
		io.ZoneSuperblock:    4 * 4096,
		io.ZoneWALHeaders:    64 * sector,
		io.ZoneWALPrepares:   512 * 4096,
		io.ZoneClientReplies: 64 * 4096,
		io.ZoneGrid:          1 << 30, // large: must be allocated lazily
	}
}

func newDisk(opts Options, seed uint64) (*Disk, *sched.Scheduler) {
	s := &sched.Scheduler{}
	return New(opts, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s, sector, zoneSizes()), s
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// fixed latencies: reads 10 ns, writes 100 ns, no rng draws for latency.
var fixed = Options{ReadLatencyMinNs: 10, WriteLatencyMinNs: 100}

func TestWriteThenRead(t *testing.T) {
	d, s := newDisk(Options{ReadLatencyMinNs: 1000, ReadLatencyMeanNs: 5000, WriteLatencyMinNs: 1000, WriteLatencyMeanNs: 5000}, 1)
	data := make([]byte, 3*sector)
	for i := range data {
		data[i] = byte(i * 7)
	}
	// Spans sector boundaries.
	off := uint64(1<<16 - sector)
	wrote := false
	d.Write(io.ZoneWALPrepares, off, data, func() { wrote = true })
	clear(data[:sector]) // Write copied buf at call time.
	if wrote {
		t.Fatal("done ran inside Write")
	}
	if d.PendingWrites() != 1 {
		t.Fatalf("PendingWrites = %d, want 1", d.PendingWrites())
	}
	s.RunUntil(1 << 40)
	if !wrote || d.PendingWrites() != 0 {
		t.Fatalf("write not completed: done=%v pending=%d", wrote, d.PendingWrites())
	}
	for i := range sector {
		data[i] = byte(i * 7)
	}
	got := fill(3*sector, 0xEE)
	read := false
	d.Read(io.ZoneWALPrepares, off, got, func() { read = true })
	if read {
		t.Fatal("done ran inside Read")
	}
	s.RunUntil(2 << 40)
	if !read {
		t.Fatal("read not completed")
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read returned different data from what was written")
	}
	if st := d.Stats(); st != (Stats{Reads: 1, Writes: 1}) {
		t.Fatalf("stats = %+v", st)
	}
}

func TestUnwrittenReadsZeros(t *testing.T) {
	d, s := newDisk(fixed, 1)
	got := fill(2*sector, 0xFF)
	d.Read(io.ZoneGrid, 1<<29, got, func() {})
	s.RunUntil(1000)
	if !bytes.Equal(got, make([]byte, 2*sector)) {
		t.Fatal("unwritten sectors did not read back as zeros")
	}
	// Partly written: written sector has data, neighbour still zeros.
	d.Write(io.ZoneGrid, 1<<29, fill(sector, 0xAB), func() {})
	s.RunUntil(2000)
	d.Read(io.ZoneGrid, 1<<29, got, func() {})
	s.RunUntil(3000)
	if !bytes.Equal(got, append(fill(sector, 0xAB), make([]byte, sector)...)) {
		t.Fatal("partly written range read back wrong")
	}
	// Lazy allocation: writing one sector in the middle of a 1 GiB zone
	// must not allocate a table for the whole zone, nor memory for more
	// than that sector.
	if n := len(d.sectors.disks[d.index][io.ZoneGrid]); n != (1<<29)/sector+1 {
		t.Fatalf("grid sector table has %d entries", n)
	}
	if n := d.sectors.Stored(); n != 1 {
		t.Fatalf("%d sectors stored, want 1", n)
	}
}

func TestReadBeforeWriteCompletionSeesOldData(t *testing.T) {
	d, s := newDisk(fixed, 1)
	old, newer := fill(sector, 1), fill(sector, 2)
	d.Write(io.ZoneSuperblock, 0, old, func() {})
	s.RunUntil(1000)

	var order []string
	d.Write(io.ZoneSuperblock, 0, newer, func() { order = append(order, "write") }) // completes at 1100
	peek := make([]byte, sector)
	d.Peek(io.ZoneSuperblock, 0, peek)
	if !bytes.Equal(peek, old) {
		t.Fatal("Peek saw a write before its completion")
	}
	got := make([]byte, sector)
	d.Read(io.ZoneSuperblock, 0, got, func() { order = append(order, "read") }) // completes at 1010
	s.RunUntil(1050)
	if !bytes.Equal(got, old) {
		t.Fatal("read completing before the write did not return old data")
	}
	s.RunUntil(2000)
	if !slices.Equal(order, []string{"read", "write"}) {
		t.Fatalf("order = %v", order)
	}
	// A read issued before the write but completing after it sees new data:
	// reads copy at completion time.
	d.SetOptions(Options{ReadLatencyMinNs: 500, WriteLatencyMinNs: 100})
	d.Read(io.ZoneSuperblock, 0, got, func() {})
	d.Write(io.ZoneSuperblock, 0, fill(sector, 3), func() {})
	s.RunUntil(3000)
	if !bytes.Equal(got, fill(sector, 3)) {
		t.Fatal("read completing after a write did not see its data")
	}
	d.Peek(io.ZoneSuperblock, 0, peek)
	if !bytes.Equal(peek, fill(sector, 3)) {
		t.Fatal("Peek does not show the completed write")
	}
}

func TestCompletionsOutOfOrder(t *testing.T) {
	d, s := newDisk(Options{ReadLatencyMinNs: 100, ReadLatencyMeanNs: 10_000, WriteLatencyMinNs: 100, WriteLatencyMeanNs: 10_000}, 7)
	var order []int
	var times []uint64
	buf := make([]byte, sector)
	for i := range 50 {
		d.Read(io.ZoneWALHeaders, uint64(i%64)*sector, buf, func() {
			order = append(order, i)
			times = append(times, s.Now())
		})
	}
	s.RunUntil(1 << 40)
	if len(order) != 50 {
		t.Fatalf("%d completions, want 50", len(order))
	}
	if slices.IsSorted(order) {
		t.Fatal("IOs completed in issue order despite random latency")
	}
	if !slices.IsSorted(times) {
		t.Fatal("completion times not monotonic")
	}
	if times[0] < 100 {
		t.Fatalf("completion at %d ns, before the minimum latency", times[0])
	}
}

func TestCrashLosesPendingWrites(t *testing.T) {
	d, s := newDisk(Options{ReadLatencyMinNs: 10, WriteLatencyMinNs: 100, WriteLatencyMeanNs: 100}, 3)
	old := fill(4*sector, 0x11)
	d.Write(io.ZoneWALPrepares, 0, old, func() {})
	s.RunUntil(1 << 30)

	ran := 0
	for i := range 5 {
		d.Write(io.ZoneWALPrepares, 0, fill(4*sector, byte(0x20+i)), func() { ran++ })
	}
	d.Write(io.ZoneClientReplies, 4096, fill(sector, 0x33), func() { ran++ })
	got := fill(sector, 0x77)
	d.Read(io.ZoneWALPrepares, 0, got, func() { ran++ })
	if d.PendingWrites() != 6 || d.PendingReads() != 1 {
		t.Fatalf("pending writes %d reads %d", d.PendingWrites(), d.PendingReads())
	}
	d.Crash()
	if d.PendingWrites() != 0 || d.PendingReads() != 0 {
		t.Fatalf("after crash: pending writes %d reads %d", d.PendingWrites(), d.PendingReads())
	}
	s.RunUntil(2 << 30)
	if ran != 0 {
		t.Fatalf("%d callbacks of pre-crash IOs ran", ran)
	}
	if !bytes.Equal(got, fill(sector, 0x77)) {
		t.Fatal("a forgotten read wrote into its buffer")
	}
	peek := make([]byte, 4*sector)
	d.Peek(io.ZoneWALPrepares, 0, peek)
	if !bytes.Equal(peek, old) {
		t.Fatal("lost writes changed the disk")
	}
	d.Peek(io.ZoneClientReplies, 4096, peek[:sector])
	if !bytes.Equal(peek[:sector], make([]byte, sector)) {
		t.Fatal("lost write changed the disk")
	}
	if st := d.Stats(); st.WritesLost != 6 || st.WritesTorn != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCrashTearsPendingWrites(t *testing.T) {
	for seed := range uint64(20) {
		d, s := newDisk(Options{WriteLatencyMinNs: 100, CrashFaultProbability: 1}, seed)
		const sectors = 8
		old := fill(sectors*sector, 0x11)
		d.Write(io.ZoneWALPrepares, 4096, old, func() {})
		s.RunUntil(1000)

		newer := make([]byte, sectors*sector)
		for i := range newer {
			newer[i] = byte(i/sector + 1)
		}
		ran := false
		d.Write(io.ZoneWALPrepares, 4096, newer, func() { ran = true })
		d.Crash()
		s.RunUntil(2000)
		if ran {
			t.Fatal("torn write's callback ran")
		}
		got := make([]byte, sectors*sector)
		d.Peek(io.ZoneWALPrepares, 4096, got)
		garbage := 0
		for i := range sectors {
			g, n := got[i*sector:(i+1)*sector], newer[i*sector:(i+1)*sector]
			if bytes.Equal(g, n) {
				continue
			}
			garbage++
			if bytes.Equal(g, old[:sector]) || bytes.Equal(g, make([]byte, sector)) {
				t.Fatalf("seed %d: torn sector %d holds old data or zeros, not garbage", seed, i)
			}
		}
		if garbage != 1 {
			t.Fatalf("seed %d: %d garbage sectors, want exactly 1", seed, garbage)
		}
		// Neighbours untouched.
		edge := make([]byte, sector)
		d.Peek(io.ZoneWALPrepares, 4096-sector, edge)
		if !bytes.Equal(edge, make([]byte, sector)) {
			t.Fatal("torn write spilled before its range")
		}
		d.Peek(io.ZoneWALPrepares, 4096+sectors*sector, edge)
		if !bytes.Equal(edge, make([]byte, sector)) {
			t.Fatal("torn write spilled after its range")
		}
		if st := d.Stats(); st.WritesTorn != 1 || st.WritesLost != 0 {
			t.Fatalf("stats = %+v", st)
		}
	}
}

func TestCrashProbabilityMixes(t *testing.T) {
	d, _ := newDisk(Options{WriteLatencyMinNs: 100, CrashFaultProbability: 0.5}, 9)
	for i := range 200 {
		d.Write(io.ZoneWALPrepares, uint64(i)*4096, fill(4096, 1), func() {})
	}
	d.Crash()
	st := d.Stats()
	if st.WritesTorn+st.WritesLost != 200 || st.WritesTorn < 60 || st.WritesLost < 60 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestDiskWorksAfterCrash(t *testing.T) {
	d, s := newDisk(fixed, 1)
	var log []string
	at := func(name string) func() {
		return func() { log = append(log, fmt.Sprintf("%s@%d", name, s.Now())) }
	}
	d.Write(io.ZoneGrid, 0, fill(sector, 1), at("w1")) // due at 100, stale
	d.Read(io.ZoneGrid, 0, make([]byte, sector), at("r1"))
	d.Crash()
	d.SetOptions(Options{ReadLatencyMinNs: 10, WriteLatencyMinNs: 1000})
	d.Write(io.ZoneGrid, 0, fill(sector, 2), at("w2")) // due at 1000
	s.RunUntil(100)                                    // stale events fire and recycle their ops
	d.SetOptions(Options{ReadLatencyMinNs: 10, WriteLatencyMinNs: 10})
	d.Write(io.ZoneGrid, sector, fill(sector, 3), at("w3")) // reuses a recycled op, due at 110
	got := make([]byte, 2*sector)
	d.Read(io.ZoneGrid, 0, got, at("r2")) // due at 110, after w3
	s.RunUntil(5000)
	want := []string{"w3@110", "r2@110", "w2@1000"}
	if !slices.Equal(log, want) {
		t.Fatalf("log = %v, want %v", log, want)
	}
	if !bytes.Equal(got, append(make([]byte, sector), fill(sector, 3)...)) {
		t.Fatal("post-crash read returned wrong data")
	}
	d.Peek(io.ZoneGrid, 0, got)
	if !bytes.Equal(got, append(fill(sector, 2), fill(sector, 3)...)) {
		t.Fatal("post-crash writes not durable")
	}
}

// trace runs a mixed workload with a crash in the middle and returns a log of
// completions and the final disk contents.
func trace(seed uint64) string {
	d, s := newDisk(Options{
		ReadLatencyMinNs: 50, ReadLatencyMeanNs: 5000,
		WriteLatencyMinNs: 100, WriteLatencyMeanNs: 20000,
		CrashFaultProbability: 0.5,
	}, seed)
	var b strings.Builder
	issue := func(i int) {
		off := uint64(i%32) * sector
		if i%3 == 0 {
			buf := make([]byte, sector)
			d.Read(io.ZoneWALHeaders, off, buf, func() { fmt.Fprintf(&b, "r%d@%d:%x ", i, s.Now(), buf[:4]) })
		} else {
			d.Write(io.ZoneWALHeaders, off, fill(2*sector, byte(i)), func() { fmt.Fprintf(&b, "w%d@%d ", i, s.Now()) })
		}
	}
	for i := range 60 {
		issue(i)
	}
	s.RunUntil(8000)
	d.Crash()
	for i := 60; i < 100; i++ {
		issue(i)
	}
	s.RunUntil(1 << 40)
	contents := make([]byte, 64*sector)
	d.Peek(io.ZoneWALHeaders, 0, contents)
	fmt.Fprintf(&b, "\n%x %+v", contents, d.Stats())
	return b.String()
}

func TestDeterministic(t *testing.T) {
	a, b := trace(42), trace(42)
	if a != b {
		t.Fatal("same seed gave different completion order or contents")
	}
	if a == trace(43) {
		t.Fatal("different seeds gave identical traces")
	}
}

func TestMisusePanics(t *testing.T) {
	d, _ := newDisk(fixed, 1)
	buf := make([]byte, sector)
	size := zoneSizes()[io.ZoneSuperblock]
	cases := []struct {
		name string
		fn   func()
		msg  string
	}{
		{"read misaligned offset", func() { d.Read(io.ZoneSuperblock, 100, buf, func() {}) }, "not a multiple of sector size"},
		{"write misaligned offset", func() { d.Write(io.ZoneSuperblock, sector+1, buf, func() {}) }, "not a multiple of sector size"},
		{"read misaligned length", func() { d.Read(io.ZoneSuperblock, 0, buf[:100], func() {}) }, "length 100 not a multiple"},
		{"write misaligned length", func() { d.Write(io.ZoneSuperblock, 0, make([]byte, sector+8), func() {}) }, "not a multiple"},
		{"empty", func() { d.Write(io.ZoneSuperblock, 0, nil, func() {}) }, "empty"},
		{"past end", func() { d.Write(io.ZoneSuperblock, size, buf, func() {}) }, "out of zone"},
		{"straddles end", func() { d.Read(io.ZoneSuperblock, size-sector, make([]byte, 2*sector), func() {}) }, "out of zone"},
		{"overflow", func() { d.Read(io.ZoneSuperblock, ^uint64(0)-sector+1, buf, func() {}) }, "out of zone"},
		{"bad zone", func() { d.Write(io.ZoneCount, 0, buf, func() {}) }, "invalid zone"},
		{"peek past end", func() { d.Peek(io.ZoneSuperblock, size-1, buf[:2]) }, "out of zone"},
		{"bad probability", func() { d.SetOptions(Options{CrashFaultProbability: 1.5}) }, "CrashFaultProbability"},
		{"bad zone size", func() {
			z := zoneSizes()
			z[io.ZoneGrid]++
			New(fixed, rand.New(rand.NewPCG(1, 2)), &sched.Scheduler{}, sector, z)
		}, "not a multiple of sector size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, c.msg) {
					t.Fatalf("panic %q does not mention %q", msg, c.msg)
				}
			}()
			c.fn()
		})
	}
	if st := d.Stats(); st.Reads != 0 || st.Writes != 0 || d.PendingWrites() != 0 {
		t.Fatalf("rejected IOs were counted or queued: %+v", st)
	}
}

func TestNoAllocsPerIO(t *testing.T) {
	d, s := newDisk(Options{ReadLatencyMinNs: 10, ReadLatencyMeanNs: 100, WriteLatencyMinNs: 10, WriteLatencyMeanNs: 100}, 5)
	data := fill(4096, 9)
	buf := make([]byte, 4096)
	done := func() {}
	now := uint64(0)
	cycle := func() {
		d.Write(io.ZoneWALPrepares, 8192, data, done)
		d.Read(io.ZoneWALPrepares, 8192, buf, done)
		now += 1 << 20
		s.RunUntil(now)
	}
	cycle() // warm up: chunk, ops, scheduler heap
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Fatalf("%v allocations per write+read", n)
	}
}

func BenchmarkWriteRead(b *testing.B) {
	d, s := newDisk(Options{ReadLatencyMinNs: 10, ReadLatencyMeanNs: 100, WriteLatencyMinNs: 10, WriteLatencyMeanNs: 100}, 5)
	data := fill(4096, 9)
	buf := make([]byte, 4096)
	done := func() {}
	now := uint64(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		off := uint64(i%512) * 4096
		d.Write(io.ZoneWALPrepares, off, data, done)
		d.Read(io.ZoneWALPrepares, off, buf, done)
		now += 1 << 20
		s.RunUntil(now)
	}
}

// A paused disk's process sees nothing: completions wait, in order, with
// writes still undurable, until Resume delivers them from a scheduler event.
func TestPauseHoldsCompletionsInOrder(t *testing.T) {
	d, s := newDisk(Options{ReadLatencyMinNs: 10, ReadLatencyMeanNs: 500, WriteLatencyMinNs: 10, WriteLatencyMeanNs: 500}, 9)
	var order []int
	d.Pause()
	for i := range 20 {
		d.Write(io.ZoneWALPrepares, uint64(i)*sector, fill(sector, byte(i+1)), func() { order = append(order, i) })
	}
	buf := make([]byte, sector)
	d.Read(io.ZoneWALPrepares, 0, buf, func() { order = append(order, 100) })
	s.RunUntil(1 << 30)
	if len(order) != 0 || d.Held() != 21 || d.PendingWrites() != 20 || d.PendingReads() != 1 {
		t.Fatalf("while paused: %d callbacks, %d held, %d writes and %d reads pending", len(order), d.Held(), d.PendingWrites(), d.PendingReads())
	}
	peek := make([]byte, sector)
	d.Peek(io.ZoneWALPrepares, 0, peek)
	if !bytes.Equal(peek, make([]byte, sector)) {
		t.Fatal("a held write is durable before its completion is delivered")
	}
	// The order the device completed them in: the time order their events
	// fired in, which a fresh disk with the same seed and no pause shows.
	d2, s2 := newDisk(Options{ReadLatencyMinNs: 10, ReadLatencyMeanNs: 500, WriteLatencyMinNs: 10, WriteLatencyMeanNs: 500}, 9)
	var want []int
	for i := range 20 {
		d2.Write(io.ZoneWALPrepares, uint64(i)*sector, fill(sector, byte(i+1)), func() { want = append(want, i) })
	}
	d2.Read(io.ZoneWALPrepares, 0, make([]byte, sector), func() { want = append(want, 100) })
	s2.RunUntil(1 << 30)

	d.Resume()
	if len(order) != 0 {
		t.Fatal("Resume delivered completions synchronously")
	}
	s.RunUntil(s.Now() + 1)
	if !slices.Equal(order, want) {
		t.Fatalf("held completions delivered as %v, want %v", order, want)
	}
	if d.Held() != 0 || d.PendingWrites() != 0 || d.PendingReads() != 0 {
		t.Fatal("completions left over after Resume")
	}
	// The read copies at its delivery: it sees the write to its sector iff
	// that write was delivered first.
	if wrote := slices.Index(want, 0) < slices.Index(want, 100); (buf[0] == 1) != wrote {
		t.Fatalf("held read saw %d; write delivered before it: %v", buf[0], wrote)
	}
}

// A crash while paused loses the held completions as a crash loses pending
// IO, and the restarted process's disk is not paused.
func TestCrashWhilePausedLosesHeld(t *testing.T) {
	d, s := newDisk(Options{ReadLatencyMinNs: 10, WriteLatencyMinNs: 100}, 3)
	ran := 0
	d.Pause()
	d.Write(io.ZoneWALPrepares, 0, fill(sector, 7), func() { ran++ })
	s.RunUntil(1000)
	if d.Held() != 1 {
		t.Fatalf("held %d, want 1", d.Held())
	}
	d.Crash()
	if d.Paused() || d.Held() != 0 || d.Stats().WritesLost+d.Stats().WritesTorn != 1 {
		t.Fatalf("after crash: paused %v, held %d, stats %+v", d.Paused(), d.Held(), d.Stats())
	}
	d.Write(io.ZoneWALPrepares, sector, fill(sector, 8), func() { ran++ })
	s.RunUntil(1 << 20)
	d.Resume()
	s.RunUntil(1 << 21)
	if ran != 1 {
		t.Fatalf("%d callbacks ran, want only the write issued after the crash", ran)
	}
}

// Heal lands a write torn at a crash whole (the replica may have read the
// part that landed as valid and acknowledged it), but in the superblock
// makes it a write lost (the old bytes back); Wipe leaves a disk that reads
// zeros everywhere.
func TestHealAndWipe(t *testing.T) {
	d, s := newDisk(Options{WriteLatencyMinNs: 100, CrashFaultProbability: 1}, 3)
	old, want := fill(4*sector, 0x11), fill(4*sector, 0x22)
	got := make([]byte, 4*sector)
	for _, z := range []io.Zone{io.ZoneWALPrepares, io.ZoneSuperblock} {
		d.Write(z, 0, old, func() {})
		s.RunUntil(s.Now() + 1000)
		d.Write(z, 0, want, func() {})
		d.Crash()
		s.RunUntil(s.Now() + 1000)
		if d.Peek(z, 0, got); bytes.Equal(got, old) || bytes.Equal(got, want) || !d.Damaged() {
			t.Fatalf("zone %v: the crash tore nothing", z)
		}
		d.Heal()
		healed := want
		if z == io.ZoneSuperblock {
			healed = old
		}
		if d.Peek(z, 0, got); !bytes.Equal(got, healed) || d.Damaged() {
			t.Fatalf("zone %v: heal did not land the bytes it should", z)
		}
	}
	d.Wipe()
	if d.Peek(io.ZoneWALPrepares, 0, got); !bytes.Equal(got, make([]byte, len(got))) {
		t.Fatal("a wiped disk reads data")
	}
}
