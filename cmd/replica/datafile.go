package main

import (
	"errors"
	"fmt"
	"os"

	rio "viewstamp/replica/io"
	"viewstamp/replica/vsr"
)

// copyRead is one superblock copy as read from a data file.
type copyRead struct {
	index int
	sb    vsr.SuperblockCopy
	err   error
}

// fileHeader is what a data file says about itself before a replica opens
// it: its superblock copies and the newest valid one.
type fileHeader struct {
	copies []copyRead
	best   vsr.SuperblockCopy
	size   int64
}

// readFileHeader reads and decodes the superblock copies of path with
// ordinary reads (the replica's own open repeats this through O_DIRECT). It
// refuses, with a message, a file that is no data file of this build.
func readFileHeader(path string) (fileHeader, error) {
	var fh fileHeader
	f, err := os.Open(path)
	if err != nil {
		return fh, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return fh, err
	}
	fh.size = st.Size()
	if !st.Mode().IsRegular() {
		return fh, fmt.Errorf("%s is not a regular file", path)
	}
	// Any replica count gives the same layout; the copies say the real one.
	l := productionConfig(1).Layout()
	if grid := l.Zones[rio.ZoneGrid].Offset; uint64(fh.size) < grid {
		return fh, fmt.Errorf("%s is %d bytes, smaller than the %d bytes every data file of this build has: not a data file (or truncated)", path, fh.size, grid)
	}
	zone := l.Zones[rio.ZoneSuperblock]
	found := false
	for i := range uint64(vsr.SuperblockCopies) {
		b := make([]byte, l.SuperblockCopySize)
		c := copyRead{index: int(i)}
		if _, err := f.ReadAt(b, int64(zone.Offset+l.SuperblockCopyOffset(i))); err != nil {
			c.err = err
		} else {
			c.sb, c.err = vsr.DecodeSuperblockCopy(b, productionConfig(1))
		}
		if c.err == nil && (!found || c.sb.State.Sequence > fh.best.State.Sequence) {
			fh.best, found = c.sb, true
		}
		fh.copies = append(fh.copies, c)
	}
	if !found {
		return fh, fmt.Errorf("%s: %w", path, errNoSuperblock)
	}
	for _, c := range fh.copies {
		if c.err == nil && (c.sb.Cluster != fh.best.Cluster || c.sb.State.Replica != fh.best.State.Replica || c.sb.ReplicaCount != fh.best.ReplicaCount) {
			return fh, fmt.Errorf("%s: superblock copies %d and %d name different clusters or replicas: the file is damaged", path, c.index, fh.best.Copy)
		}
	}
	if fh.best.ReplicaCount < 1 || fh.best.ReplicaCount > vsr.ReplicasMax || fh.best.State.Replica >= fh.best.ReplicaCount {
		return fh, fmt.Errorf("%s: replica %d of a cluster of %d is impossible: the file is damaged", path, fh.best.State.Replica, fh.best.ReplicaCount)
	}
	return fh, nil
}

var errNoSuperblock = errors.New("no valid superblock copy: not a data file formatted by `replica format` of this build, or damaged beyond repair")
