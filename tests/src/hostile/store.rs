//! The key-value store's part of the oracle.

use super::{
    kv_error_kind, pattern, pick, BTreeMap, Cell, Outcome, Rng, SimMedium, KV_KEYS, KV_PUTS,
    KV_REMOVES,
};

pub(crate) fn store_oracle(
    img: &[u8],
    keys: &[Vec<u8>],
    rng: &mut Rng,
    out: &mut Outcome,
    stage: &Cell<&'static str>,
) -> Result<(), String> {
    let medium = SimMedium::from_image(img).map_err(|e| format!("simulated medium: {e}"))?;
    stage.set("Db::open_medium");
    let db = match pobj_kv::Db::open_medium(medium) {
        Ok(db) => db,
        Err(e) => {
            out.refused = Some(kv_error_kind(&e));
            out.check_problems = false;
            return Ok(());
        }
    };
    out.refused = None;
    stage.set("Db::check at open");
    let clean = db.check().is_ok();
    out.check_problems = !clean;
    stage.set("store gets of the base keys");
    for k in keys {
        out.operations += 1;
        let _ = db.get(k);
    }
    // New keys, among the base keys and after them; some values out of line.
    stage.set("store puts");
    let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for i in 0..KV_PUTS {
        out.operations += 1;
        let k = if i % 2 == 0 {
            format!("key{:04}+{i}", rng.below(KV_KEYS as u64)).into_bytes()
        } else {
            format!("zz{i:03}").into_bytes()
        };
        let v = pattern(rng.below(300) as usize, i as u64);
        if db.put(&k, &v).is_ok() {
            model.insert(k, Some(v));
        }
    }
    stage.set("store removes");
    let ours: Vec<Vec<u8>> = model.keys().cloned().collect();
    for i in 0..KV_REMOVES {
        out.operations += 1;
        if i % 2 == 0 {
            if let Some(k) = pick(keys, rng.next()) {
                let _ = db.remove(k);
            }
        } else if let Some(k) = pick(&ours, rng.next()) {
            let r = db.remove(k);
            let had = model.get(k).is_some_and(Option::is_some);
            match r {
                Ok(found) => {
                    if clean && found != had {
                        return Err(format!(
                            "remove of our key {:?} returned {found}, expected {had}",
                            String::from_utf8_lossy(k)
                        ));
                    }
                    model.insert(k.clone(), None);
                }
                Err(e) if clean && !matches!(e, pobj_kv::Error::OutOfSpace { .. }) => {
                    return Err(format!(
                        "remove of our key {:?} on a store that checked clean: {e}",
                        String::from_utf8_lossy(k)
                    ))
                }
                Err(_) => {}
            }
        }
    }
    stage.set("store gets of the new keys");
    for (k, v) in &model {
        out.operations += 1;
        let got = db.get(k);
        if clean {
            match got {
                Ok(g) if g == *v => {}
                r => {
                    return Err(format!(
                    "on a store that checked clean, get of our key {:?} gave {r:?}, expected {v:?}",
                    String::from_utf8_lossy(k)
                ))
                }
            }
        }
    }
    stage.set("store scan");
    out.operations += 1;
    let mut prev: Option<Vec<u8>> = None;
    let mut scanned = 0u64;
    let mut scan_failed = false;
    for item in db.iter() {
        if let Ok((k, _)) = item {
            if prev.as_ref().is_some_and(|p| *p >= k) {
                return Err(format!(
                    "the scan returned {:?} after {:?}",
                    String::from_utf8_lossy(&k),
                    prev.as_ref()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                ));
            }
            prev = Some(k);
            scanned += 1;
            if scanned > 1 << 20 {
                return Err("the scan does not end".into());
            }
        } else {
            scan_failed = true;
            break;
        }
    }
    stage.set("store count_all");
    out.operations += 1;
    let count = db.count_all();
    if clean && !scan_failed {
        match count {
            Ok(c) if c == scanned => {}
            r => {
                return Err(format!(
                "on a store that checked clean, count_all gave {r:?} but the scan found {scanned}"
            ))
            }
        }
    }
    stage.set("Db::check after the operations");
    let end = db.check();
    if clean && !end.is_ok() {
        return Err(format!(
            "Db::check was clean at open but reports after the operations: {end}"
        ));
    }
    Ok(())
}
