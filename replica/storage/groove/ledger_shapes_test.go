package groove_test

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"viewstamp/replica/storage/groove"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/storage/lsm/lsmtest"
	"viewstamp/replica/u128"
)

// The ledger's grooves as the ledger's move onto the forest would declare
// them, over the wire layouts of Account and Transfer (TigerBeetle's), so
// that their sizes are known to fit the production and simulator blocks.
const (
	transferFlagPending = 1 << 1
	pendingStatusSize   = 16
	nsPerSecond         = 1_000_000_000
)

func ledgerGrooves(batchMax, cache int) []groove.Config {
	accounts := accountsConfig()
	accounts.PutsPerOpMax = 2 * batchMax // a transfer updates both its accounts
	accounts.InsertsPerOpMax = batchMax
	accounts.CacheObjects = cache
	accounts.StashMax = 4 * batchMax // a post's pending transfer names two more

	expiresAt := groove.Field{Name: "expires_at", Tree: groove.TreeTransfersExpiresAt, Width: groove.WidthU64,
		Value: func(o []byte) u128.U128 {
			timeout := binary.LittleEndian.Uint32(o[108:])
			if binary.LittleEndian.Uint16(o[118:])&transferFlagPending == 0 || timeout == 0 {
				return u128.U128{}
			}
			return u128.From64(binary.LittleEndian.Uint64(o[120:]) + uint64(timeout)*nsPerSecond)
		}}
	transfers := groove.Config{
		Descriptor: groove.Descriptor{
			Name: "transfers", ObjectSize: 128, ObjectTree: groove.TreeTransfers, IDTree: groove.TreeTransfersID,
			IDOffset: 0, TimestampOffset: 120,
			Fields: []groove.Field{
				groove.U128Field("debit_account_id", groove.TreeTransfersDebitAccountID, 16),
				groove.U128Field("credit_account_id", groove.TreeTransfersCreditAccountID, 32),
				groove.U128Field("pending_id", groove.TreeTransfersPendingID, 64),
				groove.U128Field("user_data_128", groove.TreeTransfersUserData128, 80),
				groove.U64Field("user_data_64", groove.TreeTransfersUserData64, 96),
				groove.U32Field("user_data_32", groove.TreeTransfersUserData32, 104),
				groove.U32Field("ledger", groove.TreeTransfersLedger, 112),
				groove.U16Field("code", groove.TreeTransfersCode, 116),
				expiresAt,
			},
		},
		PutsPerOpMax: batchMax, StashMax: 2 * batchMax,
	}
	status := groove.Field{Name: "status", Tree: groove.TreeTransfersPendingStatus, Width: groove.WidthU64, Mutable: true,
		Value: func(o []byte) u128.U128 { return u128.From64(uint64(o[8])) }}
	pending := groove.Config{
		Descriptor: groove.Descriptor{Name: "transfers_pending", ObjectSize: pendingStatusSize,
			ObjectTree: groove.TreeTransfersPending, Fields: []groove.Field{status}},
		PutsPerOpMax: batchMax, StashMax: 2 * batchMax,
	}
	return []groove.Config{accounts, transfers, pending}
}

// TestLedgerShapes: the ledger's grooves build under the simulator's shape
// (4 KiB blocks, 29-event batches) and the production one (512 KiB blocks,
// 8189-event batches), and in the simulator's they answer
// get_account_transfers (debit ∪ credit) as a model does.
func TestLedgerShapes(t *testing.T) {
	if _, err := groove.NewForest(lsmtest.New(512<<10-256), lsm.ProductionForest, ledgerGrooves(8189, 1<<16)); err != nil {
		t.Fatalf("production: %v", err)
	}
	const batch = 29
	grid := lsmtest.New(4<<10 - 256)
	f, err := groove.NewForest(grid, lsm.SimulatorForest, ledgerGrooves(batch, 1024))
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	e := &env{t: t, grid: grid, f: f, op: 1}
	accounts, transfers := f.Groove(0), f.Groove(1)
	const accountCount = 8
	ts := uint64(0)
	accounts.PrefetchSetup()
	var ids []u128.U128
	for i := range uint64(accountCount) {
		ids = append(ids, u128.From64(i+1))
	}
	e.g = accounts
	e.prefetch(ids, nil)
	for i := range uint64(accountCount) {
		ts++
		accounts.Insert(account2(i+1, ts))
	}
	e.beat()
	var model [accountCount + 1][]uint64 // account -> its transfers' timestamps
	e.g = transfers
	for op := 0; op < 60; op++ {
		transfers.PrefetchSetup()
		var batchIDs []u128.U128
		for k := range batch {
			batchIDs = append(batchIDs, u128.U128{Lo: uint64(op*batch + k + 1), Hi: 7})
		}
		e.prefetch(batchIDs, nil)
		for k, id := range batchIDs {
			ts++
			dr, cr := uint64(1+(op+k)%accountCount), uint64(1+(op*3+k*5+1)%accountCount)
			if dr == cr {
				cr = 1 + cr%accountCount
			}
			b := make([]byte, 128)
			id.Put(b)
			u128.From64(dr).Put(b[16:])
			u128.From64(cr).Put(b[32:])
			binary.LittleEndian.PutUint32(b[112:], 1)
			binary.LittleEndian.PutUint16(b[116:], 1)
			binary.LittleEndian.PutUint64(b[120:], ts)
			transfers.Insert(b)
			model[dr] = append(model[dr], ts)
			model[cr] = append(model[cr], ts)
		}
		e.beat()
	}
	for a := uint64(1); a <= accountCount; a++ {
		for _, reversed := range []bool{false, true} {
			s := groove.Union(transfers.Index(0, u128.From64(a)), transfers.Index(1, u128.From64(a)))
			got := e.query(s, 0, math.MaxUint64, batch, reversed)
			want := slices.Clone(model[a])
			if reversed {
				slices.Reverse(want)
			}
			want = want[:min(len(want), batch)]
			if !slices.Equal(got, want) {
				t.Fatalf("account %d reversed %v: %v, want %v", a, reversed, got, want)
			}
		}
	}
}

func account2(id, ts uint64) []byte {
	b := make([]byte, accountSize)
	u128.From64(id).Put(b)
	binary.LittleEndian.PutUint32(b[112:], 1)
	binary.LittleEndian.PutUint16(b[116:], 1)
	binary.LittleEndian.PutUint64(b[120:], ts)
	return b
}
