package main

import (
	"errors"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"viewstamp/bench"
	"viewstamp/replica/client/tcp"
)

func newBenchmarkCmd() *cobra.Command {
	var (
		cluster, addresses string
		cfg                bench.Config
		clients            int
		inProcess          bool
	)
	cmd := &cobra.Command{
		Use:   "benchmark --addresses A,B,C [--transfer-count N] [--batch-size 8189] [--account-count A] [--clients C] [--zipf]",
		Short: "Create accounts, send transfers from several clients, print transfers/s and batch latency, verify balances",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("seed") {
				cfg.Seed = uint64(time.Now().UnixNano()) // ids carry the seed: a rerun needs a new one
			}
			submits := make([]bench.Submit, clients)
			if inProcess {
				p := bench.NewInProcess(tcp.DefaultMessageSizeMax)
				for i := range submits {
					submits[i] = p.Submit
				}
			} else {
				id, addrs, err := clusterFlags(cluster, addresses)
				if err != nil {
					return err
				}
				// One session per client: a shared session would batch the
				// clients' requests into one and measure a single client.
				for i := range submits {
					c, err := tcp.Dial(id, addrs, tcp.Options{})
					if err != nil {
						return err
					}
					defer c.Close()
					submits[i] = c.Submit
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			res, err := bench.Run(ctx, cfg, submits)
			if err == nil || errors.Is(err, bench.ErrVerify) {
				res.Print(cmd.OutOrStdout())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cluster, "cluster", "0", "the cluster id")
	f.StringVar(&addresses, "addresses", "", "every replica's address, in replica order")
	f.IntVar(&cfg.AccountCount, "account-count", bench.DefaultAccountCount, "accounts to create")
	f.IntVar(&cfg.TransferCount, "transfer-count", bench.DefaultTransferCount, "transfers to send")
	f.IntVar(&cfg.BatchSize, "batch-size", bench.DefaultBatchSize, "transfers per request")
	f.IntVar(&clients, "clients", 1, "concurrent client sessions")
	f.BoolVar(&cfg.Zipf, "zipf", false, "draw accounts from a Zipf distribution instead of uniformly")
	f.Float64Var(&cfg.ZipfExponent, "zipf-exponent", bench.DefaultZipfExponent, "the Zipf exponent, above 1")
	f.Uint64Var(&cfg.Seed, "seed", 0, "fixes ids, accounts and amounts (default: from the clock)")
	f.IntVar(&cfg.SampleSize, "verify-sample", bench.DefaultSampleSize, "accounts whose balances are checked at the end")
	f.BoolVar(&inProcess, "in-process", false, "run the ledger in this process, no cluster: the state machine's ceiling")
	cmd.MarkFlagsOneRequired("addresses", "in-process")
	return cmd
}
