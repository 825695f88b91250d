#!/usr/bin/env bash
# Installs what capi/build.sh built into PREFIX (lib/, include/, lib/pkgconfig/):
#   bash capi/build.sh && sudo bash capi/install.sh /usr/local
set -euo pipefail
prefix=${1:?usage: capi/install.sh PREFIX}
# Absolute before the cd below (a relative PREFIX names a place relative to the caller).
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
cd "$(dirname "$0")/.."
src=${CARGO_TARGET_DIR:-target}/capi
[[ -f $src/lib/libpmemkv.so.1 ]] || { echo "run capi/build.sh first" >&2; exit 1; }
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$src/lib/libpmemkv.so.1" "$src/lib/libpmemkv_json_config.so.1" "$prefix/lib/"
ln -sf libpmemkv.so.1 "$prefix/lib/libpmemkv.so"
ln -sf libpmemkv_json_config.so.1 "$prefix/lib/libpmemkv_json_config.so"
install -m 0644 "$src/include/libpmemkv.h" "$src/include/libpmemkv_json_config.h" "$prefix/include/"
for pc in libpmemkv libpmemkv_json_config; do
    sed "s|^prefix=.*|prefix=$prefix|" "$src/lib/pkgconfig/$pc.pc" > "$prefix/lib/pkgconfig/$pc.pc"
done
command -v ldconfig >/dev/null && [[ $(id -u) == 0 ]] && ldconfig || true
echo "installed into $prefix (pkg-config --libs libpmemkv with PKG_CONFIG_PATH=$prefix/lib/pkgconfig)"
