package draw

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/xxh3"
)

func TestNegLog2(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		x := rng.Uint64() >> rng.IntN(64)
		if x == 0 {
			continue
		}
		got := float64(NegLog2(x)) / (1 << FracBits)
		want := -math.Log2(float64(x) / (1 << 64))
		if math.Abs(got-want) > 1e-9 {
			t.Fatalf("NegLog2(%#x) = %v, want %v", x, got, want)
		}
	}
	if NegLog2(1<<63) != 1<<FracBits {
		t.Fatalf("NegLog2(1/2) = %d, want exactly 1", NegLog2(1<<63))
	}
}

// The exponential must have the right mean and shape: P(X > mean·t) = e^-t.
func TestExpDistribution(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, mean = 200000, 1_000_000
	var sum float64
	var above [4]int
	for i := 0; i < n; i++ {
		x := Exp(rng, mean)
		sum += float64(x)
		for k := range above {
			if x > uint64(k+1)*mean {
				above[k]++
			}
		}
	}
	if m := sum / n; math.Abs(m-mean) > 0.01*mean {
		t.Errorf("mean %v, want %v", m, mean)
	}
	for k, c := range above {
		want := math.Exp(-float64(k + 1))
		if got := float64(c) / n; math.Abs(got-want) > 0.005 {
			t.Errorf("P(X > %d·mean) = %v, want %v", k+1, got, want)
		}
	}
	if Exp(rng, 0) != 0 {
		t.Error("mean 0 must give 0")
	}
}

func TestGeometric(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range []float64{0.5, 0.02, 1e-4} {
		const n = 100000
		var sum float64
		for i := 0; i < n; i++ {
			sum += float64(Geometric(rng, p))
		}
		want := (1 - p) / p
		if m := sum / n; math.Abs(m-want) > 0.02*want+0.01 {
			t.Errorf("p=%v: mean %v, want %v", p, m, want)
		}
	}
	if Geometric(rng, 1) != 0 || Geometric(rng, 0) != 1<<62 {
		t.Error("edge probabilities")
	}
}

func TestLogUniform(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const lo, hi = 2e-7, 2e-4
	var low, high int
	for i := 0; i < 30000; i++ {
		v, at := LogUniform(rng, lo, hi)
		if v < lo || v > hi || at < 0 || at > 1 {
			t.Fatalf("LogUniform = %v at %v outside [%v, %v]", v, at, lo, hi)
		}
		if math.Abs(math.Log10(v/lo)/3-at) > 0.01 {
			t.Fatalf("value %v reported at %v", v, at)
		}
		if v < 2e-6 {
			low++
		}
		if v >= 2e-5 {
			high++
		}
	}
	// A third of the draws per decade.
	if low < 9000 || low > 11000 || high < 9000 || high > 11000 {
		t.Errorf("decades not even: %d in the lowest, %d in the highest of 30000", low, high)
	}
}

// The draws are pinned: the same seed gives the same bits on every CPU and
// Go release. A change here changes what every simulator seed means.
func TestDrawsPinned(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var buf []byte
	for i := 0; i < 1000; i++ {
		buf = binary.LittleEndian.AppendUint64(buf, Exp(rng, 70_000_000))
		buf = binary.LittleEndian.AppendUint64(buf, Geometric(rng, 0.013))
		v, _ := LogUniform(rng, 2e-6, 1e-2)
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(PPM(rng, 0, 300_000)))
	}
	const want = 0x91160f96564b69fd
	if got := xxh3.Hash(buf); got != want {
		t.Errorf("draws hash to %#x, pinned %#x", got, uint64(want))
	}
}

func BenchmarkExp(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	var s uint64
	for range b.N {
		s += Exp(rng, 70_000_000)
	}
	_ = s
}

func BenchmarkExpFloat64(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	var s uint64
	for range b.N {
		s += uint64(rng.ExpFloat64() * 70_000_000)
	}
	_ = s
}

// The table and series agree with the bit-by-bit logarithm.
func TestLog2MantissaMatchesSquaring(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for i := 0; i < 100000; i++ {
		m := rng.Uint64() | 1<<63
		if i < 256 { // the table's own points
			m = 1<<63 | uint64(i)<<(63-tableBits)
		}
		a, b := log2Mantissa(m), log2Squaring(m)
		if d := int64(a - b); d > 4 || d < -4 {
			t.Fatalf("log2(%#x): table %d, squaring %d", m, a, b)
		}
	}
}
