//! Helpers of the fuzz replay tests: the checked-in seeds, seeded random inputs, and a crash
//! target run over both.
#![allow(dead_code, unreachable_pub)]

use pobj::crash::fuzz::Run;

/// The checked-in seeds of a target (`fuzz/seeds/<target>`), sorted.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

/// `n` seeded random inputs of less than `max_len` bytes.
pub fn random_inputs(seed: u64, n: usize, max_len: usize) -> impl Iterator<Item = Vec<u8>> {
    random_inputs_between(seed, n, 0, max_len)
}

/// `n` seeded random inputs of `min_len..max_len` bytes.
pub fn random_inputs_between(
    seed: u64,
    n: usize,
    min_len: usize,
    max_len: usize,
) -> impl Iterator<Item = Vec<u8>> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n).map(move |_| {
        let len = min_len + (next() as usize) % (max_len - min_len);
        (0..len).map(|_| next() as u8).collect()
    })
}

/// How many random inputs: `POBJ_FUZZ_CASES`, or `default`.
pub fn cases(default: usize) -> usize {
    std::env::var("POBJ_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs a crash target on its seeds and random inputs; returns (inputs, inputs whose crash
/// image was checked, post-crash images, operations run).
pub fn crash_target(
    name: &str,
    target: fn(&[u8]) -> Result<Run, String>,
    seed: u64,
    n: usize,
    max_len: usize,
) -> (usize, usize, u64, usize) {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(name);
    let seeded = if corpus.exists() {
        seeds(name)
    } else {
        Vec::new()
    };
    let (mut total, mut crashed, mut images, mut ops) = (0, 0, 0, 0);
    for input in seeded.into_iter().chain(random_inputs(seed, n, max_len)) {
        match target(&input) {
            Ok(run) => {
                total += 1;
                ops += run.ops;
                images += run.report.images + run.report.recovery_images;
                if run.case.is_some() {
                    crashed += 1;
                }
            }
            Err(m) => panic!("{name} failed on input {input:?}: {m}"),
        }
    }
    eprintln!(
        "{name}: {total} inputs ({ops} operations), {crashed} with a crash checked, {images} post-crash images opened"
    );
    // Most inputs must reach a crash: otherwise the target checks nothing.
    assert!(
        crashed * 2 > total,
        "{name}: only {crashed} of {total} inputs crashed"
    );
    (total, crashed, images, ops)
}
