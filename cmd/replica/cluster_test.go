package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"viewstamp/internal/proctest"
	"viewstamp/replica/checksum"
	"viewstamp/replica/client/tcp"
	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// The kill -9 test's shape. Rounds of (kill a backup, restart it, kill the
// primary, restart it) under load; the load runs for the whole of it.
const (
	killRounds      = 3
	killDowntime    = 700 * time.Millisecond
	killUptime      = 1500 * time.Millisecond
	clusterWorkers  = 4 // goroutines submitting transfers through one client
	transfersPerReq = 8 // each request a batch of this many
	accountCount    = 8
	testLedger      = 700
	testCode        = 10
	// testDeadline bounds the whole test (the build included), so a hung
	// cluster fails instead of holding `make test`.
	testDeadline = 3 * time.Minute
	// submitTimeout bounds one attempt of a request; a failed attempt is
	// retried with the same ids until acknowledged.
	submitTimeout = 5 * time.Second
	// settleTimeout bounds the wait for a cluster to serve after a start.
	settleTimeout = 60 * time.Second
	// stopTimeout bounds a replica's exit after SIGTERM.
	stopTimeout = 20 * time.Second
)

// TestClusterSurvivesKill9 runs three replica processes on loopback, loads
// them through the Go client while a backup, then the primary, is killed
// with SIGKILL and restarted, several times, and checks that every
// acknowledged transfer is present exactly once: every id found with its
// fields, and every account's balances equal to the sum of the
// acknowledged transfers (a lost transfer is missing, a duplicated one
// would double a balance); and that the client history (every attempt of
// every create, lookups during the load and after it) is linearizable
// under the ledger model (ledgermodel_test.go). Between the kills and the check, one replica
// is sent hostile input (hostile), which it must drop, count and survive.
func TestClusterSurvivesKill9(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	c := newTestCluster(t, ctx, 3)
	defer c.stopAll()

	cl, err := tcp.Dial(c.cluster, c.addrs, tcp.Options{RequestTicks: 20, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close() }()

	h := &history{byID: map[u128.U128]ledger.Transfer{}, rec: newLedgerRecorder()}
	h.createAccounts(t, ctx, cl)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range clusterWorkers {
		wg.Go(func() { runWorker(t, ctx, loadCtx, cl, w, h) })
	}
	wg.Go(func() { runReader(loadCtx, cl, h) })

	rounds := killRounds
	if r := os.Getenv("REPLICA_TEST_ROUNDS"); r != "" {
		rounds, _ = strconv.Atoi(r)
	}
	for round := range rounds {
		for _, who := range []string{"backup", "primary"} {
			if !sleepCtx(ctx, killUptime) {
				t.Fatal("test deadline")
			}
			primary := c.primary()
			victim := primary
			if who == "backup" {
				victim = (primary + 1 + round%2) % 3
			}
			acked := h.count()
			t.Logf("round %d: SIGKILL %s replica %d (primary is %d), %d transfers acknowledged", round, who, victim, primary, acked)
			c.kill(victim)
			if !sleepCtx(ctx, killDowntime) {
				t.Fatal("test deadline")
			}
			c.start(victim)
		}
	}
	if rounds == 0 {
		sleepCtx(ctx, 10*killUptime)
	}
	c.hostile((c.primary() + 1) % 3)
	// Let the load go on until the cluster has acknowledged more after the
	// last restart, so the restarted primary has rejoined a serving cluster.
	before := h.count()
	deadline := time.Now().Add(settleTimeout)
	for h.count() < before+clusterWorkers*transfersPerReq && time.Now().Before(deadline) {
		sleepCtx(ctx, 50*time.Millisecond)
	}
	stopLoad()
	wg.Wait()
	if t.Failed() {
		return
	}
	if h.count() <= before {
		t.Fatalf("no transfer acknowledged in the %s after the last restart (%d in all)", settleTimeout, h.count())
	}
	t.Logf("%d transfers acknowledged in %d requests; checking", h.count(), h.requests)
	verify(t, ctx, cl, h)
	checkLinearizable(t, h.rec)

	// A clean stop: SIGTERM, exit 0, and every data file still inspects.
	for i := range c.files {
		c.terminate(i)
	}
	for i := range c.files {
		out, err := exec.CommandContext(ctx, c.bin, "inspect", "--json", c.files[i]).Output()
		if err != nil {
			t.Fatalf("inspect %s: %v", c.files[i], err)
		}
		var rep Report
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("inspect --json %s: %v", c.files[i], err)
		}
		valid := 0
		for _, s := range rep.Superblock {
			if s.Valid {
				valid++
			}
		}
		if valid < 2 || rep.Replica != uint8(i) || rep.WAL.Present == 0 || rep.Grid == nil {
			t.Fatalf("inspect %s: %d valid superblock copies, replica %d, %d WAL ops, grid %v (%s)", c.files[i], valid, rep.Replica, rep.WAL.Present, rep.Grid, rep.Unopened)
		}
		t.Logf("replica %d: checkpoint %d, WAL ops %d..%d, %d grid blocks, %d sessions",
			i, rep.Superblock[0].Checkpoint, rep.WAL.OpMin, rep.WAL.OpMax, rep.Grid.BlocksAcquired, len(rep.Sessions))
	}
}

