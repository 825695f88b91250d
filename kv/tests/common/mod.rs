#![allow(dead_code)]
//! Helpers shared by the store's integration tests: reading and patching pool images by the
//! documented formats (docs/format.md §2, docs/kv.md).

use std::sync::Arc;

use pobj::crash::SimMedium;
use pobj_kv::Db;

pub(crate) fn u64_at(img: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_le_bytes(img[o..o + 8].try_into().expect("8 bytes"))
}

pub(crate) fn put_u64(img: &mut [u8], off: u64, v: u64) {
    let o = off as usize;
    img[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// The offset of the store's root object (`KvRoot`).
pub(crate) fn root(img: &[u8]) -> u64 {
    u64_at(img, 104)
}

/// The leaves in list order, from `KvRoot.head`.
pub(crate) fn leaves(img: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut p = u64_at(img, root(img) + 16);
    while p != 0 && out.len() < 10_000 {
        out.push(p);
        p = u64_at(img, p + 8);
    }
    out
}

pub(crate) const SLOT_BYTES: u64 = 128;
pub(crate) const SLOTS_AT: u64 = 64;

/// The inline key of slot `i` of the leaf at `leaf`.
pub(crate) fn inline_key(img: &[u8], leaf: u64, i: u64) -> Vec<u8> {
    let at = leaf + SLOTS_AT + i * SLOT_BYTES;
    let klen = (u64_at(img, at) & ((1 << 20) - 1)) as usize;
    img[(at + 8) as usize..(at + 8) as usize + klen].to_vec()
}

/// The valid slots of a leaf.
pub(crate) fn valid(img: &[u8], leaf: u64) -> Vec<u64> {
    let bitmap = u64_at(img, leaf);
    (0..39).filter(|i| bitmap & (1 << i) != 0).collect()
}

/// A store with `n` keys `key00000`.. on a simulated medium, closed; its persisted image.
pub(crate) fn store_image(n: usize) -> Vec<u8> {
    let (db, sim) = Db::create_simulated(4 << 20).expect("create");
    for i in 0..n {
        db.put(format!("key{i:05}"), format!("value{i}"))
            .expect("put");
    }
    drop(db);
    sim.persisted_image()
}

/// Opens a store on a fresh medium holding `img`.
pub(crate) fn open(img: &[u8]) -> pobj_kv::Result<Db> {
    Db::open_medium(SimMedium::from_image(img).expect("medium"))
}

pub(crate) fn medium(img: &[u8]) -> Arc<SimMedium> {
    SimMedium::from_image(img).expect("medium")
}
