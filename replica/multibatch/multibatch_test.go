package multibatch

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"testing"
)

// The bodies the Node client tigerbeetle-node@0.17.9 sent, as captured
// (reference/tigerbeetle-wire.md §5).
func TestCapturedClientBodies(t *testing.T) {
	t.Run("createAccounts([])", func(t *testing.T) {
		b := Encode(128, []byte{})
		if len(b) != 128 {
			t.Fatalf("%d bytes, want 128", len(b))
		}
		if !bytes.Equal(b[:122], bytes.Repeat([]byte{0xff}, 122)) {
			t.Fatalf("padding %x", b[:122])
		}
		if got := hex.EncodeToString(b[122:]); got != "ffff00000100" {
			t.Fatalf("ends %s, want ffff00000100", got)
		}
		d := mustDecode(t, b, 128)
		if d.Count() != 1 || d.Len(0) != 0 || len(d.Payload()) != 0 {
			t.Fatalf("decoded %d batches, batch 0 of %d", d.Count(), d.Len(0))
		}
	})
	t.Run("lookupAccounts([5n])", func(t *testing.T) {
		id := make([]byte, 16)
		id[0] = 5
		b := Encode(16, id)
		if len(b) != 32 {
			t.Fatalf("%d bytes, want 32", len(b))
		}
		if !bytes.Equal(b[:16], id) || !bytes.HasSuffix(b, []byte{0xff, 0x01, 0x00, 0x01, 0x00}) {
			t.Fatalf("body %x", b)
		}
		if !bytes.Equal(b[16:28], bytes.Repeat([]byte{0xff}, 12)) {
			t.Fatalf("trailer %x", b[16:])
		}
		if d := mustDecode(t, b, 16); !bytes.Equal(d.Batch(0), id) {
			t.Fatalf("batch 0 %x", d.Batch(0))
		}
	})
	t.Run("queryAccounts(filter)", func(t *testing.T) {
		if b := Encode(64, make([]byte, 64)); len(b) != 128 {
			t.Fatalf("%d bytes, want 128", len(b))
		}
	})
	t.Run("createAccounts of 2, 0 and 1 accounts in one request", func(t *testing.T) {
		accounts := make([][]byte, 3)
		for i := range accounts {
			accounts[i] = bytes.Repeat([]byte{byte(i + 1)}, 128)
		}
		req := Encode(128, append(accounts[0], accounts[1]...), nil, accounts[2])
		if len(req) != 512 {
			t.Fatalf("request of %d bytes, want 384 + 128", len(req))
		}
		d := mustDecode(t, req, 128)
		if d.Count() != 3 || d.Len(0) != 2 || d.Len(1) != 0 || d.Len(2) != 1 || d.Elements() != 3 {
			t.Fatalf("decoded %d batches of %d, %d, %d", d.Count(), d.Len(0), d.Len(1), d.Len(2))
		}
		if !bytes.Equal(d.Batch(2), accounts[2]) {
			t.Fatal("batch 2 is not the third call's account")
		}
		reply := Encode(16, make([]byte, 32), nil, make([]byte, 16))
		if len(reply) != 64 {
			t.Fatalf("reply of %d bytes, want 48 + 16", len(reply))
		}
		// Counts from the end: 3 batches, then 2, 0, 1, then padding.
		if got := hex.EncodeToString(reply[48:]); got != "ffffffffffffffff0100000002000300" {
			t.Fatalf("reply trailer %s", got)
		}
	})
}

func mustDecode(t *testing.T, b []byte, size int) Body {
	t.Helper()
	d, err := Decode(b, size)
	if err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	return d
}

