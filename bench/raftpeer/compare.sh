#!/usr/bin/env bash
# The peer comparison: `replica benchmark` against 1, 3 and 6 replica
# processes on loopback, then the etcd-raft ledger with 1 and 3 nodes, the
# same load (transfers, batch size, accounts, clients, seed) for all. The
# machine may be shared, so each figure is printed beside the load average.
#
#   bench/raftpeer/compare.sh [TRANSFERS] [BATCH] [CLIENTS] [REPLICA_COUNTS] [NODE_COUNTS]
#
# Data files go under out/compare (a disk filesystem: O_DIRECT), removed
# after each run.
set -euo pipefail
cd "$(dirname "$0")/../.."
transfers=${1:-200000}
batch=${2:-8189}
clients=${3:-4}
replica_counts=${4:-"1 3 6"}
node_counts=${5:-"1 3"}
accounts=10000
seed=42
base_port=${BASE_PORT:-3101}
out=out/compare
mkdir -p "$out"
make -s build >/dev/null
(cd bench/raftpeer && go build -o ../../bin/raftpeer .)
load() { cut -d' ' -f1-3 /proc/loadavg; }

for n in $replica_counts; do
  dir=$(mktemp -d "$out/replicas-$n-XXXX")
  addrs=""
  for ((i = 0; i < n; i++)); do addrs="$addrs${addrs:+,}127.0.0.1:$((base_port + i))"; done
  pids=()
  for ((i = 0; i < n; i++)); do
    bin/replica format --cluster 0 --replica "$i" --replica-count "$n" "$dir/0_$i.viewstamp" 2>/dev/null
    bin/replica start --addresses "$addrs" "$dir/0_$i.viewstamp" 2>"$dir/replica$i.log" &
    pids+=($!)
  done
  echo "== replica benchmark, $n replicas (load average before: $(load))"
  bin/replica benchmark --cluster 0 --addresses "$addrs" --transfer-count "$transfers" \
    --batch-size "$batch" --account-count "$accounts" --clients "$clients" --seed "$seed" || echo "benchmark failed: $?"
  echo "load average after: $(load)"
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  wait "${pids[@]}" || true
  rm -rf "$dir"
done

for n in $node_counts; do
  echo "== etcd raft ledger, $n nodes (load average before: $(load))"
  bin/raftpeer --nodes "$n" --transfer-count "$transfers" --batch-size "$batch" \
    --account-count "$accounts" --clients "$clients" --seed "$seed" --dir "$out"
  echo "load average after: $(load)"
done
