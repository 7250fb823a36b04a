package ledger

// chunks is an append-only array in fixed-size pieces. Appending never moves
// what is already stored, so a growing ledger does not pay for copying its
// whole history each time a slice would have doubled, and pointers to stored
// objects stay valid.
type chunks[T any] struct {
	pieces [][]T
	n      int
}

// chunkShift sizes pieces at 1024 objects: a forest working set, made at
// every replica start and holding one batch, then costs a few hundred KiB
// instead of megabytes zeroed per start, and a million-object in-memory
// ledger still takes only a thousand pieces.
const chunkShift = 10

func (c *chunks[T]) len() int { return c.n }

func (c *chunks[T]) at(i int32) *T {
	return &c.pieces[i>>chunkShift][i&(1<<chunkShift-1)]
}

func (c *chunks[T]) push(v T) int32 {
	i := c.n
	if i>>chunkShift == len(c.pieces) {
		c.pieces = append(c.pieces, make([]T, 1<<chunkShift))
	}
	c.pieces[i>>chunkShift][i&(1<<chunkShift-1)] = v
	c.n++
	return int32(i)
}

// truncate drops everything from n on; rollback is its only caller.
func (c *chunks[T]) truncate(n int) {
	var zero T
	for i := n; i < c.n; i++ {
		*c.at(int32(i)) = zero
	}
	c.n = n
}
