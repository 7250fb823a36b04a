package bus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
)

type kind uint8

const (
	kindUnknown kind = iota // accepted, first message not read yet
	kindPeer
	kindClient
)

// conn is one TCP connection. Its reader owns the read side and its
// identification; its writer drains queue. kind, peer and client change
// only before the connection is published to the bus's maps.
type conn struct {
	bus    *Bus
	nc     net.Conn
	kind   kind
	peer   uint8
	client u128.U128
	queue  chan []byte
	closed chan struct{}
	once   sync.Once
	heard  atomic.Bool // a frame arrived: the dialer's backoff may reset
	why    error       // the reader's reason for a bad frame, for the log
}

func newConn(b *Bus, nc net.Conn, k kind) *conn {
	return &conn{bus: b, nc: nc, kind: k, closed: make(chan struct{})}
}

// closeSocket ends the connection's goroutines: blocked reads and writes
// fail once the socket is closed, and the writer also watches closed.
func (c *conn) closeSocket() {
	c.once.Do(func() {
		close(c.closed)
		_ = c.nc.Close()
	})
}

func (c *conn) close() {
	c.closeSocket()
	c.bus.unregister(c)
}

// enqueue hands msg to the writer without blocking: a full queue drops
// the newest message, which VSR's retransmissions tolerate.
func (c *conn) enqueue(msg []byte) {
	select {
	case <-c.closed:
		c.bus.stats.dropNoConnection.Add(1)
		return
	default:
	}
	select {
	case c.queue <- msg:
	default:
		c.bus.stats.dropFull.Add(1)
	}
}

func (c *conn) writeLoop() {
	defer c.close()
	var batch [writeBatchMax][]byte
	var bufs net.Buffers // reused: WriteTo consumes it, and a fresh one would escape per batch
	for {
		var first []byte
		select {
		case first = <-c.queue:
		case <-c.closed:
			return
		}
		n := 1
		batch[0] = first
	drain:
		for n < writeBatchMax {
			select {
			case m := <-c.queue:
				batch[n] = m
				n++
			default:
				break drain
			}
		}
		bufs = batch[:n]
		_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := bufs.WriteTo(c.nc)
		clear(batch[:n]) // the bytes belong to the replica; do not pin them
		if err != nil {
			if !c.isClosed() {
				c.bus.stats.writeErrors.Add(1)
			}
			return
		}
		c.bus.stats.sent.Add(uint64(n))
	}
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// errBadFrame marks a frame already counted under a specific Stats field.
var errBadFrame = errors.New("bad frame")

func (c *conn) readLoop() {
	defer c.close()
	b := c.bus
	r := bufio.NewReaderSize(c.nc, readBufferSize)
	var header [vsr.HeaderSize]byte
	var h vsr.Header
	var m vsr.Message
	for {
		frame, err := c.readFrame(r, header[:], &h, &m)
		var deliver bool
		if err == nil {
			c.heard.Store(true)
			deliver, err = c.identify(&h)
		}
		if err != nil {
			switch {
			case err == errBadFrame && c.why != nil:
				b.logf("closing %s: %v", c.nc.RemoteAddr(), c.why)
			case err != errBadFrame && !c.isClosed():
				b.stats.readErrors.Add(1)
			}
			return
		}
		if !deliver {
			continue
		}
		size := len(frame)
		if !b.budget.acquire(size) {
			return
		}
		b.stats.received.Add(1)
		b.cfg.Post(func() {
			b.cfg.OnMessage(frame)
			b.budget.release(size)
		})
	}
}

// readFrame reads and verifies one message. The header is judged in full
// before any of the body is read, so a hostile size field costs nothing.
// The returned buffer is the message's own.
func (c *conn) readFrame(r *bufio.Reader, header []byte, h *vsr.Header, m *vsr.Message) ([]byte, error) {
	b := c.bus
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	if err := vsr.DecodeHeader(header, h); err != nil {
		if errors.Is(err, vsr.ErrCommand) {
			return nil, c.bad(&b.stats.badCommand, err)
		}
		return nil, c.bad(&b.stats.badChecksum, err)
	}
	if h.Size < vsr.HeaderSize || uint64(h.Size) > b.cfg.MessageSizeMax {
		return nil, c.bad(&b.stats.badSize, fmt.Errorf("size %d outside [%d, %d]", h.Size, vsr.HeaderSize, b.cfg.MessageSizeMax))
	}
	if h.Cluster != b.cfg.Cluster {
		return nil, c.bad(&b.stats.badCluster, vsr.ErrCluster)
	}
	frame := make([]byte, h.Size)
	copy(frame, header)
	if _, err := io.ReadFull(r, frame[vsr.HeaderSize:]); err != nil {
		return nil, err
	}
	// The replica's own decoder, so the bus accepts exactly what the
	// replica would; it re-checks the header (cheap) and checks the body.
	if err := vsr.DecodeInto(m, frame, b.cfg.Cluster, b.cfg.MessageSizeMax); err != nil {
		*m = vsr.Message{}
		return nil, c.bad(&b.stats.badBody, err)
	}
	*m = vsr.Message{} // do not keep the frame reachable from the reader
	return frame, nil
}

// identify learns who is on an accepted connection from its first message
// and holds a client connection to its id. deliver is false for the
// handshake, which is the bus's own.
func (c *conn) identify(h *vsr.Header) (deliver bool, err error) {
	b := c.bus
	switch c.kind {
	case kindPeer:
		return true, nil
	case kindClient:
		if (h.Command == vsr.CommandRequest || h.Command == vsr.CommandPingClient) && h.Client == c.client {
			return true, nil
		}
		return false, c.bad(&b.stats.badIdentity, fmt.Errorf("client %s sent %s for client %s", c.client, h.Command, h.Client))
	}
	switch {
	case h.Command == vsr.CommandPing:
		// Only a lower replica dials us; anything else is a stranger or a
		// misconfigured address list.
		if h.Replica >= b.cfg.Replica {
			return false, c.bad(&b.stats.badIdentity, fmt.Errorf("handshake from replica %d, only lower replicas dial %d", h.Replica, b.cfg.Replica))
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		if !b.identifyPeer(c, h.Replica) {
			return false, errBadFrame
		}
		return false, nil
	case (h.Command == vsr.CommandRequest || h.Command == vsr.CommandPingClient) && !h.Client.IsZero():
		_ = c.nc.SetReadDeadline(time.Time{})
		if !b.identifyClient(c, h.Client) {
			return false, errBadFrame
		}
		return true, nil
	}
	return false, c.bad(&b.stats.badIdentity, fmt.Errorf("first message %s is neither a handshake nor a client's", h.Command))
}

// bad counts a bad frame and returns errBadFrame, remembering why for the
// log line.
func (c *conn) bad(counter *atomic.Uint64, why error) error {
	counter.Add(1)
	c.why = why
	return errBadFrame
}
