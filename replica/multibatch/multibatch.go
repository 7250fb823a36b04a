// Package multibatch encodes and decodes TigerBeetle 0.17's multi-batch
// bodies, the form of every ledger request and reply: the batches' elements
// back to back, batch 0 first, then a trailer of little-endian u16s written
// from the end of the body backwards - the batch count last, batch 0's
// element count before it, batch 1's before that - padded at its front with
// 0xFFFF to a whole number of elements, so the body stays a multiple of the
// element size. A client packs several calls of one operation into one
// request this way, and needs one result batch per request batch back, in
// order.
package multibatch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// BatchCountMax is the most batches one body holds: the count is a
	// u16 and 0xFFFF is the padding value.
	BatchCountMax = 1<<16 - 2
	// padding fills the trailer's unused front; a batch count can never
	// take this value, so a decoder tells padding from counts.
	padding = 0xFF
	// countSize is a trailer slot's size (a u16).
	countSize = 2
)

// TrailerSize is the trailer of batchCount batches of elementSize-byte
// elements: room for the counts and the batch count, rounded up to whole
// elements.
func TrailerSize(elementSize, batchCount int) int {
	checkElementSize(elementSize)
	used := countSize * (batchCount + 1)
	return (used + elementSize - 1) / elementSize * elementSize
}

// checkElementSize refuses sizes whose trailer would not fall on u16
// boundaries: TigerBeetle pads 1-byte elements with a byte, which no ledger
// type needs, so odd sizes are a programming error here.
func checkElementSize(elementSize int) {
	if elementSize < countSize || elementSize%countSize != 0 {
		panic(fmt.Sprintf("multibatch: element size %d is not a positive even number", elementSize))
	}
}

// Size is the body of batches holding elements elements in all.
func Size(elementSize, elements, batchCount int) int {
	return elements*elementSize + TrailerSize(elementSize, batchCount)
}

// Encoder builds a body batch by batch into a caller's buffer; the trailer
// is written by Finish, once the batch count is known.
type Encoder struct {
	elementSize int
	buf         []byte
	counts      []uint16
}

// NewEncoder starts a body of elementSize-byte elements, appending to dst.
func NewEncoder(dst []byte, elementSize int) *Encoder {
	e := &Encoder{}
	e.Reset(dst, elementSize)
	return e
}

// Reset starts a new body, keeping the encoder's count storage.
func (e *Encoder) Reset(dst []byte, elementSize int) {
	checkElementSize(elementSize)
	e.elementSize, e.buf, e.counts = elementSize, dst, e.counts[:0]
}

// Add appends one batch: whole elements, possibly none.
func (e *Encoder) Add(batch []byte) {
	if len(batch)%e.elementSize != 0 {
		panic(fmt.Sprintf("multibatch: batch of %d bytes is not whole %d-byte elements", len(batch), e.elementSize))
	}
	n := len(batch) / e.elementSize
	if n > 1<<16-1 || len(e.counts) == BatchCountMax {
		panic(fmt.Sprintf("multibatch: batch %d of %d elements exceeds the u16 trailer", len(e.counts), n))
	}
	e.buf = append(e.buf, batch...)
	e.counts = append(e.counts, uint16(n))
}

// Batches is how many batches were added.
func (e *Encoder) Batches() int { return len(e.counts) }

// Finish writes the trailer and returns the whole body (dst plus it).
func (e *Encoder) Finish() []byte {
	if len(e.counts) == 0 {
		panic("multibatch: a body holds at least one batch")
	}
	size := TrailerSize(e.elementSize, len(e.counts))
	start := len(e.buf)
	for range size {
		e.buf = append(e.buf, padding)
	}
	t := e.buf[start:]
	end := len(t)
	binary.LittleEndian.PutUint16(t[end-countSize:], uint16(len(e.counts)))
	for i, n := range e.counts {
		binary.LittleEndian.PutUint16(t[end-countSize*(i+2):], n)
	}
	return e.buf
}

// Encode is a body of the given batches.
func Encode(elementSize int, batches ...[]byte) []byte {
	total := 0
	for _, b := range batches {
		total += len(b)
	}
	buf := make([]byte, 0, total+TrailerSize(elementSize, len(batches)))
	e := NewEncoder(buf, elementSize)
	for _, b := range batches {
		e.Add(b)
	}
	return e.Finish()
}

// Errors of Decode; each wraps ErrMalformed.
var (
	ErrMalformed  = errors.New("multibatch: malformed body")
	errShort      = fmt.Errorf("%w: shorter than its trailer", ErrMalformed)
	errNoBatches  = fmt.Errorf("%w: batch count 0", ErrMalformed)
	errPadding    = fmt.Errorf("%w: trailer padding is not 0xFF", ErrMalformed)
	errCountTotal = fmt.Errorf("%w: batch counts do not add up to the payload", ErrMalformed)
)

// Body is a decoded body: views into the bytes it was decoded from.
type Body struct {
	elementSize int
	payload     []byte
	trailer     []byte // the counts and batch count, padding cut off
	count       int
}

// Decode checks body as TigerBeetle's decoder does - a batch count of 1 to
// BatchCountMax, a trailer that fits, padding all 0xFF, counts that add up
// to exactly the payload - and returns its batches. It never panics on any
// input.
func Decode(body []byte, elementSize int) (Body, error) {
	checkElementSize(elementSize)
	if len(body) < countSize {
		return Body{}, errShort
	}
	count := int(binary.LittleEndian.Uint16(body[len(body)-countSize:]))
	if count == 0 {
		return Body{}, errNoBatches
	}
	if count > BatchCountMax {
		return Body{}, fmt.Errorf("%w: batch count %#x", ErrMalformed, count)
	}
	size := TrailerSize(elementSize, count)
	if size > len(body) {
		return Body{}, errShort
	}
	payload := body[:len(body)-size]
	used := countSize * (count + 1)
	pad := body[len(payload) : len(body)-used]
	for _, b := range pad {
		if b != padding {
			return Body{}, errPadding
		}
	}
	b := Body{elementSize: elementSize, payload: payload, trailer: body[len(body)-used:], count: count}
	total := 0
	for i := range count {
		total += b.Len(i)
	}
	if total*elementSize != len(payload) {
		return Body{}, errCountTotal
	}
	return b, nil
}

// Count is the number of batches.
func (b Body) Count() int { return b.count }

// Len is batch i's element count.
func (b Body) Len(i int) int {
	return int(binary.LittleEndian.Uint16(b.trailer[len(b.trailer)-countSize*(i+2):]))
}

// Elements is the element count of all batches.
func (b Body) Elements() int { return len(b.payload) / b.elementSize }

// Payload is every batch's elements back to back, batch 0 first.
func (b Body) Payload() []byte { return b.payload }

// Batches calls fn with each batch in order; it stops at the first error
// fn returns and returns it.
func (b Body) Batches(fn func(i int, batch []byte) error) error {
	at := 0
	for i := range b.count {
		end := at + b.Len(i)*b.elementSize
		if err := fn(i, b.payload[at:end:end]); err != nil {
			return err
		}
		at = end
	}
	return nil
}

// Batch is batch i (a walk over the counts before it: use Batches to visit
// all).
func (b Body) Batch(i int) []byte {
	at := 0
	for k := range i {
		at += b.Len(k) * b.elementSize
	}
	end := at + b.Len(i)*b.elementSize
	return b.payload[at:end:end]
}
