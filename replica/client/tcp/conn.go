package tcp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"time"

	"viewstamp/replica/vsr"
)

// readBufferSize is the reader's buffer: replies up to this size are read
// with one system call.
const readBufferSize = 64 << 10

// conn keeps one connection to one replica.
type conn struct {
	c       *Client
	replica uint8
	address string
	ping    []byte
	// queue outlives connections: a message queued while disconnected
	// goes out on the next one (a stale retransmission is harmless).
	queue chan []byte
}

// enqueue never blocks: a full queue drops msg, which the state machine's
// retransmission covers.
func (cn *conn) enqueue(msg []byte) {
	select {
	case cn.queue <- msg:
	default:
	}
}

// run dials, serves and redials until the client closes.
func (cn *conn) run() {
	quit := cn.c.quit
	attempt := uint(0)
	for {
		nc, err := dial(quit, cn.address)
		if err != nil {
			select {
			case <-quit:
				return
			default:
			}
			if !sleep(quit, backoff(attempt)) {
				return
			}
			attempt++
			continue
		}
		cn.c.logf("tcp client %s: connected to replica %d at %s", cn.c.opts.ID, cn.replica, cn.address)
		heard, err := cn.serve(nc)
		cn.c.logf("tcp client %s: replica %d disconnected: %v", cn.c.opts.ID, cn.replica, err)
		if heard {
			attempt = 0
		}
		if !sleep(quit, backoff(attempt)) {
			return
		}
		attempt++
	}
}

// backoff is the delay before reconnect attempt n: exponential from
// backoffMin to backoffMax, drawn from the upper half so that clients that
// lost a replica together do not redial in step.
func backoff(n uint) time.Duration {
	d := backoffMax
	if n < 16 {
		d = min(d, backoffMin<<n)
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// serve runs one connection: a ping first, then the writer on its own
// goroutine and the reader here, until either fails or the client closes.
// heard reports whether a valid frame arrived.
func (cn *conn) serve(nc net.Conn) (heard bool, err error) {
	done := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		cn.write(nc, done)
	}()
	go func() {
		// Close unblocks the reader and the writer alike.
		select {
		case <-cn.c.quit:
		case <-done:
		}
		_ = nc.Close()
	}()
	heard, err = cn.read(nc)
	close(done)
	<-writerDone
	return heard, err
}

func (cn *conn) write(nc net.Conn, done <-chan struct{}) {
	defer func() { _ = nc.Close() }()
	_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := nc.Write(cn.ping); err != nil {
		return
	}
	for {
		select {
		case m := <-cn.queue:
			_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := nc.Write(m); err != nil {
				return
			}
		case <-done:
			return
		}
	}
}

// errFrame is a frame that does not check out: the connection is dropped,
// as TigerBeetle's client does.
var errFrame = errors.New("bad frame")

func (cn *conn) read(nc net.Conn) (heard bool, err error) {
	r := bufio.NewReaderSize(nc, readBufferSize)
	var header [vsr.HeaderSize]byte
	var h vsr.Header
	sizeMax := cn.c.opts.MessageSizeMax
	for {
		if _, err := io.ReadFull(r, header[:]); err != nil {
			return heard, err
		}
		if err := vsr.DecodeHeader(header[:], &h); err != nil {
			return heard, fmt.Errorf("%w: %v", errFrame, err)
		}
		if h.Size < vsr.HeaderSize || uint64(h.Size) > sizeMax {
			return heard, fmt.Errorf("%w: size %d", errFrame, h.Size)
		}
		if h.Cluster != cn.c.cluster {
			return heard, fmt.Errorf("%w: cluster %s, not ours", errFrame, h.Cluster)
		}
		frame := make([]byte, h.Size)
		copy(frame, header[:])
		if _, err := io.ReadFull(r, frame[vsr.HeaderSize:]); err != nil {
			return heard, err
		}
		if _, err := vsr.Decode(frame, cn.c.cluster, sizeMax); err != nil {
			return heard, fmt.Errorf("%w: %v", errFrame, err)
		}
		heard = true
		select {
		case cn.c.inbox <- frame:
		case <-cn.c.quit:
			return heard, ErrClosed
		}
	}
}
