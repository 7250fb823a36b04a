package main

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	rio "viewstamp/replica/io"
	"viewstamp/replica/io/os/bus"
	"viewstamp/replica/io/os/clock"
	"viewstamp/replica/io/os/disk"
	"viewstamp/replica/io/os/loop"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

func newStartCmd() *cobra.Command {
	var (
		addresses string
		ioFlag    string
		verbose   bool
		// development is TigerBeetle's --development as far as clients
		// see it: a 32 KiB request size limit, batch_size_limit 32,512.
		development bool
	)
	cmd := &cobra.Command{
		Use:   "start --addresses A,B,C [--io=uring|sync] FILE",
		Short: "Run the replica whose data file is FILE (its cluster and index come from the file)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addrs, err := bus.ParseAddresses(addresses)
			if err != nil {
				return fmt.Errorf("--addresses: %w", err)
			}
			backend, err := disk.ParseBackend(ioFlag)
			if err != nil {
				return err
			}
			logger := log.New(cmd.ErrOrStderr(), "", log.LstdFlags|log.Lmicroseconds|log.LUTC)
			return start(args[0], addrs, backend, verbose, development, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addresses, "addresses", "", "every replica's address, in replica order: host:port, a bare port or a bare host (required)")
	f.StringVar(&ioFlag, "io", "uring", "how the data file is read and written: uring (io_uring) or sync (pread/pwrite)")
	f.BoolVar(&verbose, "verbose", false, "also log the replica's protocol events and the bus's connections")
	f.BoolVar(&development, "development", false, "TigerBeetle's development request size limit: 32 KiB requests (batch_size_limit 32,512); every replica of a cluster must agree")
	_ = cmd.MarkFlagRequired("addresses")
	return cmd
}

// start runs one replica until SIGTERM or SIGINT. Every callback of the
// replica, the bus and the disk runs on the loop, on this goroutine.
func start(path string, addrs []string, backend disk.Backend, verbose, development bool, logger *log.Logger) error {
	// SIGUSR1 logs the replica's state, for an operator looking at a
	// replica that seems stuck. Its default action ends the process, so it
	// is caught before anything else: one sent while the replica opens is
	// answered once it runs.
	debug := make(chan os.Signal, 1)
	signal.Notify(debug, syscall.SIGUSR1)
	defer signal.Stop(debug)
	fh, err := readFileHeader(path)
	if err != nil {
		return err
	}
	sb := fh.best
	index, count := sb.State.Replica, sb.ReplicaCount
	if len(addrs) != int(count) {
		return fmt.Errorf("%s is replica %d of a cluster of %d, but --addresses names %d", path, index, count, len(addrs))
	}
	cfg := productionConfig(count)
	if development {
		cfg.RequestSizeLimit = vsr.RequestSizeLimitDevelopment
	}
	l := loop.New()
	d, err := disk.Open(path, cfg.Layout(), disk.Options{Backend: backend, Loop: l, Fatal: func(err error) {
		// Nothing unwritten may be acknowledged: stop at once. The writes
		// that completed are durable (O_DSYNC), so exiting loses nothing.
		logger.Printf("replica %d: fatal: %v", index, err)
		os.Exit(2)
	}})
	if err != nil {
		return err
	}

	zs := &zoneStats{d: d}
	prefix := fmt.Sprintf("replica %d: ", index)
	obs := &observer{log: logger, prefix: prefix, replica: index, count: count, verbose: verbose}
	var rep *vsr.Replica
	bcfg := bus.Config{
		Cluster: sb.Cluster, Replica: index, Addresses: addrs, MessageSizeMax: cfg.MessageSizeMax,
		Post: l.Post, OnMessage: func(b []byte) { rep.OnMessage(b) },
	}
	if verbose {
		bcfg.Logf = logger.Printf
	}
	b, err := bus.New(bcfg)
	if err != nil {
		return errors.Join(err, closeDisk(l, d))
	}
	rep, err = vsr.New(vsr.Options{
		Config: cfg, Cluster: sb.Cluster, Replica: index, Time: &clock.Clock{},
		Network: b, Storage: zs, SM: newLedger(cfg), Seed: randomSeed(), Observer: obs,
	})
	if err != nil {
		return errors.Join(err, b.Close(), closeDisk(l, d))
	}

	stop := make(chan struct{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	go func() {
		s := <-signals
		logger.Printf("%s%v: stopping", prefix, s)
		close(stop)
	}()

	go func() {
		for {
			select {
			case <-debug:
				l.Post(func() {
					logger.Printf("%sdebug: %s disk %+v zones %s bus %+v", prefix, rep.Debug(), d.Stats(), zs, b.Stats())
				})
			case <-stop:
				return
			}
		}
	}()

	logger.Printf("%sstarting: cluster %s, %d replicas, listening on %s, io=%s, data file %s",
		prefix, formatU128(sb.Cluster), count, b.Addr(), d.Backend(), path)
	l.Post(rep.Open)
	b.Start()
	l.Run(tick, rep.Tick, stop)
	// The loop has stopped: nothing more reaches the replica. The bus goes
	// first so that no reader waits on a loop that will not run again.
	err = errors.Join(b.Close(), d.Close())
	logger.Printf("%sstopped: status %s, view %d, op %d, commit %d, checkpoint %d",
		prefix, rep.Status(), rep.View(), rep.Op(), rep.CommitMin(), rep.DurableCheckpoint())
	return err
}

// closeDisk closes d on a loop goroutine run for it, as Close requires.
func closeDisk(l *loop.Loop, d *disk.Disk) error {
	var err error
	stop := make(chan struct{})
	l.Post(func() {
		err = d.Close()
		close(stop)
	})
	l.Run(tick, func() {}, stop)
	return err
}

// randomSeed seeds the replica's timeout jitter: replicas of a real
// cluster must not jitter in step.
func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// observer logs one line per change of status, view or checkpoint.
type observer struct {
	log     *log.Logger
	prefix  string
	replica uint8
	count   uint8
	verbose bool
}

func (o *observer) Committed(uint8, *vsr.Header, []byte, []byte, u128.U128) {}
func (o *observer) HeaderDropped(uint8, uint64, u128.U128, uint32)          {}
func (o *observer) OwnJoinView(uint8, []byte)                               {}

func (o *observer) StatusChanged(_ uint8, status vsr.Status, view uint32) {
	role := "backup"
	if uint8(view%uint32(o.count)) == o.replica {
		role = "primary"
	}
	o.log.Printf("%sstatus %s, view %d (%s)", o.prefix, status, view, role)
}

func (o *observer) Opened(_ uint8, op uint64, state u128.U128, synced bool) {
	how := "opened"
	if synced {
		how = "state synced to"
	}
	o.log.Printf("%s%s checkpoint %d, state %s", o.prefix, how, op, state)
}

func (o *observer) Checkpointed(_ uint8, op uint64, id u128.U128) {
	o.log.Printf("%scheckpoint %d durable, id %s", o.prefix, op, id)
}

func (o *observer) Logf(_ uint8, format string, args ...any) {
	if o.verbose {
		o.log.Printf(o.prefix+format, args...)
	}
}

// zoneStats counts the replica's IO by zone, for the SIGUSR1 debug line.
// It runs on the loop, as the Disk's callers and callbacks do.
type zoneStats struct {
	d                           *disk.Disk
	reads, writes               [rio.ZoneCount]uint64
	readsPending, writesPending [rio.ZoneCount]int
}

func (z *zoneStats) Read(zone rio.Zone, off uint64, buf []byte, done func()) {
	z.reads[zone]++
	z.readsPending[zone]++
	z.d.Read(zone, off, buf, func() {
		z.readsPending[zone]--
		done()
	})
}

func (z *zoneStats) Write(zone rio.Zone, off uint64, buf []byte, done func()) {
	z.writes[zone]++
	z.writesPending[zone]++
	z.d.Write(zone, off, buf, func() {
		z.writesPending[zone]--
		done()
	})
}

func (z *zoneStats) String() string {
	var sb strings.Builder
	for zone := range rio.ZoneCount {
		fmt.Fprintf(&sb, "%s{r=%d/%d w=%d/%d} ", zone, z.reads[zone], z.readsPending[zone], z.writes[zone], z.writesPending[zone])
	}
	return sb.String()
}
