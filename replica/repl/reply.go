package repl

import (
	"fmt"
	"strings"

	"viewstamp/replica/ledger"
	"viewstamp/replica/vsr"
)

// FormatReply prints a reply body for op, one record a line: create results
// as `{ index=0 status=created timestamp=... }` (every event, by index, with
// its status name), accounts, transfers and balances with every field. An
// empty object list prints as a line saying so, so that a lookup that found
// nothing is not mistaken for a hang.
func FormatReply(op vsr.Operation, body []byte) (string, error) {
	o, ok := operationOf(op)
	if !ok {
		return "", fmt.Errorf("operation %d is not a statement", op)
	}
	size, what := ledger.AccountSize, "accounts"
	switch op {
	case vsr.Operation(ledger.OpCreateAccounts), vsr.Operation(ledger.OpCreateTransfers):
		size, what = ledger.ResultSize, "results"
	case vsr.Operation(ledger.OpLookupTransfers), vsr.Operation(ledger.OpGetAccountTransfers),
		vsr.Operation(ledger.OpQueryTransfers):
		size, what = ledger.TransferSize, "transfers"
	case vsr.Operation(ledger.OpGetAccountBalances):
		size, what = ledger.BalanceSize, "balances"
	}
	if len(body)%size != 0 {
		return "", fmt.Errorf("%s: reply of %d bytes is not whole %d-byte %s", o.name, len(body), size, what)
	}
	if len(body) == 0 {
		return fmt.Sprintf("no %s\n", what), nil
	}
	var b strings.Builder
	for i := 0; i < len(body)/size; i++ {
		rec := body[i*size:]
		switch op {
		case vsr.Operation(ledger.OpCreateAccounts), vsr.Operation(ledger.OpCreateTransfers):
			r := ledger.DecodeResult(rec)
			name := ledger.AccountStatusName(r.Status)
			if op == vsr.Operation(ledger.OpCreateTransfers) {
				name = ledger.TransferStatusName(r.Status)
			}
			if name == "unknown" {
				name = formatU64(uint64(r.Status))
			}
			fmt.Fprintf(&b, "{ index=%d status=%s timestamp=%d }", i, name, r.Timestamp)
		case vsr.Operation(ledger.OpLookupAccounts), vsr.Operation(ledger.OpQueryAccounts):
			a := ledger.DecodeAccount(rec)
			b.WriteString(formatRecord(accountFields, &a))
		case vsr.Operation(ledger.OpGetAccountBalances):
			ab := ledger.DecodeBalance(rec)
			b.WriteString(formatRecord(balanceFields, &ab))
		default:
			t := ledger.DecodeTransfer(rec)
			b.WriteString(formatRecord(transferFields, &t))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
