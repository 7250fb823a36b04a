package faults

import (
	"reflect"
	"testing"
)

// Every class is off on some seeds and on, at rates from calm to storm, on
// others; the same seed draws the same plan; a class named off is zero and
// leaves the others as drawn.
func TestDrawStorage(t *testing.T) {
	const seeds = 400
	on := map[string]int{}
	for seed := uint64(0); seed < seeds; seed++ {
		a, err := DrawStorage(seed, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := DrawStorage(seed, nil); !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d drew two plans", seed)
		}
		f := a.Disk
		for name, p := range map[string]float64{ClassLatent: f.Latent, ClassBitRot: f.BitRot, ClassWrite: f.Write,
			ClassMisdirectedWrite: f.MisdirectWrite, ClassMisdirectedRead: f.MisdirectRead, ClassSuperblock: f.Superblock} {
			if p < 0 || p > 1 {
				t.Fatalf("seed %d: %s probability %v", seed, name, p)
			}
			if p > 0 {
				on[name]++
			}
		}
		if a.Grid {
			on[ClassGrid]++
		}
		off, _ := DrawStorage(seed, []string{ClassLatent, ClassGrid})
		want := a
		want.Disk.Latent, want.Grid = 0, false
		if !reflect.DeepEqual(off, want) {
			t.Fatalf("seed %d: turning latent and grid off changed other classes: %+v vs %+v", seed, off, want)
		}
	}
	for _, c := range []string{ClassLatent, ClassBitRot, ClassWrite, ClassMisdirectedWrite, ClassMisdirectedRead, ClassSuperblock, ClassGrid} {
		if on[c] == 0 || on[c] == seeds {
			t.Fatalf("class %s on for %d of %d seeds: want some on, some off", c, on[c], seeds)
		}
	}
	if _, err := DrawStorage(1, []string{"cosmic_rays"}); err == nil {
		t.Fatal("an unknown class was accepted")
	}
}
