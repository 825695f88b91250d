// A plain `#[repr(C)]` struct of integers, floats, arrays and persistent pointers.
use core::mem::size_of;
use pobj::{PBytes, PPtr, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Plain {
    a: u64,
    b: i64,
    c: [u32; 2],
    d: [i16; 4],
    e: [u8; 8],
    f: f64,
    i: u128,
    g: f32,
    h: i32,
    j: PPtr<u64>,
    k: PPtr<[u8; 16]>,
    l: PBytes,
    m: [[u16; 2]; 2],
    n: [i8; 8],
}

fn main() {
    let v: Plain = pobj::zeroed();
    assert_eq!(pobj::as_bytes(&v).len(), size_of::<Plain>());
    assert_eq!(
        size_of::<Plain>(),
        8 + 8 + 8 + 8 + 8 + 8 + 16 + 4 + 4 + 8 + 8 + 8 + 8 + 8
    );
    assert!(v.j.is_null() && v.k.is_null() && v.l.is_null());
    assert_eq!((v.a, v.b, v.c[0], v.i), (0, 0, 0, 0));
    assert_eq!((v.d[0], v.e[0], v.f, v.g, v.h), (0, 0, 0.0, 0.0, 0));
    assert_eq!((v.m[1][1], v.n[7]), (0, 0));
    let back: Plain = pobj::from_bytes(pobj::as_bytes(&v)).unwrap();
    assert_eq!(back.a, 0);
    assert_ne!(<Plain as Persistent>::TYPE_ID, 0);
}
