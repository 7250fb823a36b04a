package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	rio "viewstamp/replica/io"
	"viewstamp/replica/io/os/disk"
	"viewstamp/replica/io/os/loop"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

func newFormatCmd() *cobra.Command {
	var (
		cluster      string
		replica      uint8
		replicaCount uint8
		ioFlag       string
	)
	cmd := &cobra.Command{
		Use:   "format --cluster ID --replica I --replica-count N [--io=uring|sync] FILE",
		Short: "Create a new data file for one replica (never overwrites an existing one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseU128(cluster)
			if err != nil {
				return fmt.Errorf("--cluster: %w", err)
			}
			if replicaCount < 1 || replicaCount > vsr.ReplicasMax {
				return fmt.Errorf("--replica-count %d outside 1..%d", replicaCount, vsr.ReplicasMax)
			}
			if replica >= replicaCount {
				return fmt.Errorf("--replica %d outside a cluster of %d (0..%d)", replica, replicaCount, replicaCount-1)
			}
			backend, err := disk.ParseBackend(ioFlag)
			if err != nil {
				return err
			}
			if err := formatFile(args[0], id, replica, replicaCount, backend); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: formatted replica %d of %d in cluster %s\n", args[0], replica, replicaCount, formatU128(id))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cluster, "cluster", "", "cluster id, an unsigned 128-bit number shared by every replica and client (required)")
	f.Uint8Var(&replica, "replica", 0, "this replica's index, 0..replica-count-1 (required)")
	f.Uint8Var(&replicaCount, "replica-count", 0, "replicas in the cluster, 1..6 (required)")
	f.StringVar(&ioFlag, "io", "uring", "how the data file is written: uring (io_uring) or sync (pread/pwrite)")
	for _, name := range []string{"cluster", "replica", "replica-count"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// formatFile creates path and writes a fresh superblock and WAL root into
// it. The file starts with the zones before the grid; the grid grows.
func formatFile(path string, cluster u128.U128, replica, replicaCount uint8, backend disk.Backend) (err error) {
	cfg := productionConfig(replicaCount)
	if err := cfg.Validate(); err != nil {
		return err
	}
	layout := cfg.Layout()
	if err := disk.Create(path, layout.Zones[rio.ZoneGrid].Offset); err != nil {
		return err
	}
	// A file that was created but not formatted would be refused by the
	// next format and by start alike: remove it.
	defer func() {
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	l := loop.New()
	stop := make(chan struct{})
	var fatal error
	d, err := disk.Open(path, layout, disk.Options{Backend: backend, Loop: l, Fatal: func(err error) {
		if fatal == nil {
			fatal = err
			close(stop)
		}
	}})
	if err != nil {
		return err
	}
	l.Post(func() {
		vsr.Format(cfg, cluster, replica, d, func() {
			if fatal == nil {
				close(stop)
			}
		})
	})
	l.Run(tick, func() {}, stop)
	return errors.Join(fatal, d.Close())
}
