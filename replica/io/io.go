// Package io defines the seam between the replica and the world: Time, Network
// and Storage. The replica never blocks, never reads a clock or a socket and
// never starts a goroutine; it is driven by Tick, OnMessage and the completion
// callbacks of these interfaces. The simulator implements them deterministically
// (sim/); the production OS binding (io_uring, TCP, the OS clock) will live here
// and is the only code under replica/ allowed goroutines and real time.
package io

import "viewstamp/replica/u128"

// Time gives the replica its clocks. Both readings are nanoseconds.
type Time interface {
	// Monotonic never goes backwards and is only meaningful as a difference.
	Monotonic() uint64
	// Realtime is wall-clock time since the Unix epoch. It may jump.
	Realtime() int64
}

// Zone names a region of the data file. Offsets passed to Storage are relative
// to the start of the zone and must be sector aligned, as must buffer lengths.
type Zone uint8

const (
	ZoneSuperblock Zone = iota
	ZoneWALHeaders
	ZoneWALPrepares
	ZoneClientReplies
	ZoneGrid
	ZoneCount
)

var zoneNames = [ZoneCount]string{"superblock", "wal_headers", "wal_prepares", "client_replies", "grid"}

func (z Zone) String() string {
	if z < ZoneCount {
		return zoneNames[z]
	}
	return "zone(?)"
}

// Storage is an asynchronous, sector-aligned view of one data file.
//
// Read fills buf from the zone and later calls done; the data may be corrupt
// (the caller verifies checksums). Write copies buf before returning, so the
// caller may reuse it at once, and later calls done once the write is durable.
// Writes still in flight when the process crashes may be lost or torn.
// Completions are never delivered from inside Read or Write.
type Storage interface {
	Read(zone Zone, offset uint64, buf []byte, done func())
	Write(zone Zone, offset uint64, buf []byte, done func())
}

// Network sends whole encoded messages. Delivery is best effort: a message may
// be lost, duplicated, delayed or reordered. The network takes ownership of
// msg; the sender must not modify it afterwards, and receivers must treat
// delivered bytes as read-only since one buffer may reach several receivers.
type Network interface {
	SendToReplica(replica uint8, msg []byte)
	SendToClient(client u128.U128, msg []byte)
}
