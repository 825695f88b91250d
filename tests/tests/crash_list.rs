//! Crash suite: linked-list insert and remove, checked at every crash point against a model.

use pobj::crash::CrashTest;
use pobj::{Error, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    value: u64,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Root {
    head: PPtr<Node>,
    len: u64,
}

fn read(pool: &Pool<Root>) -> Result<Vec<u64>, String> {
    let root = pool.root().unwrap();
    let mut out = Vec::new();
    let mut p = root.head;
    while !p.is_null() {
        let n = pool.get(p).map_err(|e| e.to_string())?;
        out.push(n.value);
        p = n.next;
        if out.len() > 10_000 {
            return Err("cycle in list".into());
        }
    }
    if out.len() as u64 != root.len {
        return Err(format!("len field {} but {} nodes", root.len, out.len()));
    }
    Ok(out)
}

/// Operation i: every third removes the second node (or the head), the rest push i at the head.
fn apply(model: &mut Vec<u64>, i: usize) {
    if i % 3 == 2 {
        if model.len() > 1 {
            model.remove(1);
        } else if !model.is_empty() {
            model.remove(0);
        }
    } else {
        model.insert(0, i as u64);
    }
}

fn op(pool: &Pool<Root>, i: usize) -> Result<(), String> {
    pool.transaction(|tx| {
        let root = *tx.root();
        if i % 3 == 2 {
            if root.head.is_null() {
                return Ok(());
            }
            let head = *tx.get(root.head)?;
            if head.next.is_null() {
                tx.free(root.head)?;
                let r = tx.root_mut()?;
                r.head = PPtr::null();
                r.len -= 1;
            } else {
                let second = *tx.get(head.next)?;
                tx.free(head.next)?;
                tx.get_mut(root.head)?.next = second.next;
                tx.root_mut()?.len -= 1;
            }
        } else {
            let n = tx.alloc(Node {
                value: i as u64,
                next: root.head,
            })?;
            let r = tx.root_mut()?;
            r.head = n;
            r.len += 1;
        }
        Ok::<_, Error>(())
    })
    .map_err(|e| e.to_string())
}

#[test]
fn list_insert_and_remove() {
    const OPS: usize = 200;
    let mut states = vec![Vec::new()];
    for i in 0..OPS {
        let mut m = states.last().cloned().unwrap_or_default();
        apply(&mut m, i);
        states.push(m);
    }
    let report = CrashTest::new()
        .run::<Root, _, _, _>(
            "crash-list",
            pobj::MIN_POOL_SIZE,
            |_| Ok(()),
            OPS,
            op,
            move |pool, done| {
                let got = read(pool)?;
                if got == states[done] || states.get(done + 1) == Some(&got) {
                    Ok(())
                } else {
                    Err(format!(
                        "list {got:?} is neither {:?} nor {:?}",
                        states[done],
                        states.get(done + 1)
                    ))
                }
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    eprintln!("crash suite list_insert_and_remove: {report}");
    assert!(report.images > 1000, "{report}");
    assert!(report.recovery_images > 0, "{report}");
}
