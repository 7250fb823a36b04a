package ledger

import "testing"

// An imported post is judged at its own timestamp, not at the slot the
// cluster gave the event: a nanosecond before the pending transfer's
// deadline it posts (and reports its own timestamp), on the deadline it has
// expired (and reports its slot's, like every failure). The workload's
// deadline events found the ledger judging at the slot.
func TestImportedPostAtDeadline(t *testing.T) {
	for _, c := range []struct {
		name   string
		offset int64 // the post's timestamp minus the deadline
		want   uint32
	}{
		{"before", -1, StatusCreated},
		{"on", 0, TransferPendingTransferExpired},
		{"after", 1, TransferPendingTransferExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, next := fixture(t)
			created := next(1)
			r := l.Execute(OpCreateTransfers, created, transfersBody(Transfer{
				ID: id(20), DebitAccountID: id(2), CreditAccountID: id(1), Amount: id(7),
				Ledger: 1, Code: 1, Flags: TransferPending, Timeout: 1,
			}))
			if s := statuses(r); s[0] != StatusCreated {
				t.Fatalf("pending transfer: %v", s)
			}
			deadline := created + 1e9
			at := uint64(int64(deadline) + c.offset)
			slot := deadline + 1e6 // the cluster's clock is past the deadline; no pulse ran
			r = l.Execute(OpCreateTransfers, slot, transfersBody(Transfer{
				ID: id(21), PendingID: id(20), Flags: TransferPostPending | TransferImported, Timestamp: at,
			}))
			res := DecodeResult(r)
			if res.Status != c.want {
				t.Fatalf("imported post at deadline%+d: status %d, want %d", c.offset, res.Status, c.want)
			}
			wantTS := slot
			if c.want == StatusCreated {
				wantTS = at
			}
			if res.Timestamp != wantTS {
				t.Fatalf("imported post at deadline%+d: result timestamp %d, want %d", c.offset, res.Timestamp, wantTS)
			}
		})
	}
}
