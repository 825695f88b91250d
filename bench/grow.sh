#!/usr/bin/env bash
# Growth's cost: `pkv bench` fills on a store created at the minimum size (it grows, by the
# default step) against a store created large enough, alternated in pairs in one run; prints
# each pair's ops/s and the median ratio (growing / fixed). Arguments: pairs (default 5) and
# keys (default 1000000), e.g.  bash bench/grow.sh 5 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-5}
keys=${2:-1000000}
cargo build --release -q -p pkv
pkv=target/release/pkv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq 1 "$pairs"); do
    for mode in fixed grow; do
        flag=""; [ "$mode" = grow ] && flag="--grow"
        "$pkv" bench --workloads fillrandom,fillseq --keys "$keys" $flag --json "$tmp/$mode-$i.json" >/dev/null
    done
done
python3 - "$tmp" "$pairs" <<'PY'
import json, sys, statistics
d, n = sys.argv[1], int(sys.argv[2])
def ops(f, w):
    r = json.load(open(f))["report"]["workloads"]
    return next(x["ops_per_sec"] for x in r if x["name"] == w)
for w in ["fillrandom", "fillseq"]:
    ratios = []
    for i in range(1, n + 1):
        a, b = ops(f"{d}/fixed-{i}.json", w), ops(f"{d}/grow-{i}.json", w)
        ratios.append(b / a)
        print(f"{w} pair {i}: fixed {a:,.0f} ops/s, growing {b:,.0f} ops/s, ratio {b / a:.3f}")
    print(f"{w}: median ratio growing/fixed {statistics.median(ratios):.3f} over {n} pairs")
PY
