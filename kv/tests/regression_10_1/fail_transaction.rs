// A safe transaction on the store's pool would write leaves that lock-free readers load.
fn main() -> Result<(), pobj_kv::Error> {
    let (db, _medium) = pobj_kv::Db::create_simulated(4 << 20)?;
    let head = db.pool().root()?.head;
    db.pool().transaction(|tx| {
        tx.get_mut(head)?.head.bitmap = 0;
        Ok::<_, pobj::Error>(())
    })?;
    Ok(())
}
