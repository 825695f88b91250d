//! Regression (soundness issue, defect 6): the undo-log walk followed a `NEXT` link back to a
//! buffer it had already walked; with the same nonce its entries validated again, so a crafted
//! file cost up to ~128 GiB of CRC work per open, bounded only by the hop count. A link must now
//! lead to the payload of a whole chunk that no walk of this recovery has entered.

mod common;

use std::sync::{Arc, Mutex};

use pobj::{Error, PBytes, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    data: PBytes,
}

const KIND_NEXT: u32 = 4;
const EXT_CAPACITY: u64 = 262_144 - 64;

fn seed(lane: u32, nonce: u64) -> u32 {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&lane.to_le_bytes());
    b[4..].copy_from_slice(&nonce.to_le_bytes());
    crc32c::crc32c(&b)
}

/// An entry header at `at`: (generation, offset, aux, kind, checksum).
fn entry(img: &[u8], at: u64) -> (u64, u64, u64, u32, u32) {
    let a = at as usize;
    let u32_at = |o: usize| u32::from_le_bytes(img[o..o + 4].try_into().unwrap());
    (
        common::u64_at(img, at),
        common::u64_at(img, at + 8),
        common::u64_at(img, at + 16),
        u32_at(a + 24),
        u32_at(a + 28),
    )
}

fn data_len(kind: u32, aux: u64) -> u64 {
    match kind {
        1 => aux,
        4 => 8,
        _ => 0,
    }
}

fn checksum(seed: u32, img: &[u8], at: u64, dlen: u64) -> u32 {
    let a = at as usize;
    let c = crc32c::crc32c_append(seed, &img[a..a + 28]);
    crc32c::crc32c_append(c, &img[a + 32..a + 32 + dlen as usize])
}

/// Writes a `NEXT` entry at `at` of a buffer with `buf_seed`.
fn write_next(img: &mut [u8], at: u64, gen: u64, to: u64, nonce: u64, buf_seed: u32) {
    common::put_u64(img, at, gen);
    common::put_u64(img, at + 8, to);
    common::put_u64(img, at + 16, EXT_CAPACITY);
    let a = at as usize;
    img[a + 24..a + 28].copy_from_slice(&KIND_NEXT.to_le_bytes());
    common::put_u64(img, at + 32, nonce);
    let c = checksum(buf_seed, img, at, 8);
    img[a + 28..a + 32].copy_from_slice(&c.to_le_bytes());
}

/// A post-crash image whose lane holds an unfinished transaction whose log continues in an
/// extension (a 64 KiB snapshot does not fit the lane's 8 KiB buffer), and where that is.
fn image_with_extension() -> (Vec<u8>, u32, u64, u64, u64, u64) {
    let (pool, sim) = Pool::<Root>::create_simulated("r6", 4 << 20).unwrap();
    pool.transaction(|tx| {
        let b = tx.alloc_bytes_zeroed(64 << 10)?;
        tx.root_mut()?.data = b;
        Ok::<_, Error>(())
    })
    .unwrap();
    let images: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let i2 = Arc::clone(&images);
    sim.set_hook(Some(Box::new(move |cp| {
        i2.lock().unwrap().push(cp.working());
    })));
    let data = pool.root().unwrap().data;
    pool.transaction(|tx| {
        tx.bytes_mut(data)?.fill(0xAB);
        Ok::<_, Error>(())
    })
    .unwrap();
    sim.set_hook(None);
    drop(pool);
    // The first image in which some lane's log starts with a valid NEXT entry.
    for img in images.lock().unwrap().iter() {
        let g = common::geometry(img);
        for lane in 0..g.lane_count as u32 {
            let l = g.lane_offset + u64::from(lane) * g.lane_size;
            let gen = common::u64_at(img, l);
            let at = l + 64;
            let (eg, off, aux, kind, sum) = entry(img, at);
            if eg == gen && kind == KIND_NEXT && sum == checksum(seed(lane, 0), img, at, 8) {
                let nonce = common::u64_at(img, at + 32);
                // Walk the extension's valid entries to find where they end.
                let s = seed(lane, nonce);
                let mut pos = 0;
                loop {
                    let (eg, _, eaux, ekind, esum) = entry(img, off + pos);
                    let d = data_len(ekind, eaux);
                    if eg != gen || ekind == 0 || esum != checksum(s, img, off + pos, d) {
                        break;
                    }
                    pos += 32 + d.div_ceil(8) * 8;
                }
                assert!(pos > 0 && aux == EXT_CAPACITY);
                return (img.clone(), lane, gen, off, nonce, pos);
            }
        }
    }
    panic!("no image with a log extension was captured");
}

#[test]
fn a_log_link_back_to_a_walked_buffer_is_refused() {
    let (clean, lane, gen, ext, nonce, end) = image_with_extension();
    // The captured image recovers (the transaction is rolled back).
    Pool::<Root>::open_image(&clean, "r6").unwrap();

    // A link from the extension back to itself under another nonce: its entries no longer
    // validate, so a walk that allows revisits just stops there (and opens).
    let mut img = clean.clone();
    write_next(&mut img, ext + end, gen, ext, nonce ^ 1, seed(lane, nonce));
    match Pool::<Root>::open_image(&img, "r6") {
        Err(Error::Corrupted { what, offset }) => {
            assert_eq!(what, "undo log link (to a buffer already walked)");
            assert_eq!(offset, ext + end);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a log that revisits a buffer was walked"),
    }

    // The same link with the same nonce is a loop: refused at the first revisit, not after
    // walking the buffer once per allowed hop.
    let mut img = clean;
    write_next(&mut img, ext + end, gen, ext, nonce, seed(lane, nonce));
    match Pool::<Root>::open_image(&img, "r6") {
        Err(Error::Corrupted { what, offset }) => {
            assert_eq!(what, "undo log link (to a buffer already walked)");
            assert_eq!(offset, ext + end);
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a looping log was walked"),
    }
}
