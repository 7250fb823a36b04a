package tcp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"viewstamp/replica/ledger"
	"viewstamp/replica/multibatch"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

var testCluster = u128.U128{Lo: 42}

// fakeReplica is a one-replica cluster that speaks just enough of the
// session protocol over TCP: it answers register with a session, and each
// request with answer(request) unless drop says to stay silent (so the
// client must retransmit). It records the requests it saw.
type fakeReplica struct {
	t      *testing.T
	ln     net.Listener
	answer func(m *vsr.Message) *vsr.Message
	mu     sync.Mutex
	seen   []*vsr.Message
	drops  int // requests still to ignore
	wg     sync.WaitGroup
}

func newFake(t *testing.T, answer func(m *vsr.Message) *vsr.Message) *fakeReplica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeReplica{t: t, ln: ln, answer: answer}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeReplica) addr() string { return f.ln.Addr().String() }

func (f *fakeReplica) serve(nc net.Conn) {
	defer func() { _ = nc.Close() }()
	r := bufio.NewReader(nc)
	hdr := make([]byte, vsr.HeaderSize)
	session := uint64(0)
	for {
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		var h vsr.Header
		if err := vsr.DecodeHeader(hdr, &h); err != nil {
			f.t.Errorf("fake replica: bad header: %v", err)
			return
		}
		frame := make([]byte, h.Size)
		copy(frame, hdr)
		if _, err := io.ReadFull(r, frame[vsr.HeaderSize:]); err != nil {
			return
		}
		m, err := vsr.Decode(frame, testCluster, DefaultMessageSizeMax)
		if err != nil {
			f.t.Errorf("fake replica: bad frame: %v", err)
			return
		}
		if m.Header.Command != vsr.CommandRequest {
			continue
		}
		f.mu.Lock()
		drop := f.drops > 0
		if drop {
			f.drops--
		}
		if !drop {
			f.seen = append(f.seen, m)
		}
		f.mu.Unlock()
		if drop {
			continue
		}
		var out *vsr.Message
		if m.Header.Operation == vsr.OperationRegister {
			session++
			result := make([]byte, vsr.RegisterResultSize)
			binary.LittleEndian.PutUint32(result, uint32(DefaultMessageSizeMax-vsr.HeaderSize))
			out = reply(m, result)
			out.Header.Op, out.Header.Commit = session, session
		} else {
			out = f.answer(m)
		}
		if out == nil {
			continue
		}
		if _, err := nc.Write(out.Encode()); err != nil {
			return
		}
	}
}

func reply(req *vsr.Message, body []byte) *vsr.Message {
	return &vsr.Message{Header: vsr.Header{
		Command: vsr.CommandReply, Cluster: testCluster, Client: req.Header.Client, Ref: req.Header.Checksum,
		Context: u128.U128{Lo: req.Header.Checksum.Lo ^ 1}, Request: req.Header.Request, Operation: req.Header.Operation, Op: 10,
		Commit: 10, Timestamp: 1, Release: req.Header.Release,
	}, Body: body}
}

// createOK answers create_* with one "created" result per event, one
// result batch per request batch.
func createOK(m *vsr.Message) *vsr.Message {
	req, err := multibatch.Decode(m.Body, ledger.TransferSize)
	if err != nil {
		panic(fmt.Sprintf("fake replica: request body: %v", err))
	}
	enc := multibatch.NewEncoder(nil, ledger.ResultSize)
	at := 0
	_ = req.Batches(func(_ int, batch []byte) error {
		n := len(batch) / ledger.TransferSize
		body := make([]byte, n*ledger.ResultSize)
		for i := range n {
			le := body[i*ledger.ResultSize:]
			le[0] = byte(at) // the event's index in the request, as its timestamp, to check the split
			le[8], le[9], le[10], le[11] = 0xff, 0xff, 0xff, 0xff
			at++
		}
		enc.Add(body)
		return nil
	})
	return reply(m, enc.Finish())
}

func transfers(n int, firstID uint64, flags uint16) []byte {
	b := make([]byte, n*ledger.TransferSize)
	for i := range n {
		t := ledger.Transfer{ID: u128.From64(firstID + uint64(i)), DebitAccountID: u128.From64(1), CreditAccountID: u128.From64(2),
			Amount: u128.From64(1), Ledger: 1, Code: 1}
		if i == n-1 {
			t.Flags = flags
		}
		t.Encode(b[i*ledger.TransferSize:])
	}
	return b
}

