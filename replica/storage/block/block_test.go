package block

import (
	"bytes"
	"testing"

	"viewstamp/replica/checksum"
	"viewstamp/replica/u128"
)

const (
	testSector    = 4096
	testBlockSize = 4 * testSector
)

var testCluster = u128.U128{Lo: 0xc1, Hi: 0x57}

func sealed(t *testing.T, address uint64, typ Type, body []byte) ([]byte, Ref) {
	t.Helper()
	blk := make([]byte, testBlockSize)
	meta := []byte("meta")
	sum := Seal(blk, testCluster, address, typ, meta, body)
	return blk, Ref{Address: address, Checksum: sum}
}

func TestSealFillsEveryField(t *testing.T) {
	body := bytes.Repeat([]byte{0xab}, 5000)
	blk, ref := sealed(t, 7, TypeValue, body)
	h := DecodeHeader(blk)
	if h.Checksum != ref.Checksum || h.Address != 7 || h.Type != TypeValue || h.Cluster != testCluster {
		t.Fatalf("header %+v does not match what was sealed", h)
	}
	if h.Size != HeaderSize+5000 {
		t.Fatalf("size %d, want %d", h.Size, HeaderSize+5000)
	}
	if !bytes.Equal(Body(blk), body) {
		t.Fatal("body differs from the one sealed")
	}
	if !bytes.HasPrefix(Metadata(blk), []byte("meta")) || len(Metadata(blk)) != MetadataSize {
		t.Fatal("metadata not where it was put")
	}
	if blk[offCommand] != Command {
		t.Fatalf("command %d, want %d", blk[offCommand], Command)
	}
	for i, b := range blk[h.Size:] {
		if b != 0 {
			t.Fatalf("padding byte %d is %#x", i, b)
		}
	}
	if got := Verify(blk, testSector, testCluster, ref); got != Valid {
		t.Fatalf("fresh block verifies as %v", got)
	}
}

func TestSealClearsAReusedBuffer(t *testing.T) {
	blk := bytes.Repeat([]byte{0xff}, testBlockSize)
	sum := Seal(blk, testCluster, 3, TypeIndex, nil, []byte("short"))
	if got := Verify(blk, testSector, testCluster, Ref{3, sum}); got != Valid {
		t.Fatalf("block sealed over old bytes verifies as %v", got)
	}
	fresh := make([]byte, testBlockSize)
	if Seal(fresh, testCluster, 3, TypeIndex, nil, []byte("short")) != sum || !bytes.Equal(fresh, blk) {
		t.Fatal("sealing depends on the buffer's old contents")
	}
}

func TestChecksumCoversEveryField(t *testing.T) {
	base := make([]byte, testBlockSize)
	sum := Seal(base, testCluster, 1, TypeValue, []byte{1}, []byte("body"))
	variants := map[string]u128.U128{}
	seal := func(name string, cluster u128.U128, address uint64, typ Type, meta, body []byte) {
		variants[name] = Seal(make([]byte, testBlockSize), cluster, address, typ, meta, body)
	}
	seal("cluster", u128.From64(9), 1, TypeValue, []byte{1}, []byte("body"))
	seal("address", testCluster, 2, TypeValue, []byte{1}, []byte("body"))
	seal("type", testCluster, 1, TypeIndex, []byte{1}, []byte("body"))
	seal("metadata", testCluster, 1, TypeValue, []byte{2}, []byte("body"))
	seal("body", testCluster, 1, TypeValue, []byte{1}, []byte("bodx"))
	seal("size", testCluster, 1, TypeValue, []byte{1}, []byte("body\x00"))
	for name, v := range variants {
		if v == sum {
			t.Errorf("changing the %s leaves the checksum unchanged", name)
		}
	}
}

func TestVerifyTellsEachFaultApart(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 300)
	blk, ref := sealed(t, 5, TypeManifest, body)
	other, otherRef := sealed(t, 6, TypeManifest, body)
	older, _ := sealed(t, 5, TypeManifest, []byte("older version"))
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		return c
	}
	cases := []struct {
		name string
		blk  []byte
		ref  Ref
		want Result
	}{
		{"intact", blk, ref, Valid},
		{"zeroed sector", make([]byte, testBlockSize), ref, BadHeaderChecksum},
		{"header byte flipped", flip(blk, offAddress), ref, BadHeaderChecksum},
		{"checksum itself flipped", flip(blk, offChecksum), ref, BadHeaderChecksum},
		{"body byte flipped", flip(blk, HeaderSize+17), ref, BadBodyChecksum},
		{"padding byte flipped", flip(blk, HeaderSize+len(body)+3), ref, BadPadding},
		{"byte past the padding flipped", flip(blk, testSector+1), ref, Valid},
		{"block of another address", other, ref, Misdirected},
		{"older version at this address", older, ref, Stale},
		{"wanted by another parent", blk, otherRef, Misdirected},
		{"too short to hold a header", blk[:HeaderSize-1], ref, BadHeaderChecksum},
	}
	for _, c := range cases {
		if got := Verify(c.blk, testSector, testCluster, c.ref); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if got := Verify(blk, testSector, u128.From64(1), ref); got != InvalidHeader {
		t.Errorf("block of another cluster: %v, want %v", got, InvalidHeader)
	}
}

// A header whose checksum holds but whose fields no Seal produces must not
// pass: such bytes come from a bug or a different format, not from this grid.
func TestVerifyRejectsImpossibleHeaders(t *testing.T) {
	reseal := func(mutate func(b []byte)) ([]byte, Ref) {
		blk, _ := sealed(t, 4, TypeValue, []byte("v"))
		mutate(blk)
		sum := checksumOf(blk)
		sum.Put(blk[offChecksum:])
		return blk, Ref{Address: 4, Checksum: sum}
	}
	cases := map[string]func(b []byte){
		"command":       func(b []byte) { b[offCommand] = 6 },
		"reserved type": func(b []byte) { b[offType] = byte(TypeReserved) },
		"unknown type":  func(b []byte) { b[offType] = typeCount },
		"size < header": func(b []byte) { b[offSize] = 10; b[offSize+1] = 0 },
		"size > buffer": func(b []byte) { b[offSize+2] = 1 },
		"reserved byte": func(b []byte) { b[offType+3] = 1 },
		"frame byte":    func(b []byte) { b[offCommand+1] = 1 },
	}
	for name, mutate := range cases {
		blk, ref := reseal(mutate)
		if got := Verify(blk, testSector, testCluster, ref); got != InvalidHeader {
			t.Errorf("%s: %v, want %v", name, got, InvalidHeader)
		}
	}
}

func TestSealRefusesWhatCannotBeRead(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	buf := make([]byte, testBlockSize)
	mustPanic("address 0", func() { Seal(buf, testCluster, 0, TypeValue, nil, nil) })
	mustPanic("reserved type", func() { Seal(buf, testCluster, 1, TypeReserved, nil, nil) })
	mustPanic("metadata too long", func() { Seal(buf, testCluster, 1, TypeValue, make([]byte, MetadataSize+1), nil) })
	mustPanic("body too long", func() { Seal(buf, testCluster, 1, TypeValue, nil, make([]byte, testBlockSize)) })
}

func TestLinkRoundTrip(t *testing.T) {
	meta := make([]byte, MetadataSize)
	want := Ref{Address: 1 << 40, Checksum: u128.U128{Lo: 3, Hi: 4}}
	PutLink(meta, want)
	if got := Link(meta); got != want {
		t.Fatalf("link %+v, want %+v", got, want)
	}
}

func checksumOf(blk []byte) u128.U128 { return checksum.Sum(blk[offChecksum+16 : HeaderSize]) }