func TestTrailerSize(t *testing.T) {
	for _, c := range []struct{ size, count, want int }{
		{128, 1, 128}, {128, 63, 128}, {128, 64, 256}, {16, 1, 16}, {16, 7, 16}, {16, 8, 32},
		{64, 31, 64}, {64, 32, 128}, {2, 1, 4}, {128, BatchCountMax, 131072},
	} {
		if got := TrailerSize(c.size, c.count); got != c.want {
			t.Errorf("TrailerSize(%d, %d) = %d, want %d", c.size, c.count, got, c.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		size := []int{2, 16, 64, 128}[rng.IntN(4)]
		count := 1 + rng.IntN(70)
		if rng.IntN(50) == 0 {
			count = 1 + rng.IntN(BatchCountMax)
		}
		batches := make([][]byte, count)
		for i := range batches {
			n := 0
			if rng.IntN(3) > 0 {
				n = rng.IntN(5)
			}
			batches[i] = make([]byte, n*size)
			for k := range batches[i] {
				batches[i][k] = byte(rng.Uint32())
			}
		}
		b := Encode(size, batches...)
		if len(b)%size != 0 {
			t.Fatalf("body of %d bytes is not whole %d-byte elements", len(b), size)
		}
		d := mustDecode(t, b, size)
		if d.Count() != count {
			t.Fatalf("%d batches, want %d", d.Count(), count)
		}
		_ = d.Batches(func(i int, got []byte) error {
			if !bytes.Equal(got, batches[i]) {
				t.Fatalf("batch %d of %d differs", i, count)
			}
			return nil
		})
		if count < 100 && !bytes.Equal(d.Batch(count-1), batches[count-1]) {
			t.Fatal("Batch disagrees with Batches")
		}
	}
}

func TestEncoderReuse(t *testing.T) {
	e := NewEncoder(nil, 16)
	e.Add(make([]byte, 16))
	e.Add(nil)
	first := e.Finish()
	e.Reset(first[:0:0], 16)
	e.Add(make([]byte, 32))
	second := e.Finish()
	if e.Batches() != 1 || !bytes.Equal(second, Encode(16, make([]byte, 32))) {
		t.Fatalf("reset encoder wrote %x", second)
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := Encode(16, make([]byte, 16), make([]byte, 32))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	for name, c := range map[string]struct {
		body []byte
		want error
	}{
		"empty":            {nil, errShort},
		"one byte":         {[]byte{1}, errShort},
		"no batches":       {mutate(func(b []byte) []byte { b[len(b)-2] = 0; return b }), errNoBatches},
		"count 0xFFFF":     {mutate(func(b []byte) []byte { b[len(b)-2], b[len(b)-1] = 0xff, 0xff; return b }), ErrMalformed},
		"trailer too long": {mutate(func(b []byte) []byte { b[len(b)-2] = 40; return b }), errShort},
		"bad padding":      {mutate(func(b []byte) []byte { b[48] = 0; return b }), errPadding},
		"counts too high":  {mutate(func(b []byte) []byte { b[len(b)-4] = 3; return b }), errCountTotal},
		"counts too low":   {mutate(func(b []byte) []byte { b[len(b)-6] = 1; return b }), errCountTotal},
		"payload cut":      {valid[16:], errCountTotal},
	} {
		_, err := Decode(c.body, 16)
		if !errors.Is(err, c.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// FuzzDecode feeds the decoder hostile bytes: it must never panic, and
// whatever it accepts must describe the body exactly - re-encoding its
// batches gives the same bytes back.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(Encode(128, nil), uint8(3))
	f.Add(Encode(16, make([]byte, 16)), uint8(1))
	f.Add(Encode(16, make([]byte, 48), nil, make([]byte, 16)), uint8(1))
	f.Add([]byte{0xff, 0xff}, uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		size := []int{2, 16, 64, 128}[which%4]
		d, err := Decode(body, size)
		if err != nil {
			return
		}
		var batches [][]byte
		_ = d.Batches(func(_ int, b []byte) error {
			batches = append(batches, b)
			return nil
		})
		if len(batches) != d.Count() || d.Count() < 1 || d.Count() > BatchCountMax {
			t.Fatalf("%d batches for count %d", len(batches), d.Count())
		}
		if again := Encode(size, batches...); !bytes.Equal(again, body) {
			t.Fatalf("accepted %x, which re-encodes as %x", body, again)
		}
	})
}
