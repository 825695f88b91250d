//! The fuzz targets on the stable toolchain: the checked-in seed corpus, then a fixed number of
//! seeded random inputs per target (`POBJ_FUZZ_CASES` scales them).

mod fuzz_common;

use fuzz_common::{cases, crash_target, random_inputs, seeds};
use pobj_tests::fuzzing::{self, DamageOutcome};

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
    crash_target("tx_crash", fuzzing::tx_crash, 0x7C_0A54, cases(150), 400);
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

/// Rewrites `fuzz/seeds/{tx_crash,kv_crash,mixed_crash}` in the current input layout: eight
/// seeded random inputs each whose crash is checked and that apply at least three operations.
/// `cargo test -p pobj-tests --test fuzz_replay -- --ignored write_crash_seeds`.
#[test]
#[ignore = "rewrites the checked-in seeds"]
fn write_crash_seeds() {
    type Target = fn(&[u8]) -> Result<pobj::crash::fuzz::Run, String>;
    let targets: [(&str, Target, u64, usize); 3] = [
        ("tx_crash", fuzzing::tx_crash, 0x5EED_0001, 400),
        ("kv_crash", fuzzing::kv_crash, 0x5EED_0002, 700),
        ("mixed_crash", fuzzing::mixed_crash, 0x5EED_0003, 600),
    ];
    for (name, target, seed, len) in targets {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/seeds")
            .join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let mut kept = 0;
        for input in random_inputs(seed, 2_000, len) {
            let run = target(&input).unwrap_or_else(|m| panic!("{name}: {m}"));
            if run.case.is_some() && run.applied >= 3 {
                std::fs::write(dir.join(format!("seed-{kept:02}")), &input).unwrap();
                kept += 1;
                if kept == 8 {
                    break;
                }
            }
        }
        assert_eq!(kept, 8, "{name}");
    }
}