// hostile sends replica i garbage, an oversized frame and another
// cluster's message, each on its own connection, and checks that the
// replica dropped each connection, counted each frame, and lives on (the
// rest of the test then needs it, with the others, to serve).
func (c *testCluster) hostile(i int) {
	t := c.t
	t.Helper()
	garbage := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for j := range garbage {
		garbage[j] = byte(rng.Uint32())
	}
	sealed := func(edit func(b []byte)) []byte {
		h := vsr.Header{Command: vsr.CommandPingClient, Cluster: c.cluster, Client: u128.U128{Lo: 99}}
		h.Seal(nil)
		b := make([]byte, vsr.HeaderSize)
		vsr.EncodeHeader(&h, b)
		edit(b)
		checksum.Sum(b[16:]).Put(b)
		return b
	}
	oversized := sealed(func(b []byte) { binary.LittleEndian.PutUint32(b[96:], 1<<31) })
	otherCluster := sealed(func(b []byte) { u128.U128{Lo: 0xBAD}.Put(b[80:]) })
	for name, frame := range map[string][]byte{"random bytes": garbage, "an oversized frame": oversized, "another cluster's frame": otherCluster} {
		nc, err := net.DialTimeout("tcp", c.addrs[i], 5*time.Second)
		if err != nil {
			t.Fatalf("hostile: dial replica %d: %v", i, err)
		}
		_, _ = nc.Write(frame)
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		_ = nc.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("hostile: replica %d kept the connection that sent %s", i, name)
		}
	}
	if !c.procs.Running(i) {
		t.Fatalf("hostile input ended replica %d", i)
	}
	// The bus's counters, from the replica's SIGUSR1 debug line.
	c.procs.Signal(i, syscall.SIGUSR1)
	counted := regexp.MustCompile(`BadChecksum:(\d+) BadCommand:\d+ BadSize:(\d+) BadCluster:(\d+)`)
	waitLog(t, c.ctx, c.logs[i], func(line string) bool {
		m := counted.FindStringSubmatch(line)
		return m != nil && m[1] != "0" && m[2] != "0" && m[3] != "0"
	})
	t.Logf("replica %d dropped and counted random bytes, an oversized frame and another cluster's frame", i)
}

// waitLog waits until a line of the log at path satisfies match.
func waitLog(t *testing.T, ctx context.Context, path string, match func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if match(line) {
				return
			}
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			break
		}
	}
	t.Fatalf("%s: no matching line in 10 s", path)
}

// history is what the cluster acknowledged.
type history struct {
	mu       sync.Mutex
	byID     map[u128.U128]ledger.Transfer
	acked    []u128.U128 // byID's keys, in the order acknowledged
	requests int
	// rec, if set, records every attempt for the linearizability check.
	rec *ledgerRecorder
}

func (h *history) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byID)
}

func accountID(i int) u128.U128 { return u128.U128{Lo: uint64(i) + 1, Hi: 0xACC} }

func createAccounts(t *testing.T, ctx context.Context, cl *tcp.Client) {
	t.Helper()
	(&history{}).createAccounts(t, ctx, cl)
}