func dialFake(t *testing.T, f *fakeReplica, opts Options) *Client {
	t.Helper()
	opts.RequestTicks = 5
	c, err := Dial(testCluster, []string{f.addr()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestSubmitRetriesUntilReply(t *testing.T) {
	f := newFake(t, createOK)
	f.drops = 2 // the register and its first retransmission go unanswered
	c := dialFake(t, f, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := c.Submit(ctx, vsr.Operation(ledger.OpCreateTransfers), transfers(3, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*ledger.ResultSize || ledger.DecodeResult(got[2*ledger.ResultSize:]).Status != ledger.StatusCreated {
		t.Fatalf("reply %x", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) != 2 || f.seen[0].Header.Operation != vsr.OperationRegister || f.seen[1].Header.Request != 1 {
		t.Fatalf("the replica saw %d requests", len(f.seen))
	}
}

// newHoldingFake answers creates, but holds request 1 unanswered until
// release is closed, so that calls queue behind it.
func newHoldingFake(t *testing.T) (*fakeReplica, chan struct{}) {
	release := make(chan struct{})
	var once sync.Once
	return newFake(t, func(m *vsr.Message) *vsr.Message {
		if m.Header.Request == 1 {
			once.Do(func() { <-release })
		}
		return createOK(m)
	}), release
}

// TestConcurrentCallsBatch holds the first request unanswered until
// several callers queue behind it, then checks they shared one request and
// each got its own events' results.
func TestConcurrentCallsBatch(t *testing.T) {
	f, release := newHoldingFake(t)
	c := dialFake(t, f, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const callers = 5
	var wg sync.WaitGroup
	results := make([][]byte, callers+1)
	errs := make([]error, callers+1)
	wg.Go(func() {
		results[0], errs[0] = c.Submit(ctx, vsr.Operation(ledger.OpCreateTransfers), transfers(1, 100, 0))
	})
	// Wait until the first request is at the replica, then queue the rest.
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.seen) == 2 })
	for i := 1; i <= callers; i++ {
		wg.Go(func() {
			results[i], errs[i] = c.Submit(ctx, vsr.Operation(ledger.OpCreateTransfers), transfers(i, uint64(i)*1000, 0))
		})
	}
	time.Sleep(100 * time.Millisecond) // let them reach the driver's queue
	close(release)
	wg.Wait()
	for i := range callers + 1 {
		n := max(i, 1)
		if errs[i] != nil || len(results[i]) != n*ledger.ResultSize {
			t.Fatalf("caller %d: %d bytes, %v", i, len(results[i]), errs[i])
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Retransmissions of the held request repeat its number.
	distinct := map[uint32]bool{}
	for _, m := range f.seen {
		distinct[m.Header.Request] = true
	}
	if len(distinct) != 3 {
		t.Fatalf("%d requests reached the replica, want register, the first call, and one batch of the other %d", len(distinct), callers)
	}
	// Each caller's results are its own events': the fake stamps each
	// result with the event's index in the request, so a caller's results
	// are a run of consecutive indexes, and the runs of all callers tile
	// the batch (callers reach the queue in any order).
	covered := make([]bool, callers*(callers+1)/2)
	for i := 1; i <= callers; i++ {
		start := int(results[i][0])
		for e := range i {
			at := int(results[i][e*ledger.ResultSize])
			if at != start+e || at >= len(covered) || covered[at] {
				t.Fatalf("caller %d event %d: result of batch event %d", i, e, at)
			}
			covered[at] = true
		}
	}
}

// TestCallsOfAnyKindShareRequests: calls a single-batch body could not
// merge - a chain left open, imported events, scans - share a request as
// batches of their own.
func TestCallsOfAnyKindShareRequests(t *testing.T) {
	f, release := newHoldingFake(t)
	c := dialFake(t, f, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = c.Submit(ctx, vsr.Operation(ledger.OpCreateTransfers), transfers(1, 1, 0)) })
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.seen) == 2 })
	bodies := [][]byte{transfers(2, 10, ledger.TransferLinked), transfers(2, 20, ledger.TransferImported), nil, transfers(1, 30, 0)}
	got := make([][]byte, len(bodies))
	for i, b := range bodies {
		wg.Go(func() {
			var err error
			if got[i], err = c.Submit(ctx, vsr.Operation(ledger.OpCreateTransfers), b); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, func() bool { return len(c.submits) == 0 })
	time.Sleep(50 * time.Millisecond) // let the driver queue them
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if len(got[i]) != len(b)/ledger.TransferSize*ledger.ResultSize {
			t.Fatalf("call %d: %d result bytes for %d events", i, len(got[i]), len(b)/ledger.TransferSize)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	last := f.seen[len(f.seen)-1]
	req, err := multibatch.Decode(last.Body, ledger.TransferSize)
	if err != nil || req.Count() != len(bodies) || last.Header.Request != 2 {
		t.Fatalf("request %d: %d batches (%v), want every queued call in one request", last.Header.Request, req.Count(), err)
	}
}

func TestSplitReply(t *testing.T) {
	op := vsr.Operation(ledger.OpLookupAccounts)
	batch := []*call{{op: op, results: 3}, {op: op, results: 2}, {op: op, results: 1}}
	obj := func(v ...uint64) []byte {
		b := make([]byte, len(v)*ledger.AccountSize)
		for i, x := range v {
			u128.From64(x).Put(b[i*ledger.AccountSize:])
		}
		return b
	}
	parts, err := splitReply(batch, multibatch.Encode(ledger.AccountSize, obj(1, 3), nil, obj(6)))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]uint64{{1, 3}, {}, {6}}
	for i, p := range parts {
		if len(p) != len(want[i])*ledger.AccountSize {
			t.Fatalf("call %d: %d bytes, want objects %v", i, len(p), want[i])
		}
		for j, id := range want[i] {
			if u128.Get(p[j*ledger.AccountSize:]) != u128.From64(id) {
				t.Fatalf("call %d object %d is not %d", i, j, id)
			}
		}
	}
	for name, body := range map[string][]byte{
		"two batches":      multibatch.Encode(ledger.AccountSize, obj(1), obj(2)),
		"too many results": multibatch.Encode(ledger.AccountSize, obj(1), obj(2), obj(3, 4)),
		"malformed":        obj(1),
	} {
		if _, err := splitReply(batch, body); err == nil {
			t.Errorf("%s: a reply a TigerBeetle client aborts on was accepted", name)
		}
	}
}

func TestEvictionFailsTheSession(t *testing.T) {
	f := newFake(t, func(m *vsr.Message) *vsr.Message {
		return &vsr.Message{Header: vsr.Header{Command: vsr.CommandEviction, Cluster: testCluster, Client: m.Header.Client, Reason: vsr.EvictionNoSession}}
	})
	c := dialFake(t, f, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Submit(ctx, vsr.Operation(ledger.OpCreateTransfers), transfers(1, 1, 0))
	var ev *EvictedError
	if !errors.As(err, &ev) || ev.Reason != vsr.EvictionNoSession || !errors.Is(err, ErrEvicted) {
		t.Fatalf("err %v, want an eviction for no_session", err)
	}
	if _, err := c.Submit(ctx, vsr.Operation(ledger.OpLookupAccounts), make([]byte, ledger.IDSize)); !errors.Is(err, ErrEvicted) {
		t.Fatalf("after the eviction: %v", err)
	}
}

func TestTimeoutAndClose(t *testing.T) {
	f := newFake(t, func(*vsr.Message) *vsr.Message { return nil }) // never answers
	c := dialFake(t, f, Options{Timeout: 200 * time.Millisecond})
	_, err := c.Submit(context.Background(), vsr.Operation(ledger.OpLookupAccounts), make([]byte, ledger.IDSize))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the Options.Timeout deadline", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Submit(context.Background(), vsr.Operation(ledger.OpLookupAccounts), make([]byte, ledger.IDSize))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_ = c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Submit")
	}
	if _, err := c.Submit(context.Background(), vsr.Operation(ledger.OpLookupAccounts), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
}

func TestInvalidBodiesRefusedLocally(t *testing.T) {
	c := &Client{opts: Options{MessageSizeMax: DefaultMessageSizeMax}, batchMax: ledger.BatchMaxFor(DefaultMessageSizeMax, vsr.HeaderSize)}
	for _, tc := range []struct {
		op   uint8
		size int
	}{
		{ledger.OpCreateTransfers, 127},
		{ledger.OpCreateAccounts, (c.batchMax + 1) * ledger.AccountSize},
		{ledger.OpLookupTransfers, 17},
		{ledger.OpGetAccountTransfers, ledger.AccountFilterSize + 1},
		{ledger.OpQueryAccounts, 0},
		{ledger.OpPulse, 0},
		{uint8(vsr.OperationRegister), 0},
	} {
		if _, err := c.check(vsr.Operation(tc.op), make([]byte, tc.size)); !errors.Is(err, ErrInvalidBody) {
			t.Errorf("%s with %d bytes: %v, want ErrInvalidBody", ledger.OperationName(tc.op), tc.size, err)
		}
	}
	if n, err := c.check(vsr.Operation(ledger.OpCreateTransfers), make([]byte, 3*ledger.TransferSize)); err != nil || n != 3 {
		t.Fatalf("3 transfers: %d, %v", n, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
