#!/usr/bin/env bash
# Installs what pobj-bench's peers need on a fresh Debian machine (idempotent): Debian's
# RocksDB (librocksdb-dev; the rocksdb crate 0.20 links it through ROCKSDB_LIB_DIR and runs
# bindgen, hence libclang-dev), PMDK's libpmemobj (libpmemobj-dev, which also ships the example
# B-tree compiled as the pmdk-btree peer), a C compiler (LMDB and the example B-tree) and
# pkg-config. redb and LMDB (heed) come from crates.io and need nothing here.
#
# Then: bash bench/run.sh   (the comparison; see docs/benchmarks.md)
set -euo pipefail

packages=(librocksdb-dev libpmemobj-dev libclang-dev pkg-config gcc libc6-dev)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "bench/setup.sh: everything is installed (${packages[*]})"
else
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "bench/setup.sh: need root (or sudo) to install: ${missing[*]}" >&2
            exit 1
        fi
    fi
    echo "bench/setup.sh: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Where the RocksDB library is (bench/run.sh passes it to the rocksdb crate's build).
lib=$(dpkg -L librocksdb-dev | grep -m1 '/librocksdb\.so$' || true)
if [ -z "$lib" ]; then
    echo "bench/setup.sh: librocksdb.so not found in librocksdb-dev" >&2
    exit 1
fi
echo "bench/setup.sh: RocksDB $(dpkg-query -W -f='${Version}' librocksdb-dev) in $(dirname "$lib");" \
     "PMDK $(dpkg-query -W -f='${Version}' libpmemobj-dev)"
if [ -f /usr/share/doc/libpmemobj-dev/examples/tree_map/btree_map.c ]; then
    echo "bench/setup.sh: PMDK's example B-tree: /usr/share/doc/libpmemobj-dev/examples/tree_map/btree_map.c"
fi
