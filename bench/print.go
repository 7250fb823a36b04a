package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// Print writes the summary `replica benchmark` shows.
func (r *Result) Print(w io.Writer) {
	c := r.Config
	dist := "uniform"
	if c.Zipf {
		dist = fmt.Sprintf("zipf s=%g", c.ZipfExponent)
	}
	clients := "clients"
	if r.Clients == 1 {
		clients = "client"
	}
	fmt.Fprintf(w, "%d accounts, %d transfers in %d batches of up to %d from %d %s (%s, seed %d)\n",
		c.AccountCount, c.TransferCount, r.Batches, c.BatchSize, r.Clients, clients, dist, c.Seed)
	fmt.Fprintf(w, "load accepted in %.2f s: %.0f transfers/s\n", r.Elapsed.Seconds(), r.TransfersPerSecond)
	fmt.Fprintf(w, "batch latency p50 %s, p99 %s, max %s\n", ms(r.LatencyP50), ms(r.LatencyP99), ms(r.LatencyMax))
	fmt.Fprintf(w, "transfers created %d", r.Created)
	for _, name := range slices.Sorted(maps.Keys(r.Failed)) {
		fmt.Fprintf(w, ", %s %d", name, r.Failed[name])
	}
	fmt.Fprintln(w)
	if r.MismatchCount == 0 {
		fmt.Fprintf(w, "balances verified for %d accounts: ok\n", r.Verified)
		return
	}
	fmt.Fprintf(w, "balances verified for %d accounts: %d MISMATCHES\n", r.Verified, r.MismatchCount)
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "  %s\n", m)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
