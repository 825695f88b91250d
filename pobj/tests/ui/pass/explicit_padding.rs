// Padding made explicit with `_pad` fields is accepted, between fields and at the end.
use pobj::Persistent;

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Padded {
    tag: u8,
    _pad: [u8; 7],
    value: u64,
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Tail {
    value: u64,
    flag: u16,
    _pad: [u8; 6],
}

// `align(N)` is allowed when the fields fill the whole size.
#[derive(Persistent, Clone, Copy)]
#[repr(C, align(16))]
struct Line {
    a: u64,
    b: u32,
    _pad: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<Padded>() == 16);
const _: () = assert!(core::mem::size_of::<Tail>() == 16);
const _: () = assert!(core::mem::size_of::<Line>() == 16);

fn main() {
    let p = Padded {
        tag: 1,
        _pad: [0; 7],
        value: 2,
    };
    assert_eq!(pobj::as_bytes(&p)[0], 1);
    assert_eq!(p.value, 2);
    let t = Tail {
        value: 3,
        flag: 4,
        _pad: [0; 6],
    };
    assert_eq!(t.value + u64::from(t.flag), 7);
    let l = Line {
        a: 5,
        b: 6,
        _pad: [0; 4],
    };
    assert_eq!(l.a + u64::from(l.b), 11);
    assert_ne!(
        <Padded as Persistent>::TYPE_ID,
        <Tail as Persistent>::TYPE_ID
    );
    let _ = <Line as Persistent>::TYPE_ID;
}
