package main

import (
	"fmt"
	"slices"

	"viewstamp/replica/ledger"
	"viewstamp/replica/vsr"
	"viewstamp/sim"
)

// bugs are the planted bugs --plant-bug can select, so that the regression
// corpus can hold seeds proving the checkers still catch them: protocol bugs
// for the state checker, ledger bugs (in every replica alike, so the replicas
// agree) for the auditor.
var bugs = map[string]func(*sim.Config){
	"replication-quorum-too-small": protocolBug(vsr.Bugs{ReplicationQuorumTooSmall: true}),
	"ack-before-durable":           protocolBug(vsr.Bugs{AckBeforeDurable: true}),
	"ledger-skip-debit-limit":      func(c *sim.Config) { c.LedgerBugs = ledger.Bugs{SkipDebitLimit: true} },
	"ledger-skip-chain-rollback":   func(c *sim.Config) { c.LedgerBugs = ledger.Bugs{SkipChainRollback: true} },
}

func protocolBug(b vsr.Bugs) func(*sim.Config) {
	return func(c *sim.Config) { c.Mutate = func(v *vsr.Config) { v.Bugs = b } }
}

func bugNames() []string {
	var names []string
	for name := range bugs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func plantedBug(name string) (func(*sim.Config), error) {
	b, ok := bugs[name]
	if !ok {
		return nil, fmt.Errorf("%w: --plant-bug %q: want one of %v", errUsage, name, bugNames())
	}
	return b, nil
}
