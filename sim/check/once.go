package check

import (
	"fmt"

	"viewstamp/replica/u128"
)

// Once is the exactly-once checker: no (client, request number) may appear
// twice in the committed history. The register is request 0. Without it a
// request executed twice would pass every other checker, since all replicas
// execute the same duplicate and the client takes only one reply.
//
// One repeat is legal: a client whose register committed but whose reply
// never reached it retries the register, and if its session was evicted in
// between, the retry opens a new session. It could not have sent anything
// else under the old one, since requests follow the register's reply.
type Once struct {
	ops map[u128.U128][]uint64 // client → op of each request number (0: not committed)
}

func NewOnce() *Once { return &Once{ops: map[u128.U128][]uint64{}} }

// Commit checks one op as it enters the committed history. live is whether
// the client held a session just before this op, by the session model.
func (o *Once) Commit(op uint64, client u128.U128, request uint32, live bool) error {
	if client.IsZero() {
		return nil // the state machine's own operations
	}
	ops := o.ops[client]
	if int(request) < len(ops) && ops[request] != 0 && (request != 0 || live) {
		what := ""
		if request == 0 {
			what = " (its session was still live: a register opens a second session only after the first is evicted)"
		}
		return fmt.Errorf("client %v request %d executed twice: committed at op %d and again at op %d%s", client, request, ops[request], op, what)
	}
	for int(request) >= len(ops) {
		ops = append(ops, 0)
	}
	ops[request] = op
	o.ops[client] = ops
	return nil
}
