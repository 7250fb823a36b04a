package vsr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"viewstamp/replica/u128"
)

// session is one client's entry in the client table: replicated state, built
// only by committing register and request prepares, so identical everywhere.
type session struct {
	used      bool
	client    u128.U128
	session   uint64 // op of the register that opened it
	request   uint32 // last committed request number
	requestCS u128.U128
	reply     Message // cached reply to resend on duplicates
	// replyMissing: the reply's body is not at hand (a checkpoint opened
	// whose reply slot holds another body); it is fetched from a peer.
	replyMissing bool
	lastOp       uint64 // op of the last reply: eviction picks the smallest
}

// sessions is the client table: clients_max fixed slots, so that a session
// keeps its slot (and its slot in the client replies zone) for life and
// iteration order is the slot order, the same on every replica.
type sessions struct {
	slots []session
	count int
}

func newSessions(max int) sessions { return sessions{slots: make([]session, max)} }

func (s *sessions) len() int { return s.count }
func (s *sessions) max() int { return len(s.slots) }

func (s *sessions) get(client u128.U128) *session {
	for i := range s.slots {
		if s.slots[i].used && s.slots[i].client == client {
			return &s.slots[i]
		}
	}
	return nil
}

// open registers client at op, evicting the session with the oldest reply if
// the table is full. It returns the evicted client, if any.
func (s *sessions) open(client u128.U128, op uint64) (evicted u128.U128, did bool) {
	slot := -1
	if s.count >= len(s.slots) {
		for i := range s.slots {
			if slot < 0 || s.slots[i].lastOp < s.slots[slot].lastOp {
				slot = i
			}
		}
		evicted, did = s.slots[slot].client, true
		s.count--
	} else {
		for i := range s.slots {
			if !s.slots[i].used {
				slot = i
				break
			}
		}
	}
	s.slots[slot] = session{used: true, client: client, session: op, lastOp: op}
	s.count++
	return evicted, did
}

// newReply is the reply to prepare h with body, as replica in view sends
// it. Every header field the client checks comes from the committed
// prepare, so every replica builds the same reply but for its replica and
// view: the request's release (the client aborts on another), its checksum
// and operation, op = commit = the prepare's op (for a register, the
// session number) and its timestamp. The context, which the client's next
// request names as its parent, is TigerBeetle's: the checksum of the header
// with context zero - here of its canonical form, replica and view zeroed,
// so that it is the same whichever replica answers, in whatever view.
func newReply(h *Header, body []byte, replica uint8, view uint32) Message {
	rep := Message{Header: Header{
		Command: CommandReply, Cluster: h.Cluster, Release: h.Release,
		Ref: h.Ref, Client: h.Client, Op: h.Op, Commit: h.Op,
		Timestamp: h.Timestamp, Request: h.Request, Operation: h.Operation,
	}, Body: body}
	rep.Header.Seal(body)
	rep.Header.Context = rep.Header.Checksum
	rep.Header.Replica, rep.Header.View = replica, view
	rep.Header.sealHeader()
	return rep
}

// registerResult is a register's reply body, TigerBeetle's RegisterResult:
// the batch_size_limit the primary put in the prepared RegisterRequest.
func registerResult(prepared []byte, limit uint32) []byte {
	if len(prepared) >= 4 {
		limit = binary.LittleEndian.Uint32(prepared)
	}
	b := make([]byte, RegisterResultSize)
	binary.LittleEndian.PutUint32(b, limit)
	return b
}

// The encoding of the client table in a checkpoint: the slot count, then
// per slot its fields and its reply's header. Reply bodies live in the
// client replies zone, one slot per session; the header's body checksum
// says which body belongs. The header is stored with the replica and view
// zeroed, so that every replica's table encodes to the same bytes.
const (
	sessionsHeaderSize   = 8
	sessionEncodedSize   = 1 + 16 + 8 + 4 + 16 + 8 + HeaderSize
	sessionReplyHeaderAt = sessionEncodedSize - HeaderSize
)

// sessionsEncodedSize is the encoding's size for a table of max slots.
func sessionsEncodedSize(max int) int { return sessionsHeaderSize + max*sessionEncodedSize }

func (s *sessions) encode() []byte {
	b := make([]byte, sessionsEncodedSize(len(s.slots)))
	le := binary.LittleEndian
	le.PutUint64(b, uint64(len(s.slots)))
	for i := range s.slots {
		e := &s.slots[i]
		if !e.used {
			continue
		}
		o := b[sessionsHeaderSize+i*sessionEncodedSize:]
		o[0] = 1
		e.client.Put(o[1:])
		le.PutUint64(o[17:], e.session)
		le.PutUint32(o[25:], e.request)
		e.requestCS.Put(o[29:])
		le.PutUint64(o[45:], e.lastOp)
		h := canonicalReply(e.reply.Header)
		EncodeHeader(&h, o[sessionReplyHeaderAt:])
	}
	return b
}

// canonicalReply is a reply's header as every replica stores it in a
// checkpoint: with the replica and view that sent it zeroed.
func canonicalReply(h Header) Header {
	h.Replica, h.View = 0, 0
	h.sealHeader()
	return h
}

var errSessions = errors.New("client sessions encoding")

// decodeSessions rebuilds a table from its encoding. The replies come back
// with their headers only; the caller attaches each body from the client
// replies zone (or leaves it to replay).
func decodeSessions(b []byte, max int) (sessions, error) {
	s := newSessions(max)
	le := binary.LittleEndian
	if len(b) != sessionsEncodedSize(max) || le.Uint64(b) != uint64(max) {
		return s, fmt.Errorf("%w: %d bytes for %d slots", errSessions, len(b), max)
	}
	for i := range s.slots {
		o := b[sessionsHeaderSize+i*sessionEncodedSize:]
		switch o[0] {
		case 0:
			continue
		case 1:
		default:
			return s, fmt.Errorf("%w: slot %d flag %d", errSessions, i, o[0])
		}
		e := &s.slots[i]
		e.used = true
		e.client = u128.Get(o[1:])
		e.session = le.Uint64(o[17:])
		e.request = le.Uint32(o[25:])
		e.requestCS = u128.Get(o[29:])
		e.lastOp = le.Uint64(o[45:])
		if err := DecodeHeader(o[sessionReplyHeaderAt:], &e.reply.Header); err != nil {
			return s, fmt.Errorf("%w: slot %d reply header: %v", errSessions, i, err)
		}
		s.count++
	}
	return s, nil
}
