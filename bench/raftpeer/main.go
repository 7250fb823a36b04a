package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"viewstamp/bench"
)

// leaderTimeout bounds the first election.
const leaderTimeout = 30 * time.Second

func main() {
	var (
		cfg     bench.Config
		nodes   int
		clients int
		dir     string
	)
	flag.IntVar(&nodes, "nodes", 3, "raft nodes")
	flag.IntVar(&cfg.AccountCount, "account-count", bench.DefaultAccountCount, "accounts to create")
	flag.IntVar(&cfg.TransferCount, "transfer-count", bench.DefaultTransferCount, "transfers to send")
	flag.IntVar(&cfg.BatchSize, "batch-size", bench.DefaultBatchSize, "transfers per request")
	flag.IntVar(&clients, "clients", 1, "concurrent clients")
	flag.BoolVar(&cfg.Zipf, "zipf", false, "draw accounts from a Zipf distribution")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "fixes ids, accounts and amounts")
	flag.StringVar(&dir, "dir", "", "directory for the nodes' log files (default: a new one under the system's temporary directory)")
	flag.Parse()
	if err := run(cfg, nodes, clients, dir); err != nil {
		fmt.Fprintln(os.Stderr, "raftpeer:", err)
		os.Exit(1)
	}
}

func run(cfg bench.Config, nodes, clients int, dir string) error {
	if nodes < 1 || clients < 1 {
		return fmt.Errorf("--nodes and --clients must be at least 1")
	}
	d, err := os.MkdirTemp(dir, "raftpeer-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(d) }()
	dir = d
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err == nil && (fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC) {
		fmt.Fprintf(os.Stderr, "raftpeer: warning: %s is in memory (tmpfs): fdatasync costs nothing there, use --dir on a disk\n", dir)
	}
	c, err := newCluster(nodes, dir)
	if err != nil {
		return err
	}
	defer c.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	lctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	leader, err := c.leader(lctx)
	cancel()
	if err != nil {
		return err
	}
	submits := make([]bench.Submit, clients)
	for i := range submits {
		submits[i] = leader.Submit
	}
	res, err := bench.Run(ctx, cfg, submits)
	fmt.Printf("etcd raft v3.7.0 ledger, %d nodes, log fdatasync'd per Ready\n", nodes)
	res.Print(os.Stdout)
	fmt.Printf("leader: %d fdatasyncs for %d entries applied; load average %s\n", leader.fsyncs, leader.entries, loadAverage())
	return err
}

// loadAverage is /proc/loadavg's first three fields: the machine is shared,
// so every figure is printed beside its load.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
