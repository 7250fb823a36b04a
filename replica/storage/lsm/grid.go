package lsm

import (
	"fmt"

	"viewstamp/replica/u128"
)

// Grid is the asynchronous block store the forest writes its tables and
// manifest into. The storage package's grid satisfies it; the forest never
// sees zones, headers or the free set. Completions may arrive in any order and
// may run inside the call that issued them.
type Grid interface {
	Acquire() uint64                                                                           // a free block address, deterministic; 0 if none is free
	Release(address uint64)                                                                    // freed only after the next durable checkpoint (grid's concern)
	WriteBlock(address uint64, blockType uint8, body []byte, done func()) (checksum u128.U128) // the forest never modifies body again
	ReadBlock(address uint64, checksum u128.U128, done func(body []byte, ok bool))             // body is valid only during done
	BlockBodyMax() int                                                                         // bytes of body per block (block size - 256-byte header)
}

// Block types, as the grid's block header records them so a scrubber can
// decode any block without knowing which tree owns it.
const (
	BlockFreeSet        uint8 = 1
	BlockClientSessions uint8 = 2
	BlockManifest       uint8 = 3
	BlockIndex          uint8 = 4
	BlockValue          uint8 = 5
)

// BlockRef names a block the way its parent does: a misdirected or stale read
// fails the checksum instead of returning someone else's bytes.
type BlockRef struct {
	Address  uint64
	Checksum u128.U128
}

// BlockFaultError reports a block the grid could not read intact. It is not a
// bug in the tree: the replica repairs the block from a peer and retries.
type BlockFaultError struct{ Block BlockRef }

func (e *BlockFaultError) Error() string {
	return fmt.Sprintf("lsm: block %d (checksum %s) not readable intact", e.Block.Address, e.Block.Checksum)
}
