//! The fuzz targets on the stable toolchain: the checked-in seed corpus, then a fixed number of
//! seeded random inputs per target (`POBJ_FUZZ_CASES` scales them).

use pobj_tests::fuzzing::{self, DamageOutcome};

fn seeds(target: &str) -> Vec<Vec<u8>> {
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

fn random_inputs(seed: u64, n: usize, max_len: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n).map(move |_| {
        let len = (next() as usize) % max_len;
        (0..len).map(|_| next() as u8).collect()
    })
}

fn cases(default: usize) -> usize {
    std::env::var("POBJ_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn open_damaged_corpus_and_random_inputs() {
    let n = cases(10_000);
    let (mut refused, mut opened, mut with_problems) = (0, 0, 0);
    for input in seeds("open_damaged")
        .into_iter()
        .chain(random_inputs(0x00DA_4A6E, n, 160))
    {
        match fuzzing::open_damaged(&input) {
            DamageOutcome::Refused(_) => refused += 1,
            DamageOutcome::Opened { problems } => {
                opened += 1;
                if problems > 0 {
                    with_problems += 1;
                }
            }
        }
    }
    eprintln!(
        "open_damaged: {} damaged pools: {refused} refused with a typed error, {opened} opened ({with_problems} with problems reported by check)",
        refused + opened
    );
    assert!(refused + opened >= n);
    assert!(
        refused > 0 && opened > 0,
        "the damage should sometimes be caught and sometimes harmless"
    );
}

#[test]
fn tx_crash_corpus_and_random_inputs() {
    let n = cases(150);
    let mut total = 0;
    for input in seeds("tx_crash")
        .into_iter()
        .chain(random_inputs(0x7C_0A54, n, 400))
    {
        if let Err(m) = fuzzing::tx_crash(&input) {
            panic!("tx_crash failed on input {input:?}: {m}");
        }
        total += 1;
    }
    eprintln!("tx_crash: {total} inputs (transaction sequences with a crash choice) checked");
}

#[test]
fn damage_that_open_must_catch() {
    let base = &fuzzing::base_images().unwrap()[0];
    // Wrong magic, version, checksum: refused.
    for (at, v) in [(0usize, 0u8), (9, 7), (20, 1)] {
        let mut img = base.clone();
        img[at] ^= v.max(1);
        assert!(
            pobj::Pool::<fuzzing::FuzzRoot>::open_image(&img, fuzzing::LAYOUT).is_err(),
            "byte {at}"
        );
    }
    // Every chunk header word replaced by an invalid tag: refused as corrupted.
    let table = 4096 + 32 * 8192;
    let mut img = base.clone();
    img[table..table + 8].copy_from_slice(&0xdead_beef_u64.to_le_bytes());
    match pobj::Pool::<fuzzing::FuzzRoot>::open_image(&img, fuzzing::LAYOUT) {
        Err(pobj::Error::Corrupted { what, .. }) => assert_eq!(what, "chunk header"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a damaged chunk table opened"),
    }
}

#[test]
fn kv_crash_corpus_and_random_inputs() {
    let n = cases(150);
    let mut total = 0;
    for input in seeds("kv_crash")
        .into_iter()
        .chain(random_inputs(0x4B_5643, n, 700))
    {
        if let Err(m) = fuzzing::kv_crash(&input) {
            panic!("kv_crash failed on input {input:?}: {m}");
        }
        total += 1;
    }
    eprintln!(
        "kv_crash: {total} inputs (key-value operation sequences with a crash choice) checked"
    );
}
