package main

import (
	"fmt"
	"slices"

	"viewstamp/replica/vsr"
)

// bugs are the planted protocol bugs --plant-bug can select, so that the
// regression corpus can hold seeds proving the checkers still catch them.
var bugs = map[string]vsr.Bugs{
	"replication-quorum-too-small": {ReplicationQuorumTooSmall: true},
	"ack-before-durable":           {AckBeforeDurable: true},
}

func bugNames() []string {
	var names []string
	for name := range bugs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func plantedBug(name string) (vsr.Bugs, error) {
	b, ok := bugs[name]
	if !ok {
		return vsr.Bugs{}, fmt.Errorf("%w: --plant-bug %q: want one of %v", errUsage, name, bugNames())
	}
	return b, nil
}