func (h *history) createAccounts(t *testing.T, ctx context.Context, cl *tcp.Client) {
	t.Helper()
	body := make([]byte, accountCount*ledger.AccountSize)
	sent := make([]ledger.Account, accountCount)
	for i := range accountCount {
		sent[i] = ledger.Account{ID: accountID(i), Ledger: testLedger, Code: testCode}
		sent[i].Encode(body[i*ledger.AccountSize:])
	}
	reply := h.submit(ctx, cl, body, ledgerOp{kind: opCreateAccounts, accounts: sent})
	for i := range accountCount {
		r := ledger.DecodeResult(reply[i*ledger.ResultSize:])
		if r.Status != ledger.StatusCreated && r.Status != ledger.AccountExists {
			t.Fatalf("create account %d: %s", i, ledger.AccountStatusName(r.Status))
		}
	}
}

// submit retries one request (same bytes, so same ids) until the cluster
// answers: a failed attempt may or may not have executed, and the retry's
// "exists" tells which. If h records, each attempt goes into its history:
// sent (the template op), then answered or in doubt.
func (h *history) submit(ctx context.Context, cl *tcp.Client, body []byte, op ledgerOp) []byte {
	for {
		actx, cancel := context.WithTimeout(ctx, submitTimeout)
		call := h.rec.now()
		reply, err := cl.Submit(actx, opOf[op.kind], body)
		cancel()
		if err == nil {
			h.rec.answered(op, call, reply)
			return reply
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			h.rec.inDoubt(op, call)
			return nil
		}
		h.rec.inDoubt(op, call)
	}
}

// runWorker submits batches of transfers with ids of its own until load
// ends, recording the acknowledged ones. A batch started is retried until
// acknowledged (under ctx, the test's deadline), so no batch that may have
// executed goes unrecorded.
func runWorker(t *testing.T, ctx, load context.Context, cl *tcp.Client, w int, h *history) {
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	for seq := uint64(0); load.Err() == nil; seq++ {
		batch := make([]ledger.Transfer, transfersPerReq)
		body := make([]byte, transfersPerReq*ledger.TransferSize)
		for i := range batch {
			dr := rng.IntN(accountCount)
			cr := (dr + 1 + rng.IntN(accountCount-1)) % accountCount
			batch[i] = ledger.Transfer{
				ID:             u128.U128{Lo: seq*transfersPerReq + uint64(i) + 1, Hi: uint64(w) + 1},
				DebitAccountID: accountID(dr), CreditAccountID: accountID(cr),
				Amount: u128.From64(uint64(rng.IntN(100) + 1)), Ledger: testLedger, Code: testCode,
			}
			batch[i].Encode(body[i*ledger.TransferSize:])
		}
		reply := h.submit(ctx, cl, body, ledgerOp{kind: opCreateTransfers, transfers: batch})
		if reply == nil {
			t.Errorf("worker %d: no reply to batch %d by the test's deadline", w, seq)
			return
		}
		if len(reply) != transfersPerReq*ledger.ResultSize {
			t.Errorf("worker %d: reply of %d bytes for %d transfers", w, len(reply), transfersPerReq)
			return
		}
		h.mu.Lock()
		h.requests++
		for i := range batch {
			r := ledger.DecodeResult(reply[i*ledger.ResultSize:])
			// exists: an earlier attempt of this very batch executed.
			if r.Status != ledger.StatusCreated && r.Status != ledger.TransferExists {
				t.Errorf("worker %d transfer %s: %s", w, batch[i].ID, ledger.TransferStatusName(r.Status))
				continue
			}
			if _, dup := h.byID[batch[i].ID]; dup {
				t.Errorf("worker %d: transfer %s acknowledged twice", w, batch[i].ID)
			}
			h.byID[batch[i].ID] = batch[i]
			h.acked = append(h.acked, batch[i].ID)
		}
		h.mu.Unlock()
	}
}

