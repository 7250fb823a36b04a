package sim

import (
	"math/rand/v2"
	"testing"

	rio "viewstamp/replica/io"
	"viewstamp/replica/u128"
	"viewstamp/replica/vsr"
	"viewstamp/sim/disk"
	"viewstamp/sim/sched"
)

// TestWALCopy feeds coreMissingPrepare's ground truth each kind of slot: a
// replica excused from nacking must hold evidence that it may have made the
// prepare durable, and one whose readable slot proves otherwise is not.
func TestWALCopy(t *testing.T) {
	cfg := vsr.SimConfig(3)
	l := cfg.Layout()
	cluster := u128.From64(7)
	const op = 45
	slot := op % l.JournalSlotCount
	prepare := func(op uint64) vsr.Header {
		h := vsr.Header{Cluster: cluster, Command: vsr.CommandPrepare, Op: op, View: 1}
		h.Seal(nil)
		return h
	}
	want := prepare(op)
	older := prepare(op - l.JournalSlotCount)
	cases := []struct {
		name          string
		ring, prepare *vsr.Header // nil: damaged bytes
		want          walState
	}{
		{"prepare intact", &want, &want, walIntact},
		{"prepare intact beside a damaged entry", nil, &want, walIntact},
		{"entry names it, prepare damaged", &want, nil, walCannotNack},
		{"marker covering it, prepare damaged", ptr(vsr.FaultyMarker(cluster, op)), nil, walCannotNack},
		{"marker below it", ptr(vsr.FaultyMarker(cluster, op-l.JournalSlotCount)), nil, walAbsent},
		{"entry of an older op, prepare damaged", &older, nil, walAbsent},
		{"entry of an older op beside its prepare", &older, &older, walAbsent},
		{"damaged entry beside an older prepare", nil, &older, walAbsent},
		{"both damaged", nil, nil, walCannotNack},
	}
	for _, tc := range cases {
		d := disk.New(disk.Options{}, rand.New(rand.NewPCG(1, 2)), &sched.Scheduler{}, l.SectorSize, l.ZoneSizes())
		ring := make([]byte, l.SectorSize)
		at := slot * vsr.HeaderSize
		sector := at / l.SectorSize * l.SectorSize
		entryAt := ring[at-sector : at-sector+vsr.HeaderSize]
		if tc.ring != nil {
			vsr.EncodeHeader(tc.ring, entryAt)
		} else {
			fill(entryAt)
		}
		d.Poke(rio.ZoneWALHeaders, sector, ring)
		body := make([]byte, l.SectorSize)
		if tc.prepare != nil {
			vsr.EncodeHeader(tc.prepare, body)
		} else {
			fill(body[:vsr.HeaderSize])
		}
		d.Poke(rio.ZoneWALPrepares, l.WALPrepareOffset(slot), body)
		if got := walCopy(l, d, op, want.Checksum); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// fill writes bytes no header checksum matches.
func fill(b []byte) {
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
}
