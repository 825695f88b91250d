// The read-only view has no way to the pool's objects.
fn main() -> Result<(), pobj_kv::Error> {
    let (db, _medium) = pobj_kv::Db::create_simulated(4 << 20)?;
    let info = db.pool_info();
    let _ = info.root();
    let _ = info.transaction(|_tx| Ok::<_, pobj::Error>(()));
    Ok(())
}