// verify looks every acknowledged transfer up and the accounts' balances.
func verify(t *testing.T, ctx context.Context, cl *tcp.Client, h *history) {
	ids := make([]u128.U128, 0, len(h.byID))
	for id := range h.byID {
		ids = append(ids, id)
	}
	// lookupMax ids per lookup: the forest reads up to two blocks per level
	// for each id (it has no block cache yet), so a large lookup is one
	// long op, and an op slower than the primary's abdication timeout
	// (10 s) starts a view change.
	const lookupMax = 256
	found := 0
	for at := 0; at < len(ids); at += lookupMax {
		chunk := ids[at:min(at+lookupMax, len(ids))]
		body := make([]byte, len(chunk)*ledger.IDSize)
		for i, id := range chunk {
			id.Put(body[i*ledger.IDSize:])
		}
		reply := h.submit(ctx, cl, body, ledgerOp{kind: opLookupTransfers, ids: chunk})
		if reply == nil {
			t.Fatal("lookup_transfers: no reply")
		}
		seen := map[u128.U128]bool{}
		for off := 0; off+ledger.TransferSize <= len(reply); off += ledger.TransferSize {
			got := ledger.DecodeTransfer(reply[off:])
			want, ok := h.byID[got.ID]
			if !ok || seen[got.ID] {
				t.Errorf("lookup returned transfer %s: acknowledged %v, seen before %v", got.ID, ok, seen[got.ID])
				continue
			}
			seen[got.ID] = true
			if got.DebitAccountID != want.DebitAccountID || got.CreditAccountID != want.CreditAccountID || got.Amount != want.Amount {
				t.Errorf("transfer %s: stored %+v, acknowledged %+v", got.ID, got, want)
			}
			found++
		}
		for _, id := range chunk {
			if !seen[id] {
				t.Errorf("acknowledged transfer %s is missing", id)
			}
		}
	}
	var debits, credits [accountCount]uint64
	for _, tr := range h.byID {
		debits[tr.DebitAccountID.Lo-1] += tr.Amount.Lo
		credits[tr.CreditAccountID.Lo-1] += tr.Amount.Lo
	}
	body := make([]byte, accountCount*ledger.IDSize)
	for i := range accountCount {
		accountID(i).Put(body[i*ledger.IDSize:])
	}
	reply := h.submit(ctx, cl, body, ledgerOp{kind: opLookupAccounts, ids: accountIDs()})
	if len(reply) != accountCount*ledger.AccountSize {
		t.Fatalf("lookup_accounts: %d bytes, want %d accounts", len(reply), accountCount)
	}
	for i := range accountCount {
		a := ledger.DecodeAccount(reply[i*ledger.AccountSize:])
		if a.DebitsPosted != u128.From64(debits[i]) || a.CreditsPosted != u128.From64(credits[i]) ||
			!a.DebitsPending.IsZero() || !a.CreditsPending.IsZero() {
			t.Errorf("account %d: debits posted %s credits posted %s, acknowledged history says %d and %d",
				i, a.DebitsPosted, a.CreditsPosted, debits[i], credits[i])
		}
	}
	t.Logf("all %d acknowledged transfers found; balances of %d accounts agree", found, accountCount)
}

// testCluster is a cluster of replica processes on loopback.
type testCluster struct {
	t       *testing.T
	ctx     context.Context
	bin     string
	io      string
	cluster u128.U128
	addrs   []string
	// peerAddrs, if set, is replica i's own --addresses (the partition
	// test routes each replica's dials through proxies); else addrs.
	peerAddrs [][]string
	files     []string
	logs      []string
	// logStart is, per replica, the size of its log when it was last
	// started: what it logged since is this run's.
	logStart []int64
	procs    *proctest.Procs
}

func newTestCluster(t *testing.T, ctx context.Context, n int) *testCluster {
	t.Helper()
	c := newStoppedTestCluster(t, ctx, n)
	for i := range n {
		c.start(i)
	}
	return c
}

