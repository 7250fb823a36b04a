package faults

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/zeebo/xxh3"
)

// TestDescribeGolden pins what seeds 1..50 mean: the hash of their drawn
// options, rendered canonically (encoding/json sorts map keys). It fails on
// an accidental change of any draw, or a draw that differs between CPUs. An
// intentional change updates the hash here, and then re-checks the corpus in
// seeds/ (go test ./cmd/vopr -run Corpus): its entries' seeds now mean other
// runs, so planted-bug entries may need a new seed and keeps-passing ones a
// new note.
func TestDescribeGolden(t *testing.T) {
	const golden = 0xf04c1180f1666dc4
	var all []byte
	for seed := uint64(1); seed <= 50; seed++ {
		b, err := json.Marshal(Describe(Draw(seed, Limits{})))
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, b...), '\n')
		if seed == 1 {
			t.Logf("seed 1: %s", b)
		}
	}
	if got := xxh3.Hash(all); got != golden {
		t.Errorf("seeds 1..50 draw options hashing to %#x, pinned %#x: see the comment before changing the pin", got, uint64(golden))
	}
}

// The swarm must span calm and storm seeds, with and without corruption,
// and every latency mean must be at least its minimum.
func TestDrawSpread(t *testing.T) {
	weather := map[Weather]int{}
	corrupt := 0
	for seed := uint64(1); seed <= 3000; seed++ {
		o := Draw(seed, Limits{})
		weather[o.Process.Weather]++
		if o.Network.CorruptProbability > 0 {
			corrupt++
			if p := o.Network.CorruptProbability; p < corruptMin || p > corruptMax {
				t.Fatalf("seed %d: corrupt probability %v", seed, p)
			}
		}
		n, s := o.Network, o.Storage
		if n.OneWayDelayMeanNs < n.OneWayDelayMinNs || s.ReadLatencyMeanNs < s.ReadLatencyMinNs || s.WriteLatencyMeanNs < s.WriteLatencyMinNs {
			t.Fatalf("seed %d: a mean below its minimum: %+v %+v", seed, n, s)
		}
		p := o.Process
		if p.RestartProbability < restartCalm || p.RestartProbability > restartStorm || p.CrashProbability > crashStorm {
			t.Fatalf("seed %d: process rates %+v", seed, p)
		}
	}
	for _, w := range []Weather{Calm, Between, Storm} {
		if weather[w] < 300 {
			t.Errorf("%s: %d of 3000 seeds", w, weather[w])
		}
	}
	if corrupt < 1800 || corrupt > 2400 {
		t.Errorf("%d of 3000 seeds corrupt messages, want about 70%%", corrupt)
	}
	t.Log(fmt.Sprint(weather), corrupt)
}

// Stragglers are off on some seeds, and on the rest slow reads, writes or
// both of some replicas by a factor in range; StorageFor applies it to that
// replica's disk alone.
func TestStragglers(t *testing.T) {
	var none, reads, writes, both int
	for seed := uint64(1); seed <= 500; seed++ {
		o := Draw(seed, Limits{})
		if o.Stragglers == nil {
			none++
			continue
		}
		if len(o.Stragglers) != o.ReplicaCount {
			t.Fatalf("seed %d: %d stragglers for %d replicas", seed, len(o.Stragglers), o.ReplicaCount)
		}
		for i, st := range o.Stragglers {
			for _, f := range []uint64{st.ReadFactor, st.WriteFactor} {
				if f != 1 && (f < stragglerFactorMin || f > stragglerFactorMax) {
					t.Fatalf("seed %d replica %d: factor %d out of range", seed, i, f)
				}
			}
			s := o.StorageFor(i)
			if s.ReadLatencyMeanNs != o.Storage.ReadLatencyMeanNs*st.ReadFactor || s.WriteLatencyMinNs != o.Storage.WriteLatencyMinNs*st.WriteFactor {
				t.Fatalf("seed %d replica %d: StorageFor %+v does not apply %+v to %+v", seed, i, s, st, o.Storage)
			}
			switch {
			case st.ReadFactor > 1 && st.WriteFactor > 1:
				both++
			case st.ReadFactor > 1:
				reads++
			case st.WriteFactor > 1:
				writes++
			}
		}
	}
	if none < 200 || none > 400 || reads == 0 || writes == 0 || both == 0 {
		t.Errorf("500 seeds: %d without stragglers, %d slow readers, %d slow writers, %d slow both", none, reads, writes, both)
	}
}
