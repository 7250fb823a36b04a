package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"

	"github.com/spf13/cobra"

	"viewstamp/faults"
)

// drawCountMax bounds one draw's seeds: drawing is cheap (microseconds a
// seed), and ten million lines of JSON are more than any filter needs.
const drawCountMax = 10_000_000

type drawFlags struct {
	from             string
	count            int
	requestsMax      int
	storageFaults    bool
	storageFaultsOff []string
}

// newDrawCmd is `vopr draw`: what seeds draw, without running them. A rare
// interleaving needs the faults that make it possible on the same seed (a
// reformat beside a view change, a misdirected write beside a crash of the
// head); picking seeds by their drawn options and running only those spends
// a hunt's machine time where it can pay.
func newDrawCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	var f drawFlags
	cmd := &cobra.Command{
		Use:   "draw --from SEED [--count N] [--storage-faults]",
		Short: "Print the options seeds draw, one JSON object per seed, without running them",
		Long: `draw prints, for each seed of the range, one line {"seed": "S", "options": {...}}
whose options are exactly those the seed's run record would hold with the
same flags (cluster, network, disks, process weather; with --storage-faults
the storage fault plan and the reformat plan too). Filter them and run the
seeds that draw what a hunt needs, for example:

  vopr draw --from 1 --count 100000 --storage-faults |
    jq -r 'select(.options.storage_reformats_max >= 2 and .options.replica_count >= 4) | .seed' > seeds.txt
  vopr swarm --seeds seeds.txt --count 0 --storage-faults --requests-max 300

Exit codes: 0, or 1 on a usage error.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := runDraw(f, stdout)
			*code = c
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "first seed (decimal or 40-hex); required")
	fl.IntVar(&f.count, "count", 100, fmt.Sprintf("seeds to draw, at most %d", drawCountMax))
	fl.IntVar(&f.requestsMax, "requests-max", 0, "as vopr's flag: overrides the drawn requests_max")
	fl.BoolVar(&f.storageFaults, "storage-faults", false, "also draw the storage fault and reformat plans, as vopr --storage-faults does")
	fl.StringSliceVar(&f.storageFaultsOff, "storage-faults-off", nil, "with --storage-faults, as vopr's flag")
	return cmd
}

func runDraw(f drawFlags, stdout io.Writer) (int, error) {
	if f.from == "" {
		return 1, fmt.Errorf("%w: draw needs --from", errUsage)
	}
	from, err := ParseSeed(f.from)
	if err != nil {
		return 1, err
	}
	switch {
	case f.count < 1 || f.count > drawCountMax:
		return 1, fmt.Errorf("%w: --count %d: want 1..%d", errUsage, f.count, drawCountMax)
	case f.requestsMax < 0:
		return 1, fmt.Errorf("%w: --requests-max must not be negative", errUsage)
	case len(f.storageFaultsOff) > 0 && !f.storageFaults:
		return 1, fmt.Errorf("%w: --storage-faults-off needs --storage-faults", errUsage)
	case from > ^uint64(0)-uint64(f.count-1):
		return 1, fmt.Errorf("%w: --from %d with --count %d passes the last seed", errUsage, from, f.count)
	}
	w := bufio.NewWriter(stdout)
	for i := range uint64(f.count) {
		seed := from + i
		opts, err := drawnOptions(seed, f)
		if err != nil {
			return 1, fmt.Errorf("%w: %v", errUsage, err)
		}
		b, err := json.Marshal(struct {
			Seed    string         `json:"seed"`
			Options map[string]any `json:"options"`
		}{strconv.FormatUint(seed, 10), opts})
		if err != nil {
			return 1, err
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return 1, err
	}
	return 0, nil
}

// drawnOptions is what a run of seed records under options, built the way
// the simulator builds it (sim's record: Describe, then the storage and
// reformat plans when storage faults are on).
func drawnOptions(seed uint64, f drawFlags) (map[string]any, error) {
	o := faults.Draw(seed, faults.Limits{RequestsMax: f.requestsMax})
	opts := faults.Describe(o)
	if f.storageFaults {
		plan, err := faults.DrawStorage(seed, f.storageFaultsOff)
		if err != nil {
			return nil, err
		}
		maps.Copy(opts, faults.DescribeStorage(plan))
		maps.Copy(opts, faults.DescribeReformats(faults.DrawReformats(seed, o.ReplicaCount, f.storageFaultsOff)))
	}
	return opts, nil
}
