//! Regression (architecture issue, "errors reused with the wrong meaning"): a commit word that
//! is not an aligned 8-byte field was reported as `InvalidPointer` (the pointer was fine), and
//! the undo log's limits as `TooLarge` ("allocation of N bytes", though nothing was allocated).
//! Each failure now has its own variant with its facts: `BadCommitWord { offset, size }`,
//! `LogFull { entries, max }`, `LogTooLarge { bytes, max }`.

use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    word: u64,
    half: u32,
    other: u32,
}

#[test]
fn a_commit_word_that_is_not_an_aligned_word_is_reported_as_such() {
    let (pool, _sim) = Pool::<Root>::create_simulated("r11_13", 2 << 20).expect("create");
    let root = pool.root_ptr();
    let r = pool.transaction(|tx| tx.commit_word(root, |r| &mut r.half, 7u32));
    match r {
        Err(Error::BadCommitWord { offset, size: 4 }) => {
            assert_eq!(offset, root.offset() + 8);
        }
        other => panic!("{other:?}"),
    }
    // The transaction was refused as a whole; the root is unchanged, and a real word works.
    assert_eq!(pool.root().expect("root").half, 0);
    pool.transaction(|tx| tx.commit_word(root, |r| &mut r.word, 9u64))
        .expect("an aligned 8-byte commit word");
    assert_eq!(pool.root().expect("root").word, 9);
}

#[test]
fn the_log_limits_name_the_log_not_an_allocation() {
    let full = Error::LogFull { entries: 5, max: 4 }.to_string();
    assert!(
        full.contains("undo log") && full.contains("entries"),
        "{full}"
    );
    let large = Error::LogTooLarge { bytes: 9, max: 8 }.to_string();
    assert!(
        large.contains("undo log") && !large.contains("allocation"),
        "{large}"
    );
}
