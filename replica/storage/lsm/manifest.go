package lsm

import (
	"encoding/binary"
	"fmt"

	"viewstamp/replica/u128"
)

// Manifest log bounds. Each half-bar's end relogs the live entries of the
// oldest blocks and releases them when the log is longer than its live
// entries need plus ManifestLogBlocksSlack: half the excess, at least
// ManifestCompactBlocksMin. The amount depends only on the log as a
// checkpoint holds it, so a replica that restarted compacts exactly as one
// that did not; and as the excess halves every half-bar, it stays about twice
// what a half-bar appends.
const (
	ManifestCompactBlocksMin = 2
	ManifestLogBlocksSlack   = 2
)

// Manifest block body:
//
//	0  u64  previous block's address (0: none)
//	8  u128 previous block's checksum
//	24 u32  entry count
//	28 u32  reserved (zero)
//	32 entries of manifestEntrySize bytes, oldest first
const manifestBlockHeaderSize = 32

// manifestLog is one append-only log of table events for every tree of the
// forest. Blocks link back to their predecessor by (address, checksum), so
// the superblock needs only the newest block and a count to find them all.
type manifestLog struct {
	f        *Forest
	perBlock int
	open     []byte // the block being filled, nil when empty
	count    int    // entries in open
	blocks   []logBlock
	seqNext  uint64 // sequence number of the open block
	// latest maps each live table to the block holding its newest entry; a
	// map used only for lookups.
	latest map[tableKey]uint64
}

type logBlock struct {
	ref BlockRef
	seq uint64
}

func newManifestLog(f *Forest) (*manifestLog, error) {
	m := &manifestLog{f: f, perBlock: (f.bodyMax - manifestBlockHeaderSize) / manifestEntrySize, latest: map[tableKey]uint64{}}
	if m.perBlock < 1 {
		return nil, fmt.Errorf("%w: a %d-byte block body holds no manifest entry", errConfig, f.bodyMax)
	}
	return m, nil
}

func (m *manifestLog) append(t *TableInfo, event uint8) {
	if m.open == nil {
		m.open = make([]byte, m.f.bodyMax)
		m.count = 0
	}
	off := manifestBlockHeaderSize + m.count*manifestEntrySize
	encodeManifestEntry(m.open[off:off+manifestEntrySize], t, event)
	m.count++
	if event == eventRemove {
		delete(m.latest, t.key())
	} else {
		m.latest[t.key()] = m.seqNext
	}
	if m.count == m.perBlock {
		m.flush()
	}
}

// flush writes the open block, even partly filled (at a checkpoint).
func (m *manifestLog) flush() {
	if m.open == nil {
		return
	}
	if n := len(m.blocks); n > 0 {
		prev := m.blocks[n-1].ref
		binary.LittleEndian.PutUint64(m.open[0:], prev.Address)
		prev.Checksum.Put(m.open[8:])
	}
	binary.LittleEndian.PutUint32(m.open[24:], uint32(m.count))
	ref := m.f.write(BlockManifest, m.open)
	m.blocks = append(m.blocks, logBlock{ref: ref, seq: m.seqNext})
	m.seqNext++
	m.open, m.count = nil, 0
}

// compact relogs the still-newest entries of the oldest blocks and releases
// those blocks. Which entries are still newest is known in memory (latest),
// so no block is read. Relogging walks the trees' levels, which are in a
// fixed order, so every replica appends the same entries.
func (m *manifestLog) compact() {
	target := (len(m.latest)+m.perBlock-1)/m.perBlock + ManifestLogBlocksSlack
	excess := len(m.blocks) - target
	n := min(excess, max(ManifestCompactBlocksMin, (excess+1)/2))
	if n <= 0 {
		return
	}
	old := m.blocks[:n:n]
	m.blocks = m.blocks[n:]
	cutoff := old[n-1].seq
	for _, t := range m.f.trees {
		for level := range m.f.cfg.LevelCount {
			tables := t.levels[level]
			for i := range tables {
				if seq, ok := m.latest[tables[i].key()]; ok && seq <= cutoff {
					m.append(&tables[i], eventInsert)
				}
			}
		}
	}
	for _, b := range old {
		m.f.grid.Release(b.ref.Address)
	}
}

// blockCount is the number of blocks the log holds on disk.
func (m *manifestLog) blockCount() int { return len(m.blocks) }

// load walks the log from newest to oldest; the first entry seen for a table
// is its newest and decides whether it is live and at which level.
func (m *manifestLog) load(newest BlockRef, count uint64, done func(live []TableInfo, err error)) {
	m.blocks = make([]logBlock, count)
	m.seqNext = count
	seen := map[tableKey]bool{}
	var live []TableInfo
	var walk func(i uint64, ref BlockRef)
	walk = func(i uint64, ref BlockRef) {
		m.f.grid.ReadBlock(ref.Address, ref.Checksum, func(body []byte, ok bool) {
			if !ok || len(body) < manifestBlockHeaderSize {
				done(nil, &BlockFaultError{Block: ref})
				return
			}
			n := int(binary.LittleEndian.Uint32(body[24:]))
			if n > m.perBlock {
				done(nil, fmt.Errorf("lsm: manifest block %d claims %d entries", ref.Address, n))
				return
			}
			m.blocks[i] = logBlock{ref: ref, seq: i}
			for e := n - 1; e >= 0; e-- {
				off := manifestBlockHeaderSize + e*manifestEntrySize
				info, event := decodeManifestEntry(body[off : off+manifestEntrySize])
				k := info.key()
				if seen[k] {
					continue
				}
				seen[k] = true
				if event != eventRemove {
					live = append(live, info)
					m.latest[k] = i
				}
			}
			if i == 0 {
				done(live, nil)
				return
			}
			prev := BlockRef{Address: binary.LittleEndian.Uint64(body[0:]), Checksum: u128.Get(body[8:])}
			walk(i-1, prev)
		})
	}
	walk(count-1, newest)
}
