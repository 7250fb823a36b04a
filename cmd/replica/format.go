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

// dataFileFlags are the flags format and recover share: who the new data
// file is for, and how it is written.
type dataFileFlags struct {
	cluster      string
	replica      uint8
	replicaCount uint8
	io           string
}

func (f *dataFileFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.cluster, "cluster", "", "cluster id, an unsigned 128-bit number shared by every replica and client (required)")
	fl.Uint8Var(&f.replica, "replica", 0, "this replica's index, 0..replica-count-1 (required)")
	fl.Uint8Var(&f.replicaCount, "replica-count", 0, "replicas in the cluster, 1..6 (required)")
	fl.StringVar(&f.io, "io", "uring", "how the data file is written: uring (io_uring) or sync (pread/pwrite)")
	for _, name := range []string{"cluster", "replica", "replica-count"} {
		_ = cmd.MarkFlagRequired(name)
	}
}

// parse checks the flags and returns the cluster id and the IO backend.
func (f *dataFileFlags) parse() (u128.U128, disk.Backend, error) {
	id, err := parseU128(f.cluster)
	if err != nil {
		return id, 0, fmt.Errorf("--cluster: %w", err)
	}
	if f.replicaCount < 1 || f.replicaCount > vsr.ReplicasMax {
		return id, 0, fmt.Errorf("--replica-count %d outside 1..%d", f.replicaCount, vsr.ReplicasMax)
	}
	if f.replica >= f.replicaCount {
		return id, 0, fmt.Errorf("--replica %d outside a cluster of %d (0..%d)", f.replica, f.replicaCount, f.replicaCount-1)
	}
	backend, err := disk.ParseBackend(f.io)
	return id, backend, err
}

func newFormatCmd() *cobra.Command {
	var f dataFileFlags
	cmd := &cobra.Command{
		Use:   "format --cluster ID --replica I --replica-count N [--io=uring|sync] FILE",
		Short: "Create a new data file for one replica (never overwrites an existing one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, backend, err := f.parse()
			if err != nil {
				return err
			}
			if err := formatFile(args[0], id, f.replica, f.replicaCount, backend, false); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: formatted replica %d of %d in cluster %s\n", args[0], f.replica, f.replicaCount, formatU128(id))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// recoverReplicasMin is the smallest cluster a replica can be recovered
// into: a reformatted replica learns its view from a view-change quorum of
// its peers, and with fewer than three replicas the peers left cannot
// form one (a one-replica cluster that lost its data file lost the data).
const recoverReplicasMin = 3

func newRecoverCmd() *cobra.Command {
	var f dataFileFlags
	cmd := &cobra.Command{
		Use:   "recover --cluster ID --replica I --replica-count N [--io=uring|sync] FILE",
		Short: "Create a data file for a replica whose old one was lost (a disk replaced); it rejoins from its peers",
		Long: `recover creates a new data file for a replica of a running cluster whose
data file was lost or destroyed, for instance when its disk was replaced.
Unlike format, the file is marked reformatted: on start, the replica takes
no part in view changes, votes for nothing and acknowledges nothing until it
has learned the cluster's current view from a view-change quorum of its
peers and caught up, because whatever its lost file had promised is gone.
Never use format for this: a replica formatted afresh into a running cluster
may vote as though it had never acknowledged anything, and lose committed
transfers. The cluster must have at least 3 replicas, and a view-change
quorum of them must be reachable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, backend, err := f.parse()
			if err != nil {
				return err
			}
			if f.replicaCount < recoverReplicasMin {
				return fmt.Errorf("--replica-count %d: a replica can be recovered only in a cluster of %d or more replicas (its peers must form a view-change quorum without it)", f.replicaCount, recoverReplicasMin)
			}
			if err := formatFile(args[0], id, f.replica, f.replicaCount, backend, true); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: recovered replica %d of %d in cluster %s: start it to rejoin from its peers\n", args[0], f.replica, f.replicaCount, formatU128(id))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// formatFile creates path and writes a fresh superblock and WAL root into
// it, marked reformatted for recover. The file starts with the zones
// before the grid; the grid grows.
func formatFile(path string, cluster u128.U128, replica, replicaCount uint8, backend disk.Backend, reformatted bool) (err error) {
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
		write := vsr.Format
		if reformatted {
			write = vsr.Reformat
		}
		write(cfg, cluster, replica, d, func() {
			if fatal == nil {
				close(stop)
			}
		})
	})
	l.Run(tick, func() {}, stop)
	return errors.Join(fatal, d.Close())
}
