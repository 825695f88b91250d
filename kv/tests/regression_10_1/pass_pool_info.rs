// What safe code could learn from the pool before, it learns from `pool_info`.
fn main() -> Result<(), pobj_kv::Error> {
    let (db, _medium) = pobj_kv::Db::create_simulated(4 << 20)?;
    db.put(b"k", b"v")?;
    let info = db.pool_info();
    assert_eq!(info.size(), 4 << 20);
    assert_eq!(info.layout(), pobj_kv::LAYOUT);
    assert!(info.persist_stats().fences > 0);
    assert!(info.stats().heap.objects >= 2);
    assert!(!info.is_poisoned());
    println!("{} {}", info.path().display(), info.persist_mode());
    Ok(())
}
