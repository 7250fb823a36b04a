// Command replica is the production replica: one member of a Viewstamp
// cluster on a real data file (io_uring or pread/pwrite, O_DIRECT|O_DSYNC),
// real sockets (the TCP message bus) and the OS clock, driven by one event
// loop. Its commands follow TigerBeetle's:
//
//	replica format --cluster 0 --replica 0 --replica-count 3 0_0.viewstamp
//	replica start --addresses 127.0.0.1:3001,127.0.0.1:3002,127.0.0.1:3003 0_0.viewstamp
//	replica inspect [--json] 0_0.viewstamp
//	replica version
//
// Each subcommand lives in its own file and is added in newRoot.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(1)
	}
}

// newRoot is the command tree. A new subcommand is one more AddCommand.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "replica",
		Short:         "A replica of a Viewstamp ledger cluster (VSR, TigerBeetle semantics)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newFormatCmd(), newRecoverCmd(), newStartCmd(), newInspectCmd(), newVersionCmd(), newReplCmd(), newBenchmarkCmd())
	return root
}
