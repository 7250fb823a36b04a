package disk

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	rio "viewstamp/replica/io"
	"viewstamp/replica/storage"
)

// Benchmark sizes: 4 KiB IOs over a 64 MiB grid, at queue depths of one (a
// lone WAL write's latency) and 32 (the grid's IOPS limit in production).
const (
	benchBlockCount = 16384
	benchPrefill    = 1 << 20
)

var benchDepths = []int{1, 32}

func benchLayout() storage.Layout {
	c := storage.SimulatorConfig()
	c.GridBlockCount = benchBlockCount
	return storage.MustLayout(c)
}

// BenchmarkRandom4K measures 4 KiB random writes (durable at done) and
// reads per backend. The grid is written once beforehand: a first write to
// a fallocated extent also converts it, several times slower, which is not
// the steady state.
func BenchmarkRandom4K(b *testing.B) {
	for _, be := range backends {
		for _, write := range []bool{true, false} {
			for _, depth := range benchDepths {
				kind := "read"
				if write {
					kind = "write"
				}
				b.Run(fmt.Sprintf("%v/%s/qd%d", be, kind, depth), func(b *testing.B) {
					benchRandom(b, be, write, depth)
				})
			}
		}
	}
}

func benchRandom(b *testing.B, be Backend, write bool, depth int) {
	l := benchLayout()
	h := newDisk(b, be, l, l.Size)
	grid := l.Zones[rio.ZoneGrid].Size
	fill := make([]byte, benchPrefill)
	var ios []io
	for off := uint64(0); off < grid; off += benchPrefill {
		ios = append(ios, io{rio.ZoneGrid, off, fill})
	}
	h.run(true, ios)

	rng := rand.New(rand.NewPCG(1, 2))
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, l.BlockSize)
	}
	finished := make(chan struct{})
	issued, completed := 0, 0
	// One done per buffer, bound once: the benchmark itself allocates
	// nothing per IO, so allocs/op are the Disk's.
	dones := make([]func(), depth)
	issue := func(i int) {
		issued++
		off := l.BlockOffset(rng.Uint64N(l.GridBlockCount) + 1)
		if write {
			h.disk.Write(rio.ZoneGrid, off, bufs[i], dones[i])
		} else {
			h.disk.Read(rio.ZoneGrid, off, bufs[i], dones[i])
		}
	}
	for i := range dones {
		dones[i] = func() {
			completed++
			if completed == b.N {
				close(finished)
			} else if issued < b.N {
				issue(i)
			}
		}
	}
	b.SetBytes(int64(l.BlockSize))
	b.ReportAllocs()
	b.ResetTimer()
	h.loop.Post(func() {
		for i := range min(depth, b.N) {
			issue(i)
		}
	})
	<-finished
	b.StopTimer()
}

// BenchmarkBaseline4K is the speed of light for BenchmarkRandom4K in the
// same process: pread/pwrite of 4 KiB at random offsets of the same kind of
// file (O_DIRECT|O_DSYNC), one at a time from the benchmark goroutine, with
// no loop, no Disk and no hand-off between goroutines.
func BenchmarkBaseline4K(b *testing.B) {
	for _, write := range []bool{true, false} {
		name := "read"
		if write {
			name = "write"
		}
		b.Run(name, func(b *testing.B) {
			l := benchLayout()
			path := filepath.Join(dataDir(b), "replica.data")
			if err := Create(path, l.Size); err != nil {
				b.Fatal(err)
			}
			fd, err := unix.Open(path, unix.O_RDWR|unix.O_DIRECT|unix.O_DSYNC|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = unix.Close(fd) }()
			var p pool
			defer p.release()
			fill := p.get(benchPrefill)
			defer p.put(fill)
			grid := l.Zones[rio.ZoneGrid]
			for off := uint64(0); off < grid.Size; off += benchPrefill {
				if _, err := unix.Pwrite(fd, fill, int64(grid.Offset+off)); err != nil {
					b.Fatal(err)
				}
			}
			buf := p.get(int(l.BlockSize))
			defer p.put(buf)
			rng := rand.New(rand.NewPCG(1, 2))
			b.SetBytes(int64(l.BlockSize))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				off := int64(grid.Offset + l.BlockOffset(rng.Uint64N(l.GridBlockCount)+1))
				if write {
					_, err = unix.Pwrite(fd, buf, off)
				} else {
					_, err = unix.Pread(fd, buf, off)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
