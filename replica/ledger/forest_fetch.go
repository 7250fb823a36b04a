package ledger

import "viewstamp/replica/storage/lsm"

// fetchReadsMax bounds the block reads Fetch keeps in flight, so a synced
// replica's fetch of a whole forest does not queue every read at once.
const fetchReadsMax = 16

// Fetch reads every block of the opened forest - its manifest log, each
// table's index block and the value blocks the index names - so that a
// replica which state-synced to this checkpoint holds all of it (the grid
// repairs from peers each block it lacks as it is read). The small state's
// trailer was read by Open.
func (m *ForestMachine) Fetch(done func()) {
	gen := m.gen
	g := m.grid
	m.forest.LSM().References(func(blocks []lsm.BlockRef, err error) {
		if gen != m.gen {
			return
		}
		if err != nil {
			// The replica's grid parks a read it cannot complete until
			// the block is repaired; a read fails only when the replica
			// cancels them, abandoning this checkpoint for a newer one,
			// which it opens next. So does this fetch.
			return
		}
		next, inFlight := 0, 0
		var pump func()
		pump = func() {
			for inFlight < fetchReadsMax && next < len(blocks) {
				b := blocks[next]
				next++
				inFlight++
				g.ReadBlock(b.Address, b.Checksum, func(_ []byte, ok bool) {
					if gen != m.gen {
						return
					}
					if !ok {
						return // cancelled, as above
					}
					inFlight--
					pump()
				})
			}
			if inFlight == 0 && next == len(blocks) {
				done()
			}
		}
		pump()
	})
}
