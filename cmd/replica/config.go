package main

import (
	"fmt"
	"math/big"
	"time"

	"viewstamp/replica/io/os/bus"
	"viewstamp/replica/ledger"
	"viewstamp/replica/storage/lsm"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

// The production configuration is compiled in, as TigerBeetle's is: every
// replica of a cluster must run the same one, and a data file does not
// record it. It is TigerBeetle's production configuration
// (vsr.ProductionConfig: 4 KiB sectors, 1 MiB messages, 64 clients, a
// pipeline of 8, a bar of 32 ops, its timeouts and 10 ms tick) with two
// sizes cut to keep a replica modest on a small machine (gridBlockSize,
// journalSlotCount below). The data file starts at the zones before the
// grid, fallocated; the grid grows with the data, up to its
// ProductionGridBlockCount blocks (2 TiB of 64 KiB blocks).
const (
	tick = 10 * time.Millisecond
	// gridBlockSize is 64 KiB rather than TigerBeetle's 512 KiB: the
	// forest has no block cache yet and reads whole blocks, up to two per
	// level for each id a batch looks up, so the block size multiplies
	// the bytes every op reads.
	gridBlockSize = 64 << 10
	// journalSlotCount is 256 WAL slots rather than 1024: a checkpoint
	// every 192 ops instead of 960, a data file of 321 MiB before the grid
	// instead of 1.07 GiB, and at most 256 MiB of prepares held in memory.
	// The cost: a replica more than about 192 ops behind its peers'
	// WALs catches up by state sync rather than WAL repair.
	journalSlotCount = 256
	// accountCacheObjects is the forest's accounts cache: 128 Ki accounts
	// of 128 bytes, a multiple of the cache's ways.
	accountCacheObjects = 128 << 10
)

// productionConfig is the configuration of a cluster of replicaCount.
func productionConfig(replicaCount uint8) vsr.Config {
	c := vsr.ProductionConfig(replicaCount)
	c.BlockSize = gridBlockSize
	c.JournalSlotCount = journalSlotCount
	return c
}

// newLedger is the replica's state machine: the ledger in the LSM forest
// on its grid, TigerBeetle's production forest shape.
func newLedger(cfg vsr.Config) *ledger.ForestMachine {
	shape := lsm.ProductionForest
	shape.CompactionOps = int(cfg.CompactionOps)
	return ledger.NewForestMachine(int(cfg.MessageSizeMax), ledger.Bugs{},
		ledger.ForestConfig{Shape: shape, AccountCacheObjects: accountCacheObjects})
}

// parseU128 reads a decimal (or 0x-prefixed hexadecimal) 128-bit number,
// the way cluster ids are written on TigerBeetle's command line.
func parseU128(s string) (u128.U128, error) {
	n, ok := new(big.Int).SetString(s, 0)
	if !ok || n.Sign() < 0 || n.BitLen() > 128 {
		return u128.U128{}, fmt.Errorf("%q is not an unsigned 128-bit number", s)
	}
	lo := new(big.Int).And(n, new(big.Int).SetUint64(^uint64(0)))
	hi := new(big.Int).Rsh(n, 64)
	return u128.U128{Lo: lo.Uint64(), Hi: hi.Uint64()}, nil
}

// formatU128 prints a cluster id in decimal, as it was given.
func formatU128(v u128.U128) string {
	n := new(big.Int).SetUint64(v.Hi)
	n.Lsh(n, 64)
	n.Or(n, new(big.Int).SetUint64(v.Lo))
	return n.String()
}

// clusterFlags reads the --cluster and --addresses of a command that
// connects to a cluster as a client.
func clusterFlags(cluster, addresses string) (u128.U128, []string, error) {
	id, err := parseU128(cluster)
	if err != nil {
		return u128.U128{}, nil, fmt.Errorf("--cluster: %w", err)
	}
	addrs, err := bus.ParseAddresses(addresses)
	if err != nil {
		return u128.U128{}, nil, fmt.Errorf("--addresses: %w", err)
	}
	return id, addrs, nil
}
