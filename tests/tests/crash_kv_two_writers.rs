//! Crash suite with two writer threads interleaved deterministically: a scheduler hands control
//! from one thread to the other at every fence, so that crash points fall with two
//! transactions in flight in different lanes. Each recovered image must hold, for each
//! thread's keys, the state before or after that thread's interrupted operation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pobj::crash::CrashTest;
use pobj_kv::Db;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const ROUNDS: usize = 120;

/// Whose turn it is, and which workers are still running.
#[derive(Default)]
struct Baton {
    state: Mutex<(usize, [bool; 2])>,
    cv: Condvar,
    timeouts: AtomicUsize,
    /// Handovers at a fence while the other thread was mid-operation.
    handovers: AtomicUsize,
}

thread_local! {
    static WORKER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

impl Baton {
    /// Called after every fence: a worker hands over to the other (if it is still running)
    /// and waits for its turn back.
    fn yield_turn(&self) {
        let Some(me) = WORKER.with(std::cell::Cell::get) else {
            return;
        };
        let mut g = self.state.lock().unwrap();
        let other = 1 - me;
        if !g.1[other] {
            return;
        }
        g.0 = other;
        self.handovers.fetch_add(1, Ordering::SeqCst);
        self.cv.notify_all();
        self.wait_turn(g, me);
    }

    fn wait_turn(&self, mut g: std::sync::MutexGuard<'_, (usize, [bool; 2])>, me: usize) {
        while g.0 != me && g.1[1 - me] {
            let (ng, t) = self.cv.wait_timeout(g, Duration::from_secs(2)).unwrap();
            g = ng;
            if t.timed_out() {
                // The other thread is blocked outside a fence (it would be a scheduler bug or an
                // allocator lock held across a fence): go on, and let the test fail.
                self.timeouts.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    }

    fn start(&self, me: usize) {
        WORKER.with(|w| w.set(Some(me)));
        let g = self.state.lock().unwrap();
        self.wait_turn(g, me);
    }

    fn finish(&self, me: usize) {
        WORKER.with(|w| w.set(None));
        let mut g = self.state.lock().unwrap();
        g.1[me] = false;
        g.0 = 1 - me;
        self.cv.notify_all();
    }
}

fn key(t: usize, i: u64) -> Vec<u8> {
    format!("{}-{:04}", if t == 0 { "a" } else { "b" }, (i * 37) % 300).into_bytes()
}

/// Thread t's operation in round r.
fn op(t: usize, r: usize) -> (Vec<u8>, Option<Vec<u8>>) {
    let i = (r * 2 + t) as u64;
    if r % 5 == 4 {
        (key(t, i.saturating_sub(6)), None)
    } else {
        (key(t, i), Some(vec![(r + t) as u8; 10 + (r * 13) % 90]))
    }
}

#[test]
fn two_writers_interleaved_at_every_fence() {
    // Per-thread models after each of its operations.
    let mut models: [Vec<Model>; 2] = [vec![Model::new()], vec![Model::new()]];
    for t in 0..2 {
        for r in 0..ROUNDS {
            let mut m = models[t][models[t].len() - 1].clone();
            match op(t, r) {
                (k, Some(v)) => m.insert(k, v),
                (k, None) => m.remove(&k),
            };
            models[t].push(m);
        }
    }
    let done = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let baton = Arc::new(Baton::default());
    let b2 = Arc::clone(&baton);
    let baton_end = Arc::clone(&baton);
    let d2 = Arc::clone(&done);
    let report = CrashTest::new()
        .max_images_per_point(16)
        .recovery_every(8)
        .on_fence(move || b2.yield_turn())
        .run_store(
            pobj_kv::LAYOUT,
            pobj::MIN_POOL_SIZE,
            |pool| Db::from_pool(pool).map_err(|e| e.to_string()),
            |db: &Db| {
                // Permanent fillers after each thread's keys ('~' sorts after the digits), so
                // that a leaf bound falls between the two threads' keys and no leaf ever holds
                // keys of both: the threads never wait for each other's leaf lock.
                for i in 0..30u64 {
                    db.put(format!("a-~{i:02}"), [1u8; 40]).map_err(|e| e.to_string())?;
                }
                for i in 0..30u64 {
                    db.put(format!("b-~{i:02}"), [2u8; 40]).map_err(|e| e.to_string())?;
                }
                // Spare leaf blocks, so that the rounds split without creating an allocator run
                // (whose fences hold the allocator's lock).
                for i in 0..400u64 {
                    db.put(format!("m-{i:04}"), [0u8; 60]).map_err(|e| e.to_string())?;
                }
                for i in 0..400u64 {
                    db.remove(format!("m-{i:04}")).map_err(|e| e.to_string())?;
                }
                let a = db.range("a-".as_bytes().."a-~".as_bytes()).count();
                let b = db.range("b-".as_bytes().."b-~".as_bytes()).count();
                if a != 0 || b != 0 {
                    return Err("setup left round keys".into());
                }
                Ok(())
            },
            ROUNDS,
            |db: &Db, r| {
                *baton.state.lock().unwrap() = (0, [true, true]);
                std::thread::scope(|s| {
                    let hs: Vec<_> = (0..2)
                        .map(|t| {
                            let baton = &baton;
                            let done = &done;
                            s.spawn(move || {
                                baton.start(t);
                                let (k, v) = op(t, r);
                                let res = match v {
                                    Some(v) => db.put(&k, &v),
                                    None => db.remove(&k).map(|_| ()),
                                };
                                done[t].store(r + 1, Ordering::SeqCst);
                                baton.finish(t);
                                res.map_err(|e| e.to_string())
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("worker panicked".into()))).collect::<Result<Vec<_>, _>>()
                })?;
                if baton.timeouts.load(Ordering::SeqCst) > 0 {
                    return Err("the scheduler timed out: the interleaving was not deterministic".into());
                }
                Ok(())
            },
            move |db: &Db, _| {
                let report = db.check();
                if !report.is_ok() {
                    return Err(format!("Db::check: {report}"));
                }
                for t in 0..2 {
                    let prefix = if t == 0 { "a-" } else { "b-" };
                    let got: Model = db
                        .range(prefix.as_bytes()..format!("{prefix}~").as_bytes())
                        .collect::<Result<_, _>>()
                        .map_err(|e| e.to_string())?;
                    let n = d2[t].load(Ordering::SeqCst);
                    if got != models[t][n] && models[t].get(n + 1) != Some(&got) {
                        return Err(format!("thread {t}: its keys are neither the state after {n} operations nor after {}", n + 1));
                    }
                }
                Ok(())
            },
        )
        .unwrap_or_else(|f| panic!("{f}"));
    let handovers = baton_end.handovers.load(Ordering::SeqCst);
    eprintln!("crash suite two_writers_interleaved_at_every_fence: {report}; {handovers} handovers between the writers at fences");
    assert!(handovers > ROUNDS, "the writers were not interleaved");
    assert!(report.points > 2 * ROUNDS as u64, "{report}");
}
