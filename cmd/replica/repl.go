package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"viewstamp/replica/client/tcp"
	"viewstamp/replica/repl"
)

func newReplCmd() *cobra.Command {
	var cluster, addresses, command string
	cmd := &cobra.Command{
		Use:   "repl --cluster 0 --addresses A,B,C [--command 'STATEMENTS']",
		Short: "Run TigerBeetle REPL statements against a cluster (interactive on a terminal, else standard input)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, addrs, err := clusterFlags(cluster, addresses)
			if err != nil {
				return err
			}
			c, err := tcp.Dial(id, addrs, tcp.Options{})
			if err != nil {
				return err
			}
			defer c.Close()
			s := repl.Session{In: cmd.InOrStdin(), Out: cmd.OutOrStdout(), Submit: c.Submit}
			if command != "" {
				s.In = strings.NewReader(command)
			} else if f, ok := s.In.(*os.File); ok {
				_, terr := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
				s.Interactive = terr == nil
			}
			// No signal context: Run blocks in Read, so Ctrl-C must keep killing it.
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cluster, "cluster", "0", "the cluster id")
	f.StringVar(&addresses, "addresses", "", "every replica's address, in replica order (required)")
	f.StringVar(&command, "command", "", "run these statements and exit, instead of reading standard input")
	_ = cmd.MarkFlagRequired("addresses")
	return cmd
}
