#!/usr/bin/env bash
# crossdet.sh: a seed must mean the same run on every CPU, not only on the
# machine that found it. Builds vopr for several targets, runs seeds 1..SEEDS
# on each (foreign ones under qemu user emulation) and fails if any run record
# differs from the host's amd64 v1 build.
#
# Targets:
#   amd64-v1         the reference, natively
#   amd64-v3         GOAMD64=v3: gc fuses x*y+z into FMA (natively if the CPU
#                    has v3, else under qemu-x86_64 -cpu max)
#   amd64-v1-nofma   the same v1 binary on a CPU without FMA (qemu-x86_64
#                    -cpu Nehalem): math.Exp picks its code path at run time
#   arm64            GOARCH=arm64 under qemu-aarch64: FMA everywhere, and
#                    pure-Go math.Log/Log1p/Pow compiled with it
# A target whose runner is missing is skipped with a message; install
# qemu-user (Debian: apt-get install qemu-user) to run them all.
#
# Usage: tools/crossdet.sh            (from the module root)
#        SEEDS=100 tools/crossdet.sh
set -euo pipefail

SEEDS=${SEEDS:-30}
GO=${GO:-go}
# Nehalem is the newest qemu model without AVX or FMA.
NOFMA_CPU=${NOFMA_CPU:-Nehalem}

host=$($GO env GOHOSTARCH)
if [[ $host != amd64 ]]; then
	echo "crossdet: the reference is amd64 v1 run natively; this host is $host" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

has_v3() {
	# GOAMD64=v3 needs AVX2, BMI1/2, FMA, F16C, LZCNT and MOVBE; a v3 binary
	# refuses to start without them, so check before running it natively.
	local f
	for f in avx2 bmi1 bmi2 fma f16c abm movbe; do
		grep -qw "$f" /proc/cpuinfo || return 1
	done
}

names=()
declare -A runner
add() { # name, runner command (empty: native)
	names+=("$1")
	runner[$1]=$2
}

add amd64-v1 ""
if has_v3; then
	add amd64-v3 ""
elif command -v qemu-x86_64 >/dev/null; then
	add amd64-v3 "qemu-x86_64 -cpu max"
else
	echo "crossdet: skipping amd64-v3: this CPU lacks x86-64-v3 and qemu-x86_64 is not installed" >&2
fi
if command -v qemu-x86_64 >/dev/null; then
	add amd64-v1-nofma "qemu-x86_64 -cpu $NOFMA_CPU"
else
	echo "crossdet: skipping amd64-v1-nofma: qemu-x86_64 is not installed (apt-get install qemu-user)" >&2
fi
if command -v qemu-aarch64 >/dev/null; then
	add arm64 "qemu-aarch64"
else
	echo "crossdet: skipping arm64: qemu-aarch64 is not installed (apt-get install qemu-user)" >&2
fi

for name in "${names[@]}"; do
	case $name in
	amd64-v1 | amd64-v1-nofma) [[ -x $work/amd64-v1 ]] || GOARCH=amd64 GOAMD64=v1 $GO build -trimpath -o "$work/amd64-v1" ./cmd/vopr ;;
	amd64-v3) GOARCH=amd64 GOAMD64=v3 $GO build -trimpath -o "$work/amd64-v3" ./cmd/vopr ;;
	arm64) GOARCH=arm64 $GO build -trimpath -o "$work/arm64" ./cmd/vopr ;;
	esac
done

bin() { [[ $1 == amd64-v1-nofma ]] && echo "$work/amd64-v1" || echo "$work/$1"; }

# One line per seed: the exit code, then the whole run record, which holds
# the drawn options (to the last bit of every probability) and trace_hash.
for name in "${names[@]}"; do
	start=$SECONDS
	for seed in $(seq 1 "$SEEDS"); do
		code=0
		rec=$(${runner[$name]} "$(bin "$name")" --seed "$seed" --json) || code=$?
		echo "exit=$code $rec"
	done >"$work/$name.out"
	echo "crossdet: $name: $SEEDS seeds in $((SECONDS - start)) s" >&2
done

hash() { grep -o '"trace_hash":"[^"]*"' <<<"$1" | cut -d'"' -f4; }

fail=0
for name in "${names[@]:1}"; do
	differ=0
	for seed in $(seq 1 "$SEEDS"); do
		a=$(sed -n "${seed}p" "$work/amd64-v1.out")
		b=$(sed -n "${seed}p" "$work/$name.out")
		[[ $a == "$b" ]] && continue
		differ=$((differ + 1))
		echo "seed $seed: $name differs from amd64-v1 (trace_hash $(hash "$a") vs $(hash "$b")):"
		diff <(tr ',' '\n' <<<"$a") <(tr ',' '\n' <<<"$b") | grep '^[<>]' | head -6 | sed 's/^/    /' || true
	done
	if ((differ > 0)); then
		echo "crossdet: $name: $differ of $SEEDS seeds differ from amd64-v1"
		fail=1
	else
		echo "crossdet: $name: all $SEEDS seeds match amd64-v1"
	fi
done
exit $fail
