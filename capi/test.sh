#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
# Builds the pmemkv-compatible C libraries (capi/build.sh --debug) and tests them as a C
# program, a C++ compiler and a Python binding would see them: the headers, the exported
# symbols and their versions, the sonames, the pkg-config files, the C test programs (also
# under valgrind when it is installed) and a ctypes script. One summary line per step, then
# "capi: N passed, N failed".

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=${CARGO_TARGET_DIR:-target}/capi
LIB=$OUT/lib
# Absolute for rpaths and PKG_CONFIG_PATH (CARGO_TARGET_DIR may be either).
case $LIB in
/*) LIB_ABS=$LIB ;;
*) LIB_ABS=$ROOT/$LIB ;;
esac
INC=$OUT/include
TESTS=$OUT/tests
# Not under $OUT, which the build may remove and remake.
LOGS=${CARGO_TARGET_DIR:-target}/capi-test-logs
PROGRAMS=(config basic comparator tx iterator)
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pthread)
# A test program that runs longer than this (seconds) has hung.
TIMEOUT=${CAPI_TEST_TIMEOUT:-900}

passed=0
failed=0
skipped=0

pass() {
	echo "PASS: $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL: $1"
	failed=$((failed + 1))
}
skip() {
	echo "SKIPPED: $1"
	skipped=$((skipped + 1))
}

summary() {
	if [ "$skipped" -gt 0 ]; then
		echo "capi: $passed passed, $failed failed, $skipped skipped"
	else
		echo "capi: $passed passed, $failed failed"
	fi
}

# step NAME CMD...: runs CMD with its output in a log, shown only when it fails.
step() {
	local name=$1
	shift
	local log
	log="$LOGS/$(echo "$name" | tr -c 'A-Za-z0-9_.-' '_').log"
	if "$@" >"$log" 2>&1; then
		pass "$name"
	else
		fail "$name (exit $?; log $log)"
		sed 's/^/    /' "$log" | tail -n 60
	fi
}

# The exported function names declared by a header: declarations start a line with their
# return type, and their continuation lines are indented (typedefs are left out).
declared() {
	grep -E '^[A-Za-z]' "$1" | grep -v '^typedef' |
		sed -nE 's/^[^(]*[ *](pmemkv_[a-z0-9_]+)\(.*/\1/p' | sort
}

# check_exports SO HEADER... VERSION SONAME: the library defines exactly the functions the
# headers declare (plus the version node's own symbol), each at VERSION, and has SONAME.
check_exports() {
	local so=$1 version=${*: -2:1} soname=${*: -1}
	local headers=("${@:2:$#-3}")
	local want got extra
	want=$(for h in "${headers[@]}"; do declared "$h"; done | sort -u)
	[ -n "$want" ] || {
		echo "no declarations found in ${headers[*]}"
		return 1
	}
	echo "declared: $(echo "$want" | wc -l) functions"

	# nm: every defined dynamic symbol is a declared function (type T) or the version node.
	local nm_out
	nm_out=$(nm -D --defined-only "$so" | sed -E 's/@.*//')
	extra=$(echo "$nm_out" | awk -v v="$version" '!(($2 == "T" && $3 ~ /^pmemkv_/) || ($2 == "A" && $3 == v))')
	if [ -n "$extra" ]; then
		echo "unexpected exported symbols:"
		echo "$extra"
		return 1
	fi
	got=$(echo "$nm_out" | awk '$2 == "T" { print $3 }' | sort -u)
	echo "exported: $(echo "$got" | grep -c . || true) functions"
	if [ "$got" != "$want" ]; then
		echo "exported and declared functions differ (< declared, > exported):"
		diff <(echo "$want") <(echo "$got") || true
		return 1
	fi

	# objdump -T: each at the default version VERSION.
	local objdump_out missing=0 name
	objdump_out=$(objdump -T "$so")
	for name in $want; do
		if ! grep -qE "[[:space:]]${version//./\\.}[[:space:]]+${name}\$" <<<"$objdump_out"; then
			echo "not at version $version: $name"
			grep -E "[[:space:]]${name}\$" <<<"$objdump_out" || true
			missing=1
		fi
	done
	[ "$missing" = 0 ] || return 1

	# readelf -d: the soname.
	local dynamic
	dynamic=$(readelf -d "$so")
	if ! grep -qF "Library soname: [$soname]" <<<"$dynamic"; then
		echo "soname is not $soname:"
		grep SONAME <<<"$dynamic" || true
		return 1
	fi
	echo "all at $version, soname $soname"
}

