package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

const testMessageSizeMax = 1 << 20

func clientsOf(s Submit, n int) []Submit {
	out := make([]Submit, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// ledgerTotals reads the ledger back through its own queries: every
// account's balances and how many transfers it holds.
func ledgerTotals(t *testing.T, p *InProcess) (accounts []ledger.Account, transfers int) {
	t.Helper()
	q := ledger.QueryFilter{Ledger: DefaultLedger, Limit: DefaultBatchSize}
	body := make([]byte, ledger.QueryFilterSize)
	q.Encode(body)
	reply, err := p.Submit(context.Background(), vsr.Operation(ledger.OpQueryAccounts), body)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(reply); off += ledger.AccountSize {
		accounts = append(accounts, ledger.DecodeAccount(reply[off:]))
	}
	reply, err = p.Submit(context.Background(), vsr.Operation(ledger.OpQueryTransfers), body)
	if err != nil {
		t.Fatal(err)
	}
	return accounts, len(reply) / ledger.TransferSize
}

func TestRunInProcess(t *testing.T) {
	p := NewInProcess(testMessageSizeMax)
	cfg := Config{AccountCount: 50, TransferCount: 5_000, BatchSize: 64, Seed: 7}
	res, err := Run(context.Background(), cfg, clientsOf(p.Submit, 3))
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 5_000 || len(res.Failed) != 0 || res.Batches != 79 || res.Clients != 3 {
		t.Errorf("created %d, failed %v, %d batches, %d clients", res.Created, res.Failed, res.Batches, res.Clients)
	}
	if res.Verified != 50 || res.MismatchCount != 0 {
		t.Errorf("verified %d, %d mismatches", res.Verified, res.MismatchCount)
	}
	if res.LatencyP50 <= 0 || res.LatencyP50 > res.LatencyP99 || res.LatencyP99 > res.LatencyMax || res.TransfersPerSecond <= 0 {
		t.Errorf("latency p50 %v p99 %v max %v, %f/s", res.LatencyP50, res.LatencyP99, res.LatencyMax, res.TransfersPerSecond)
	}
	accounts, transfers := ledgerTotals(t, p)
	if len(accounts) != 50 || transfers != 5_000 {
		t.Fatalf("the ledger holds %d accounts and %d transfers", len(accounts), transfers)
	}
	var debits, credits uint64
	for _, a := range accounts {
		debits += a.DebitsPosted.Lo
		credits += a.CreditsPosted.Lo
		if a.ID.Hi != idHi(7) {
			t.Errorf("account id %v lacks the seed's high word", a.ID)
		}
	}
	if debits != credits || debits < 5_000 || debits > 5_000*amountMax {
		t.Errorf("debits %d, credits %d", debits, credits)
	}
	var out bytes.Buffer
	res.Print(&out)
	for _, want := range []string{"50 accounts, 5000 transfers in 79 batches of up to 64 from 3 clients (uniform, seed 7)",
		"transfers/s", "batch latency p50", "transfers created 5000\n", "balances verified for 50 accounts: ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// The load is a function of the seed: one client or four, the ledger ends
// with the same balances.
func TestSameSeedSameBalances(t *testing.T) {
	balances := func(clients int, zipf bool) map[u128.U128][2]uint64 {
		p := NewInProcess(testMessageSizeMax)
		cfg := Config{AccountCount: 40, TransferCount: 3_000, BatchSize: 100, Seed: 3, Zipf: zipf}
		if _, err := Run(context.Background(), cfg, clientsOf(p.Submit, clients)); err != nil {
			t.Fatal(err)
		}
		accounts, _ := ledgerTotals(t, p)
		out := map[u128.U128][2]uint64{}
		for _, a := range accounts {
			out[a.ID] = [2]uint64{a.DebitsPosted.Lo, a.CreditsPosted.Lo}
		}
		return out
	}
	for _, zipf := range []bool{false, true} {
		one, four := balances(1, zipf), balances(4, zipf)
		if fmt.Sprint(one) != fmt.Sprint(four) {
			t.Errorf("zipf %v: one client and four end with different balances", zipf)
		}
	}
}

func TestZipfSkews(t *testing.T) {
	hottest := func(zipf bool) float64 {
		p := NewInProcess(testMessageSizeMax)
		cfg := Config{AccountCount: 50, TransferCount: 10_000, BatchSize: 1_000, Seed: 11, Zipf: zipf}
		if _, err := Run(context.Background(), cfg, clientsOf(p.Submit, 2)); err != nil {
			t.Fatal(err)
		}
		accounts, _ := ledgerTotals(t, p)
		var total, top uint64
		for _, a := range accounts {
			v := a.DebitsPosted.Lo + a.CreditsPosted.Lo
			total += v
			top = max(top, v)
		}
		return float64(top) / (float64(total) / float64(len(accounts)))
	}
	if u := hottest(false); u > 2 {
		t.Errorf("uniform: the hottest account has %.1fx the average", u)
	}
	if z := hottest(true); z < 5 {
		t.Errorf("zipf: the hottest account has only %.1fx the average", z)
	}
}

// dropper loses one transfer of one batch yet reports it created, as a
// cluster that acknowledged and then lost a write would.
type dropper struct {
	p         *InProcess
	batch     int // which create_transfers batch
	event     int // which event of it
	seen      atomic.Int32
	dropped   ledger.Transfer
	droppedOK atomic.Bool
}

func (d *dropper) submit(ctx context.Context, op vsr.Operation, body []byte) ([]byte, error) {
	if op != vsr.Operation(ledger.OpCreateTransfers) || int(d.seen.Add(1))-1 != d.batch {
		return d.p.Submit(ctx, op, body)
	}
	at := d.event * ledger.TransferSize
	d.dropped = ledger.DecodeTransfer(body[at:])
	d.droppedOK.Store(true)
	short := append(append([]byte(nil), body[:at]...), body[at+ledger.TransferSize:]...)
	reply, err := d.p.Submit(ctx, op, short)
	if err != nil {
		return nil, err
	}
	fake := make([]byte, ledger.ResultSize)
	for i := 8; i < 12; i++ {
		fake[i] = 0xff // created
	}
	at = d.event * ledger.ResultSize
	return append(append(append([]byte(nil), reply[:at]...), fake...), reply[at:]...), nil
}

func TestVerificationCatchesALostTransfer(t *testing.T) {
	d := &dropper{p: NewInProcess(testMessageSizeMax), batch: 2, event: 7}
	cfg := Config{AccountCount: 30, TransferCount: 1_000, BatchSize: 50, Seed: 5}
	res, err := Run(context.Background(), cfg, clientsOf(d.submit, 2))
	if !errors.Is(err, ErrVerify) {
		t.Fatalf("error %v, want ErrVerify", err)
	}
	if !d.droppedOK.Load() || res.Created != 1_000 {
		t.Fatalf("dropped %v, created %d", d.droppedOK.Load(), res.Created)
	}
	// Exactly the two sides of the lost transfer are short by its amount.
	want := map[string]Mismatch{}
	for _, m := range res.Mismatches {
		want[m.Field] = m
	}
	dm, cm := want["debits_posted"], want["credits_posted"]
	if res.MismatchCount != 2 || dm.Account != d.dropped.DebitAccountID || cm.Account != d.dropped.CreditAccountID {
		t.Fatalf("mismatches %v, dropped %+v", res.Mismatches, d.dropped)
	}
	if dm.Want.Lo-dm.Got.Lo != d.dropped.Amount.Lo || cm.Want.Lo-cm.Got.Lo != d.dropped.Amount.Lo {
		t.Errorf("mismatch amounts %v, the lost amount %d", res.Mismatches, d.dropped.Amount.Lo)
	}
	var out bytes.Buffer
	res.Print(&out)
	if !strings.Contains(out.String(), "2 MISMATCHES") {
		t.Errorf("summary:\n%s", out.String())
	}
}

func TestFailureStopsTheRun(t *testing.T) {
	p := NewInProcess(testMessageSizeMax)
	var calls atomic.Int32
	failing := func(ctx context.Context, op vsr.Operation, body []byte) ([]byte, error) {
		if calls.Add(1) == 5 {
			return nil, errors.New("connection reset")
		}
		return p.Submit(ctx, op, body)
	}
	cfg := Config{AccountCount: 10, TransferCount: 10_000, BatchSize: 10, Seed: 1}
	_, err := Run(context.Background(), cfg, clientsOf(failing, 3))
	if err == nil || err.Error() != "create_transfers: connection reset" {
		t.Fatalf("error %v", err)
	}
	// The other clients stop at their next batch, far short of the 1,000.
	if n := calls.Load(); n > 10 {
		t.Errorf("%d requests after the failure", n)
	}
}

func TestSeedsShareACluster(t *testing.T) {
	p := NewInProcess(testMessageSizeMax)
	cfg := Config{AccountCount: 10, TransferCount: 100, BatchSize: 10, Seed: 1}
	if _, err := Run(context.Background(), cfg, clientsOf(p.Submit, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), cfg, clientsOf(p.Submit, 1)); err == nil || !strings.Contains(err.Error(), "use another seed") {
		t.Errorf("the same seed twice: %v", err)
	}
	cfg.Seed = 2
	if res, err := Run(context.Background(), cfg, clientsOf(p.Submit, 1)); err != nil || res.MismatchCount != 0 {
		t.Errorf("another seed on the same cluster: %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i))
	}
	if percentile(d, 50) != 100 || percentile(d, 99) != 198 || percentile(d[:1], 99) != 1 || percentile(nil, 50) != 0 {
		t.Errorf("p50 %d p99 %d", percentile(d, 50), percentile(d, 99))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{AccountCount: 1}, {Zipf: true, ZipfExponent: 0.99}, {BatchSize: -1}, {SampleSize: -1}} {
		if _, err := Run(context.Background(), cfg, clientsOf(NewInProcess(testMessageSizeMax).Submit, 1)); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
