package bus

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"viewstamp/replica/vsr"
)

// benchWindow messages are in flight at most, below sendQueuePeerMax so the
// sender never overflows the queue and no message is lost to a drop.
const benchWindow = sendQueuePeerMax / 2

// BenchmarkTwoBuses streams messages from replica 0 to replica 1 over
// loopback; onMessage runs on an event-loop goroutine as in production.
// Reports messages/s and MB/s (b.SetBytes).
func BenchmarkTwoBuses(b *testing.B) {
	for _, size := range []int{vsr.HeaderSize, 4 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchTwoBuses(b, size) })
	}
}

func benchTwoBuses(b *testing.B, size int) {
	const sizeMax = 1 << 20
	window := make(chan struct{}, benchWindow)
	var loopMu sync.Mutex
	var fns []func()
	wake := make(chan struct{}, 1)
	stop := make(chan struct{})
	post := func(fn func()) {
		loopMu.Lock()
		fns = append(fns, fn)
		loopMu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	var loopDone sync.WaitGroup
	loopDone.Add(1)
	go func() {
		defer loopDone.Done()
		for {
			select {
			case <-wake:
			case <-stop:
				return
			}
			loopMu.Lock()
			run := fns
			fns = nil
			loopMu.Unlock()
			for _, fn := range run {
				fn()
			}
		}
	}()

	l0, l1 := listen(b, "127.0.0.1:0"), listen(b, "127.0.0.1:0")
	addrs := []string{l0.Addr().String(), l1.Addr().String()}
	newBus := func(i uint8, ln net.Listener, on func([]byte)) *Bus {
		bus, err := New(Config{Cluster: testCluster, Replica: i, Addresses: addrs, MessageSizeMax: sizeMax,
			Post: post, OnMessage: on, Listener: ln})
		if err != nil {
			b.Fatal(err)
		}
		bus.Start()
		return bus
	}
	from := newBus(0, l0, func([]byte) {})
	to := newBus(1, l1, func([]byte) { <-window })
	defer func() {
		_ = from.Close()
		_ = to.Close()
		close(stop)
		loopDone.Wait()
	}()
	waitFor(b, "the buses connected", func() bool { return from.Connected(1) && to.Connected(0) })
	msg := prepare(0, 1, size-vsr.HeaderSize)

	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		window <- struct{}{}
		from.SendToReplica(1, msg)
	}
	for range benchWindow {
		window <- struct{}{} // every message delivered
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if s := from.Stats(); s.DropQueueFull+s.DropNoConnection != 0 {
		b.Fatalf("drops in a paced stream: %+v", s)
	}
}
