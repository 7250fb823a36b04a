#!/usr/bin/env bash
# memratio.sh: how a seed's peak memory grows from a SMALL-request run to a
# LARGE-request one (issue 9's bound: under 2x from 5,000 to 20,000), split
# into what the simulated data files hold and the rest.
#
# The simulator keeps every replica's data file in memory (sim/disk, shared
# between replicas where their bytes agree), so the ledger a run builds is
# part of its peak. A run that creates four times the transfers holds about
# four times the data: that share grows with what the workload stores, the
# rest (replica state, checkers, the Go heap's slack) with the configuration
# and with the forest's size. Both columns are printed so that a person can
# tell which one grew.
#
# Columns: seed, replicas, requests sent and transfers created at each size,
# checkpoints at the large size, peak RSS (MiB) at each, its ratio, the data
# files' peak resident bytes (disk_bytes_resident_max) at each, and the ratio
# of peak RSS minus those bytes.
#
# Usage: tools/memratio.sh SEED...            (from the module root)
#        SMALL=5000 LARGE=20000 tools/memratio.sh 1 2 9
# Needs GNU time (/usr/bin/time) and python3. Runs one seed at a time:
# memory measured beside another job is still the job's own, but each run
# takes a minute or more at 20,000 requests.
set -euo pipefail

SMALL=${SMALL:-5000}
LARGE=${LARGE:-20000}
GO=${GO:-go}
TIME=${TIME:-/usr/bin/time}

if [[ $# -eq 0 ]]; then
	echo "usage: tools/memratio.sh SEED..." >&2
	exit 2
fi
if ! [[ -x $TIME ]]; then
	echo "memratio: GNU time not found at $TIME (Debian: apt-get install time)" >&2
	exit 2
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
$GO build -trimpath -o "$dir/vopr" ./cmd/vopr

for seed in "$@"; do
	for n in $SMALL $LARGE; do
		# vopr exits non-zero on a failing seed; the record still says so.
		"$TIME" -f %M -o "$dir/rss.$n" "$dir/vopr" --seed "$seed" --requests-max "$n" --json >"$dir/rec.$n" || true
	done
	python3 - "$seed" "$dir" "$SMALL" "$LARGE" <<'EOF'
import json, sys
seed, d, small, large = sys.argv[1:]
def load(n):
    rec = json.load(open(f"{d}/rec.{n}"))
    rss = int(open(f"{d}/rss.{n}").read().split()[-1]) / 1024  # KiB -> MiB
    disk = rec["disk_bytes_resident_max"] / 2**20
    made = rec["workload"].get("create_transfers", {}).get("created", 0)
    return rec, rss, disk, made
a, ra, da, ta = load(small)
b, rb, db, tb = load(large)
print(f"seed {seed} replicas {a['replica_count']} result {b['result']}: "
      f"requests {a['requests_sent']} -> {b['requests_sent']}, transfers {ta} -> {tb}, "
      f"checkpoints {b['checkpoints']}; peak RSS {ra:.0f} -> {rb:.0f} MiB ({rb / ra:.2f}x); "
      f"data files {da:.0f} -> {db:.0f} MiB; the rest {(rb - db) / (ra - da):.2f}x")
EOF
done