check_layout() {
	local f ok=0
	for f in "$LIB/libpmemkv.so.1" "$LIB/libpmemkv.so" "$LIB/libpmemkv_json_config.so.1" \
		"$LIB/libpmemkv_json_config.so" "$LIB/pkgconfig/libpmemkv.pc" \
		"$LIB/pkgconfig/libpmemkv_json_config.pc"; do
		[ -e "$f" ] || {
			echo "missing: $f"
			ok=1
		}
	done
	for f in libpmemkv.so libpmemkv_json_config.so; do
		[ -L "$LIB/$f" ] || {
			echo "not a symbolic link: $LIB/$f"
			ok=1
		}
	done
	for f in capi/include/*.h; do
		cmp "$f" "$INC/$(basename "$f")" || ok=1
	done
	return $ok
}

# The tests call every declared function and expect every status code but
# PMEMKV_STATUS_DEFRAG_ERROR, which the library never returns.
check_coverage() {
	local name code ok=0
	for name in $(declared capi/include/libpmemkv.h) $(declared capi/include/libpmemkv_json_config.h); do
		grep -qE "\\b${name}\\(" capi/tests/c/*.c || {
			echo "no C test calls $name"
			ok=1
		}
	done
	for code in $(sed -nE 's/^#define (PMEMKV_STATUS_[A-Z_]+) [0-9]+$/\1/p' capi/include/libpmemkv.h); do
		[ "$code" = PMEMKV_STATUS_DEFRAG_ERROR ] && continue
		grep -qw "$code" capi/tests/c/*.c || {
			echo "no C test expects $code"
			ok=1
		}
	done
	return $ok
}

compile_one() {
	cc "${CFLAGS[@]}" -I "$INC" -o "$TESTS/$1" "capi/tests/c/$1.c" -L "$LIB" -lpmemkv \
		-lpmemkv_json_config -Wl,-rpath,"$LIB_ABS"
}

compile_all() {
	local p
	for p in "${PROGRAMS[@]}"; do
		compile_one "$p" || return 1
	done
}

compile_with_pkg_config() {
	local flags
	flags=$(PKG_CONFIG_PATH="$LIB_ABS/pkgconfig" pkg-config --cflags --libs libpmemkv libpmemkv_json_config)
	echo "pkg-config: $flags"
	# shellcheck disable=SC2086 # the flags are words
	cc "${CFLAGS[@]}" -o "$TESTS/config_pc" capi/tests/c/config.c $flags -Wl,-rpath,"$LIB_ABS" &&
		run_program config_pc
}

# The headers compile as C (strict) and C++, alone and beside libpmemobj's definition of
# PMEMoid, in either order.
check_headers() {
	local src=$TESTS/headers
	local pmemoid='typedef struct pmemoid { uint64_t pool_uuid_lo; uint64_t off; } PMEMoid;'
	printf '#include <libpmemkv.h>\n#include <libpmemkv_json_config.h>\nint main(void) { return 0; }\n' >"$src.c"
	printf '#include <stdint.h>\n%s\n#include <libpmemkv.h>\nint main(void) { PMEMoid o = {1, 2}; return pmemkv_config_put_oid(0, &o) == 4 ? 0 : 1; }\n' "$pmemoid" >"$src-oid1.c"
	printf '#include <libpmemkv.h>\n%s\nint main(void) { PMEMoid o = {1, 2}; return pmemkv_config_put_oid(0, &o) == 4 ? 0 : 1; }\n' "$pmemoid" >"$src-oid2.c"
	local f
	for f in "$src.c" "$src-oid1.c" "$src-oid2.c"; do
		cc -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I "$INC" "$f" || return 1
		if command -v c++ >/dev/null; then
			c++ -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c++ -I "$INC" "$f" || return 1
		fi
	done
}

check_cxx() {
	echo '#include <libpmemkv.h>
#include <libpmemkv_json_config.h>' | c++ -std=c++11 -fsyntax-only -x c++ -I "$INC" -
}

# scratch: a fresh, empty directory on /dev/shm (or the temporary directory), or a failure (a
# step never runs in an empty "" path, which would put its pools in /).
scratch() {
	local base=/dev/shm d
	[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
	d=$(mktemp -d "$base/capi.XXXXXX") || return 1
	[ -n "$d" ] && [ -d "$d" ] || return 1
	echo "$d"
}

# run_program NAME [WRAPPER...]: runs a test program in a fresh scratch directory.
run_program() {
	local name=$1
	shift
	local dir rc=0
	dir=$(scratch) || return 1
	timeout "$TIMEOUT" "$@" "$TESTS/$name" "$dir" || rc=$?
	rm -rf "$dir"
	return $rc
}

run_python() {
	local dir rc=0
	dir=$(scratch) || return 1
	timeout "$TIMEOUT" python3 capi/tests/python/check.py "$LIB/libpmemkv.so.1" "$dir" || rc=$?
	rm -rf "$dir"
	return $rc
}

mkdir -p "$LOGS"

# The build is a prerequisite of everything else: stop when it fails.
if ! bash capi/build.sh --debug >"$LOGS/build.log" 2>&1; then
	fail "build (capi/build.sh --debug; log $LOGS/build.log)"
	tail -n 60 "$LOGS/build.log" | sed 's/^/    /'
	summary
	exit 1
fi
pass "build"
mkdir -p "$TESTS"

step "layout (libraries, links, pkg-config files, headers)" check_layout
step "tests cover every function and status code" check_coverage
step "headers compile as C11 and C++11, with libpmemobj's PMEMoid" check_headers
if command -v c++ >/dev/null; then
	step "C++ compile of both headers" check_cxx
else
	skip "C++ compile of both headers (no c++)"
fi
step "exports of libpmemkv.so.1" check_exports "$LIB/libpmemkv.so.1" capi/include/libpmemkv.h \
	LIBPMEMKV_1.0 libpmemkv.so.1
step "exports of libpmemkv_json_config.so.1" check_exports "$LIB/libpmemkv_json_config.so.1" \
	capi/include/libpmemkv_json_config.h LIBPMEMKV_JSON_CONFIG_1.0 libpmemkv_json_config.so.1

if ! compile_all >"$LOGS/compile.log" 2>&1; then
	fail "compile C tests (${PROGRAMS[*]}; log $LOGS/compile.log)"
	tail -n 60 "$LOGS/compile.log" | sed 's/^/    /'
	summary
	exit 1
fi
pass "compile C tests (${PROGRAMS[*]})"
if command -v pkg-config >/dev/null; then
	step "compile (pkg-config --cflags --libs) and run config" compile_with_pkg_config
else
	skip "compile with pkg-config flags (no pkg-config)"
fi

for p in "${PROGRAMS[@]}"; do
	step "run $p" run_program "$p"
done

# valgrind_one NAME: one program under memcheck; its output in a log, its status in a file.
valgrind_one() {
	local p=$1 rc=0
	run_program "$p" valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=99 -q >"$LOGS/valgrind_$p.log" 2>&1 || rc=$?
	echo "$rc" >"$LOGS/valgrind_$p.rc"
}

if command -v valgrind >/dev/null; then
	# Two at a time: valgrind runs a program on one core, and the machine has two.
	running=()
	for p in "${PROGRAMS[@]}"; do
		rm -f "$LOGS/valgrind_$p.rc"
		valgrind_one "$p" &
		running+=($!)
		if [ "${#running[@]}" -ge 2 ]; then
			wait "${running[0]}" || true
			running=("${running[@]:1}")
		fi
	done
	wait || true
	for p in "${PROGRAMS[@]}"; do
		rc=$(cat "$LOGS/valgrind_$p.rc" 2>/dev/null || echo missing)
		if [ "$rc" = 0 ]; then
			pass "valgrind $p"
		else
			fail "valgrind $p (exit $rc; log $LOGS/valgrind_$p.log)"
			sed 's/^/    /' "$LOGS/valgrind_$p.log" | tail -n 60
		fi
	done
else
	skip "valgrind runs (valgrind is not installed)"
fi

if command -v python3 >/dev/null; then
	step "python ctypes check" run_python
else
	skip "python ctypes check (no python3)"
fi

summary
[ "$failed" = 0 ]
