#!/usr/bin/env bash
# Builds libpmemkv.so.1 and libpmemkv_json_config.so.1 (pmemkv 1.5's C interface on pobj-kv)
# into target/capi: lib/ (the libraries, their .so links, pkgconfig/) and include/ (the headers).
#
#   bash capi/build.sh            # release build
#   bash capi/build.sh --debug    # the dev profile (what capi/test.sh uses: shares the test build)
#
# Rust gives a cdylib its own version script, so each library is a staticlib relinked with cc:
# every exported function in pmemkv's symbol version, nothing else exported, pmemkv's soname.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
cargo_profile=(--release)
if [[ "${1:-}" == "--debug" ]]; then
    profile=debug
    cargo_profile=()
fi
target_dir=${CARGO_TARGET_DIR:-target}
cargo build "${cargo_profile[@]}" -p pobj-capi -p pobj-capi-json
out=$target_dir/capi
mkdir -p "$out/lib/pkgconfig" "$out/include"
cp capi/include/libpmemkv.h capi/include/libpmemkv_json_config.h "$out/include/"
lib="$out/lib"
# The system libraries Rust's std needs in a shared object.
syslibs=(-lpthread -ldl -lm -lrt -lc -lgcc_s)
cc -shared -o "$lib/libpmemkv.so.1" \
    -Wl,--whole-archive "$target_dir/$profile/libpobj_capi.a" -Wl,--no-whole-archive \
    -Wl,--version-script=capi/libpmemkv.map -Wl,-soname,libpmemkv.so.1 \
    -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,--no-undefined "${syslibs[@]}"
ln -sf libpmemkv.so.1 "$lib/libpmemkv.so"
cc -shared -o "$lib/libpmemkv_json_config.so.1" \
    -Wl,--whole-archive "$target_dir/$profile/libpobj_capi_json.a" -Wl,--no-whole-archive \
    -Wl,--version-script=capi/libpmemkv_json_config.map -Wl,-soname,libpmemkv_json_config.so.1 \
    -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,--no-undefined \
    -L"$lib" -lpmemkv "${syslibs[@]}"
ln -sf libpmemkv_json_config.so.1 "$lib/libpmemkv_json_config.so"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# pkg-config files for this tree; install.sh rewrites the prefix.
prefix=$(cd "$out" && pwd)
cat > "$lib/pkgconfig/libpmemkv.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libpmemkv
Description: pmemkv's C interface on pobj-kv, a persistent key-value store
Version: 1.5.0
URL: https://github.com/pobj/pobj
Libs: -L\${libdir} -lpmemkv
Cflags: -I\${includedir}
PC
cat > "$lib/pkgconfig/libpmemkv_json_config.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libpmemkv_json_config
Description: pmemkv configs from JSON (pobj-kv's libpmemkv)
Version: 1.5.0
Requires: libpmemkv
Libs: -L\${libdir} -lpmemkv_json_config
Cflags: -I\${includedir}
PC
echo "built $lib/libpmemkv.so.1 and $lib/libpmemkv_json_config.so.1 ($profile; pobj $version), headers in $out/include"
