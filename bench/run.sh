#!/usr/bin/env bash
# The comparison with every peer: pobj-bench built with the features `peers` (RocksDB, PMDK,
# redb, LMDB) against Debian's libraries (run bench/setup.sh first). Arguments go to
# pobj-bench, e.g.  bash bench/run.sh kv --keys 1000000 --workloads fillrandom,readrandom
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ROCKSDB_LIB_DIR:-}" ]; then
    lib=$(dpkg -L librocksdb-dev 2>/dev/null | grep -m1 '/librocksdb\.so$' || true)
    if [ -z "$lib" ]; then
        echo "bench/run.sh: librocksdb-dev is not installed; run: bash bench/setup.sh" >&2
        exit 1
    fi
    ROCKSDB_LIB_DIR=$(dirname "$lib")
fi
export ROCKSDB_LIB_DIR
exec cargo run --release -p pobj-bench --features peers -- "$@"