// newStoppedTestCluster builds the binary and formats the data files of n
// replicas but starts none of them.
func newStoppedTestCluster(t *testing.T, ctx context.Context, n int) *testCluster {
	t.Helper()
	dir := directIODir(t)
	c := &testCluster{t: t, ctx: ctx, cluster: u128.U128{Lo: 0x5eed}, procs: proctest.NewProcs(n), logStart: make([]int64, n)}
	c.bin = proctest.BuildReplica(t, ctx, ".", ".", dir)
	for i := range n {
		c.addrs = append(c.addrs, proctest.FreeAddr(t))
		c.files = append(c.files, filepath.Join(dir, fmt.Sprintf("0_%d.viewstamp", i)))
		c.logs = append(c.logs, filepath.Join(dir, fmt.Sprintf("replica%d.log", i)))
	}
	c.io = c.pickIO(n)
	t.Cleanup(func() {
		if keep := os.Getenv("REPLICA_TEST_KEEP"); keep != "" {
			_ = os.MkdirAll(keep, 0o755)
			for _, l := range c.logs {
				b, _ := os.ReadFile(l)
				_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), b, 0o644)
			}
		}
		if t.Failed() {
			for _, l := range c.logs {
				b, _ := os.ReadFile(l)
				t.Logf("--- %s (tail)\n%s", l, proctest.Tail(b, 40))
			}
		}
	})
	return c
}

// pickIO formats every data file, with io_uring if the kernel allows it,
// else with pread/pwrite; it skips the test only if neither works.
func (c *testCluster) pickIO(n int) string {
	var failures []string
	backends := []string{"uring", "sync"}
	if b := os.Getenv("REPLICA_TEST_IO"); b != "" {
		backends = []string{b}
	}
	for _, io := range backends {
		ok := true
		for i := range n {
			_ = os.Remove(c.files[i])
			out, err := exec.CommandContext(c.ctx, c.bin, "format", "--cluster", formatU128(c.cluster),
				"--replica", strconv.Itoa(i), "--replica-count", strconv.Itoa(n), "--io", io, c.files[i]).CombinedOutput()
			if err != nil {
				failures = append(failures, fmt.Sprintf("--io=%s: %v: %s", io, err, bytes.TrimSpace(out)))
				ok = false
				break
			}
		}
		if ok {
			return io
		}
	}
	c.t.Skipf("neither io_uring nor pread/pwrite can format a data file here: %s", strings.Join(failures, "; "))
	return ""
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	addrs := c.addrs
	if c.peerAddrs != nil {
		addrs = c.peerAddrs[i]
	}
	args := []string{"start", "--addresses", strings.Join(addrs, ","), "--io", c.io}
	if os.Getenv("REPLICA_TEST_VERBOSE") != "" {
		args = append(args, "--verbose")
	}
	c.logStart[i] = 0
	if st, err := os.Stat(c.logs[i]); err == nil {
		c.logStart[i] = st.Size()
	}
	c.procs.Start(c.t, i, c.logs[i], c.bin, append(args, c.files[i])...)
}

// started reports whether replica i's current run has logged its
// "starting:" line: its signal handlers are installed.
func (c *testCluster) started(i int) bool {
	b, _ := os.ReadFile(c.logs[i])
	return int64(len(b)) >= c.logStart[i] && bytes.Contains(b[c.logStart[i]:], []byte(": starting: "))
}

func (c *testCluster) kill(i int) { c.procs.Kill(i) }

// terminate stops replica i with SIGTERM and requires a clean exit.
func (c *testCluster) terminate(i int) {
	c.t.Helper()
	if err := c.procs.Terminate(i, stopTimeout); err != nil {
		c.t.Fatalf("replica %d: %v", i, err)
	}
}

func (c *testCluster) stopAll() { c.procs.KillAll() }

var statusLine = regexp.MustCompile(`status (\w+), view (\d+)`)

// primary is the primary of the highest view any replica has logged.
func (c *testCluster) primary() int {
	best := -1
	for _, l := range c.logs {
		f, err := os.Open(l)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			if m := statusLine.FindStringSubmatch(s.Text()); m != nil {
				if v, _ := strconv.Atoi(m[2]); v > best {
					best = v
				}
			}
		}
		_ = f.Close()
	}
	if best < 0 {
		return 0
	}
	return best % len(c.logs)
}

// directIODir is a temporary directory on a filesystem that does O_DIRECT.
func directIODir(t *testing.T) string {
	return proctest.DirectIODir(t, filepath.Join("..", ".."), "replica-test-")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
