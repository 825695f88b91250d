# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Drives the pmemkv C interface from Python through ctypes, as a binding would.

Usage: check.py PATH/TO/libpmemkv.so.1 SCRATCH_DIR

Exits 0 when every check passes, else prints the first failure and exits 1.
"""

import ctypes as C
import os
import sys

OK, NOT_FOUND, WRONG_ENGINE_NAME = 0, 2, 9
N = 1000


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class WriteIterator(C.Structure):
    _fields_ = [("iter", C.c_void_p)]


KV_CB = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_size_t, C.c_void_p, C.c_size_t, C.c_void_p)
V_CB = C.CFUNCTYPE(None, C.c_void_p, C.c_size_t, C.c_void_p)

P = C.c_void_p
SZ = C.c_size_t
PSZ = C.POINTER(C.c_size_t)
KEY = C.c_char_p

SIGNATURES = {
    "pmemkv_config_new": (P, []),
    "pmemkv_config_delete": (None, [P]),
    "pmemkv_config_put_path": (C.c_int, [P, C.c_char_p]),
    "pmemkv_config_put_size": (C.c_int, [P, C.c_uint64]),
    "pmemkv_config_put_create_if_missing": (C.c_int, [P, C.c_bool]),
    "pmemkv_open": (C.c_int, [C.c_char_p, P, C.POINTER(P)]),
    "pmemkv_close": (None, [P]),
    "pmemkv_errormsg": (C.c_char_p, []),
    "pmemkv_put": (C.c_int, [P, KEY, SZ, KEY, SZ]),
    "pmemkv_get": (C.c_int, [P, KEY, SZ, V_CB, P]),
    "pmemkv_get_copy": (C.c_int, [P, KEY, SZ, C.c_char_p, SZ, PSZ]),
    "pmemkv_count_all": (C.c_int, [P, PSZ]),
    "pmemkv_count_above": (C.c_int, [P, KEY, SZ, PSZ]),
    "pmemkv_count_between": (C.c_int, [P, KEY, SZ, KEY, SZ, PSZ]),
    "pmemkv_get_between": (C.c_int, [P, KEY, SZ, KEY, SZ, KV_CB, P]),
    "pmemkv_iterator_new": (C.c_int, [P, C.POINTER(P)]),
    "pmemkv_iterator_delete": (None, [P]),
    "pmemkv_iterator_seek": (C.c_int, [P, KEY, SZ]),
    "pmemkv_iterator_seek_to_first": (C.c_int, [P]),
    "pmemkv_iterator_seek_to_last": (C.c_int, [P]),
    "pmemkv_iterator_next": (C.c_int, [P]),
    "pmemkv_iterator_prev": (C.c_int, [P]),
    "pmemkv_iterator_key": (C.c_int, [P, C.POINTER(P), PSZ]),
    "pmemkv_iterator_read_range": (C.c_int, [P, SZ, SZ, C.POINTER(P), PSZ]),
    "pmemkv_write_iterator_new": (C.c_int, [P, C.POINTER(C.POINTER(WriteIterator))]),
    "pmemkv_write_iterator_delete": (None, [C.POINTER(WriteIterator)]),
    "pmemkv_write_iterator_write_range": (
        C.c_int,
        [C.POINTER(WriteIterator), SZ, SZ, C.POINTER(P), PSZ],
    ),
    "pmemkv_write_iterator_commit": (C.c_int, [C.POINTER(WriteIterator)]),
}


def load(path):
    lib = C.CDLL(path)
    for name, (res, args) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


class Store:
    def __init__(self, lib):
        self.lib = lib

    def call(self, name, *args, want=OK):
        rc = getattr(self.lib, name)(*args)
        if rc != want:
            msg = self.lib.pmemkv_errormsg().decode(errors="replace")
            raise Failure(f"{name} returned {rc}, expected {want}: {msg!r}")
        return rc

    def open(self, path, create):
        cfg = self.lib.pmemkv_config_new()
        check(cfg, "pmemkv_config_new returned NULL")
        self.call("pmemkv_config_put_path", cfg, path.encode())
        if create:
            self.call("pmemkv_config_put_size", cfg, 64 << 20)
            self.call("pmemkv_config_put_create_if_missing", cfg, True)
        db = C.c_void_p()
        self.call("pmemkv_open", b"cmap", cfg, C.byref(db))  # consumes cfg
        check(db.value, "pmemkv_open gave a NULL db")
        return db

    def get(self, db, key):
        got = []

        @V_CB
        def cb(v, vb, _arg):
            got.append(C.string_at(v, vb) if vb else b"")

        self.call("pmemkv_get", db, key, len(key), cb, None)
        check(len(got) == 1, f"get callback called {len(got)} times")
        return got[0]

    def count(self, name, db, *keys):
        cnt = C.c_size_t(12345)
        args = []
        for k in keys:
            args += [k, len(k)]
        self.call(name, db, *args, C.byref(cnt))
        return cnt.value

    def iter_key(self, it):
        k = C.c_void_p()
        kb = C.c_size_t()
        self.call("pmemkv_iterator_key", it, C.byref(k), C.byref(kb))
        return C.string_at(k.value, kb.value) if kb.value else b""

    def iter_read(self, it, pos=0, n=1 << 30):
        d = C.c_void_p()
        rb = C.c_size_t()
        self.call("pmemkv_iterator_read_range", it, pos, n, C.byref(d), C.byref(rb))
        return C.string_at(d.value, rb.value) if rb.value else b""


def key(i):
    return b"key%04d" % i


def value(i):
    return b"value-%d" % i


def run(lib, scratch):
    s = Store(lib)
    path = os.path.join(scratch, "python.pool")

    # An error leaves a message naming the function.
    cfg = lib.pmemkv_config_new()
    db = C.c_void_p()
    s.call("pmemkv_open", b"no_such_engine", cfg, C.byref(db), want=WRONG_ENGINE_NAME)
    check(lib.pmemkv_errormsg().startswith(b"[pmemkv_open]"), "errormsg prefix")

    db = s.open(path, create=True)
    for i in range(N):
        s.call("pmemkv_put", db, key(i), len(key(i)), value(i), len(value(i)))

    check(s.get(db, key(500)) == value(500), "get key0500")
    missing = b"nokey"
    s.call("pmemkv_get", db, missing, len(missing), V_CB(lambda *a: None), None, want=NOT_FOUND)

    buf = C.create_string_buffer(64)
    vs = C.c_size_t()
    s.call("pmemkv_get_copy", db, key(7), len(key(7)), buf, 64, C.byref(vs))
    check(vs.value == len(value(7)) and buf.raw[: vs.value] == value(7), "get_copy")
    check(buf.raw[vs.value :] == b"\0" * (64 - vs.value), "get_copy zero fill")

    check(s.count("pmemkv_count_all", db) == N, "count_all")
    check(s.count("pmemkv_count_above", db, key(899)) == 100, "count_above")
    check(s.count("pmemkv_count_between", db, key(100), key(200)) == 99, "count_between")

    seen = []

    @KV_CB
    def collect(k, kb, v, vb, _arg):
        seen.append((C.string_at(k, kb), C.string_at(v, vb)))
        return 0

    s.call("pmemkv_get_between", db, key(100), len(key(100)), key(200), len(key(200)), collect, None)
    check(seen == [(key(i), value(i)) for i in range(101, 200)], "get_between order")

    it = C.c_void_p()
    s.call("pmemkv_iterator_new", db, C.byref(it))
    s.call("pmemkv_iterator_seek_to_first", it)
    keys = [s.iter_key(it)]
    while lib.pmemkv_iterator_next(it) == OK:
        keys.append(s.iter_key(it))
    check(keys == [key(i) for i in range(N)], "iteration forwards")
    s.call("pmemkv_iterator_seek_to_last", it)
    check(s.iter_key(it) == key(N - 1), "seek_to_last")
    s.call("pmemkv_iterator_prev", it)
    check(s.iter_key(it) == key(N - 2), "prev")
    check(s.iter_read(it) == value(N - 2), "read_range whole")
    check(s.iter_read(it, 2, 3) == value(N - 2)[2:5], "read_range part")
    s.call("pmemkv_iterator_seek", it, key(3), len(key(3)))
    check(s.iter_key(it) == key(3), "seek")
    lib.pmemkv_iterator_delete(it)

    wit = C.POINTER(WriteIterator)()
    s.call("pmemkv_write_iterator_new", db, C.byref(wit))
    s.call("pmemkv_iterator_seek", wit.contents.iter, key(42), len(key(42)))
    d = C.c_void_p()
    wb = C.c_size_t()
    s.call("pmemkv_write_iterator_write_range", wit, 0, 5, C.byref(d), C.byref(wb))
    check(wb.value == 5 and C.string_at(d.value, 5) == b"value", "write_range contents")
    C.memmove(d.value, b"VALUE", 5)
    check(s.get(db, key(42)) == value(42), "write_range invisible before commit")
    s.call("pmemkv_write_iterator_commit", wit)
    check(s.get(db, key(42)) == b"VALUE-42", "write_range committed")
    lib.pmemkv_write_iterator_delete(wit)

    lib.pmemkv_close(db)

    db = s.open(path, create=False)
    check(s.count("pmemkv_count_all", db) == N, "count after reopen")
    check(s.get(db, key(42)) == b"VALUE-42", "write after reopen")
    check(s.get(db, key(999)) == value(999), "value after reopen")
    lib.pmemkv_close(db)


def main():
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} LIBPMEMKV_SO SCRATCH_DIR", file=sys.stderr)
        return 2
    try:
        run(load(sys.argv[1]), sys.argv[2])
    except Failure as e:
        print(f"FAIL check.py: {e}", file=sys.stderr)
        return 1
    print("check.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
