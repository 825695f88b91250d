//! `open_damaged`: arbitrary damage to a valid pool image (byte flips, zeroed, copied or
//! random ranges, truncation); `open` must return `Ok` or a typed error, never panic; when it
//! returns `Ok`, `check()`, reads and a transaction must return without panicking.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};

use super::tx::{run_tx, FuzzRoot, Model, Op, TxSpec, LAYOUT, SIZE};
use pobj::Pool;

/// Base images for `open_damaged`: a pool with content, and a post-crash image whose lanes
/// hold an unfinished transaction (so that damage also reaches recovery).
pub fn base_images() -> Result<&'static [Vec<u8>; 2], String> {
    static IMAGES: OnceLock<Result<[Vec<u8>; 2], String>> = OnceLock::new();
    IMAGES
        .get_or_init(build_base_images)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_base_images() -> Result<[Vec<u8>; 2], String> {
    let (pool, sim) =
        Pool::<FuzzRoot>::create_simulated(LAYOUT, SIZE).map_err(|e| e.to_string())?;
    let txs = [
        TxSpec {
            ops: vec![
                Op::Push(1, 10),
                Op::Push(2, 2000),
                Op::SetBuf(300, 7),
                Op::SetWord(3, 9),
            ],
            abort: false,
        },
        TxSpec {
            ops: vec![Op::Push(3, 65000), Op::Push(4, 0)],
            abort: false,
        },
    ];
    for t in &txs {
        run_tx(&pool, t).map_err(|e| e.to_string())?;
    }
    let clean = sim.persisted_image();
    // Capture the working image in the middle of a transaction with several entries.
    let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let captured = std::sync::Arc::clone(&captured);
        sim.set_hook(Some(Box::new(move |cp| {
            if cp.index % 3 == 2 {
                if let Ok(mut c) = captured.lock() {
                    if c.is_empty() {
                        *c = cp.working();
                    }
                }
            }
        })));
    }
    let t = TxSpec {
        ops: vec![
            Op::SetWord(1, 5),
            Op::Pop,
            Op::Push(5, 100),
            Op::SetHead(8),
            Op::SetBuf(10, 1),
        ],
        abort: false,
    };
    run_tx(&pool, &t).map_err(|e| e.to_string())?;
    sim.set_hook(None);
    let mid = captured.lock().map(|c| c.clone()).unwrap_or_default();
    let mid = if mid.len() < clean.len() {
        clean.clone()
    } else {
        mid[..clean.len()].to_vec()
    };
    Ok([clean, mid])
}

/// One kind of damage.
#[derive(Arbitrary, Clone, Debug)]
pub enum Damage {
    /// XOR a byte.
    Flip {
        /// Where (see [`Damage`]'s offset mapping).
        at: u32,
        /// With what.
        mask: u8,
    },
    /// Zero a range.
    Zero {
        /// Where.
        at: u32,
        /// How long (up to 4 KiB).
        len: u16,
    },
    /// Copy a range elsewhere.
    Copy {
        /// From.
        from: u32,
        /// To.
        to: u32,
        /// How long (up to 4 KiB).
        len: u16,
    },
    /// Overwrite with given bytes.
    Write {
        /// Where.
        at: u32,
        /// What.
        bytes: Vec<u8>,
    },
    /// Set an aligned 8-byte word.
    Word {
        /// Where (8-aligned).
        at: u32,
        /// Value.
        value: u64,
    },
    /// Truncate the file.
    Truncate {
        /// New length.
        len: u32,
    },
}

/// An `open_damaged` input.
#[derive(Arbitrary, Clone, Debug)]
pub struct DamageInput {
    /// Which base image.
    pub mid_transaction: bool,
    /// The damage, applied in order.
    pub damage: Vec<Damage>,
}

/// Maps a fuzzed offset into the image, biased towards metadata: the header page, the lanes,
/// the chunk table and the first chunks' run headers.
fn place(at: u32, len: usize) -> usize {
    let region = at >> 28;
    let off = (at & 0x0fff_ffff) as usize;
    let o = match region {
        0..=3 => off % 4096,                    // header page
        4..=7 => 4096 + off % (32 * 8192),      // lanes
        8..=9 => 4096 + 32 * 8192 + off % 4096, // chunk table
        10..=12 => {
            // Starts of chunks: run descriptors, bitmaps, object headers.
            let base = 4096 + 32 * 8192 + 4096;
            base + (off >> 12) % 8 * (256 << 10) + off % 2048
        }
        _ => off,
    };
    o % len.max(1)
}

fn damage(img: &mut Vec<u8>, d: &Damage) {
    let n = img.len();
    if n == 0 {
        return;
    }
    match d {
        Damage::Flip { at, mask } => {
            let i = place(*at, n);
            img[i] ^= mask;
        }
        Damage::Zero { at, len } => {
            let i = place(*at, n);
            let e = (i + usize::from(*len) % 4096).min(n);
            img[i..e].fill(0);
        }
        Damage::Copy { from, to, len } => {
            let (f, t) = (place(*from, n), place(*to, n));
            let l = (usize::from(*len) % 4096).min(n - f).min(n - t);
            img.copy_within(f..f + l, t);
        }
        Damage::Write { at, bytes } => {
            let i = place(*at, n);
            let l = bytes.len().min(n - i);
            img[i..i + l].copy_from_slice(&bytes[..l]);
        }
        Damage::Word { at, value } => {
            let i = place(*at, n) / 8 * 8;
            if i + 8 <= n {
                img[i..i + 8].copy_from_slice(&value.to_le_bytes());
            }
        }
        Damage::Truncate { len } => {
            let l = (*len as usize) % (n + 1);
            img.truncate(l);
        }
    }
}

/// What happened to one damaged image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DamageOutcome {
    /// `open` refused it with a typed error.
    Refused(String),
    /// It opened; `check()` reported these problems (possibly none).
    Opened {
        /// Problems `check()` found.
        problems: usize,
    },
}

/// The `open_damaged` target. Panics (the fuzzer's failure signal) only through a bug.
pub fn open_damaged(data: &[u8]) -> DamageOutcome {
    let Ok(input) = DamageInput::arbitrary(&mut Unstructured::new(data)) else {
        return DamageOutcome::Refused("no input".into());
    };
    let mut img = match base_images() {
        Ok(b) => b[usize::from(input.mid_transaction)].clone(),
        Err(e) => return DamageOutcome::Refused(format!("no base image: {e}")),
    };
    for d in input.damage.iter().take(16) {
        damage(&mut img, d);
    }
    let pool = match Pool::<FuzzRoot>::open_image(&img, LAYOUT) {
        Ok((pool, _)) => pool,
        Err(e) => return DamageOutcome::Refused(e.to_string()),
    };
    let report = pool.check();
    // Reads and a transaction return (Ok or Err) without panicking.
    let _ = Model::read(&pool);
    let _ = run_tx(
        &pool,
        &TxSpec {
            ops: vec![
                Op::SetWord(0, 1),
                Op::Push(9, 100),
                Op::Pop,
                Op::SetBuf(50, 3),
            ],
            abort: false,
        },
    );
    let _ = pool.check();
    DamageOutcome::Opened {
        problems: report.problems.len(),
    }
}
