package bench

import (
	"context"
	"fmt"
	"sync"

	"viewstamp/replica/ledger"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// InProcess is the ledger state machine alone behind a lock, executing each
// request as a replica commits it: no network, no replication, no disk. Run
// against it, the benchmark shows the ceiling the state machine puts on any
// cluster, and tests run the driver without a network.
type InProcess struct {
	mu sync.Mutex
	m  *ledger.Machine
	ts uint64
	op uint64
}

// NewInProcess returns an empty in-memory ledger taking messages of up to
// messageSizeMax bytes.
func NewInProcess(messageSizeMax int) *InProcess {
	return &InProcess{m: ledger.NewMachine(messageSizeMax, ledger.Bugs{})}
}

// Submit sends one batch as a request of its own, checks it as a primary
// would and commits it at the next timestamps: one for the op and one per
// event, as prepares advance. It returns the batch's results.
func (p *InProcess) Submit(_ context.Context, op vsr.Operation, batch []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	body := ledger.EncodeBatch(uint8(op), batch)
	if reason := p.m.Check(op, body); reason != 0 {
		return nil, fmt.Errorf("request refused: eviction reason %d", reason)
	}
	p.op++
	p.ts += 1 + p.m.EventCount(op, body)
	return ledger.DecodeBatch(uint8(op), p.m.Commit(u128.Zero, p.op, p.ts, op, body))
}
