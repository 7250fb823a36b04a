package reports

import (
	"slices"
	"strings"
	"testing"

	"viewstamp/replica/storage/block"
)

// The grid read results coverage sums are the failed verifications the
// replica's block package names, all of them and spelled the same.
func TestGridReadResultsAreTheBlockResults(t *testing.T) {
	var want []string
	for r := block.Result(0); r < block.ResultCount; r++ {
		if r != block.Valid {
			want = append(want, r.String())
		}
	}
	if !slices.Equal(gridReadResults, want) {
		t.Fatalf("gridReadResults %v, block results %v", gridReadResults, want)
	}
}

// Coverage counts the runs that saw each counter and sums it; a counter no
// run saw is kept in the summary (zero seeds) but not printed.
func TestCoverageCountsRunsAndTotals(t *testing.T) {
	runs := []Run{
		{Record: Record{Result: Pass, StorageFaults: &StorageFaults{Latent: 3, Reformats: 1}, Repairs: &Repairs{Prepares: 10},
			GridReads: map[string]uint64{"misdirected": 2}, Checkpoints: 4}},
		{Record: Record{Result: Pass, StorageFaults: &StorageFaults{Latent: 5}, Checkpoints: 1, StateSyncs: 2}},
		{Record: Record{Result: Pass}},
	}
	s := Summarize(runs, len(runs))
	got := map[string]Tally{}
	for _, c := range s.Coverage {
		got[c.Name] = c
	}
	for name, want := range map[string]Tally{
		"storage_faults.latent":        {Seeds: 2, Total: 8},
		"storage_faults.reformats":     {Seeds: 1, Total: 1},
		"storage_faults.bit_rot":       {},
		"repairs.prepares":             {Seeds: 1, Total: 10},
		"grid_read_faults.misdirected": {Seeds: 1, Total: 2},
		"checkpoints":                  {Seeds: 2, Total: 5},
		"state_syncs":                  {Seeds: 1, Total: 2},
	} {
		want.Name = name
		if got[name] != want {
			t.Errorf("%s: %+v, want %+v", name, got[name], want)
		}
	}
	var out strings.Builder
	s.Print(&out, 5)
	for _, line := range []string{
		"  storage_faults:   latent 2 (8), reformats 1 (1)\n",
		"  repairs:          prepares 1 (10)\n",
		"  grid_read_faults: misdirected 1 (2)\n",
		"  paths:            checkpoints 2 (5), state_syncs 1 (2)\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("summary lacks %q:\n%s", line, out.String())
		}
	}
	if strings.Contains(out.String(), "bit_rot") {
		t.Errorf("a counter no run saw is printed:\n%s", out.String())
	}
}
