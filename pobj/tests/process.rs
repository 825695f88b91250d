//! Tests that need other processes: root persistence across processes, the persistence modes
//! chosen by `POBJ_PERSIST`, and recovery after SIGKILL at random points inside transactions.
//!
//! The test binary re-runs itself as the child: `POBJ_TEST_CHILD` names the role.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use pobj::{Error, PPtr, PersistMode, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    seq: u64,
    next: PPtr<Node>,
}

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Bank {
    accounts: [u64; 16],
    head: PPtr<Node>,
    count: u64,
    tail_seq: u64,
    len: u64,
}

const TOTAL: u64 = 16 * 1000;

fn child(role: &str, args: &[(&str, &str)]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.arg("--exact")
        .arg("child_entry")
        .arg("--nocapture")
        .arg("--test-threads=1");
    c.env("POBJ_TEST_CHILD", role);
    for (k, v) in args {
        c.env(k, v);
    }
    c
}

/// Entry point of the child roles; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var("POBJ_TEST_CHILD") else {
        return;
    };
    let path = std::env::var("POBJ_TEST_POOL").unwrap();
    match role.as_str() {
        "write-root" => {
            let pool = Pool::<Bank>::open(&path, "bank").unwrap();
            pool.transaction(|tx| {
                let r = tx.root_mut()?;
                r.accounts[3] = 0x00C0_FFEE;
                r.count = 77;
                Ok::<_, Error>(())
            })
            .unwrap();
        }
        "mode" => {
            let pool = Pool::<Bank>::open(&path, "bank");
            match pool {
                Ok(pool) => {
                    let s0 = pool.persist_stats();
                    pool.transaction(|tx| {
                        tx.root_mut()?.count += 1;
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                    let d = pool.persist_stats().since(&s0);
                    println!(
                        "MODE {} lines={} msyncs={} fences={}",
                        pool.persist_mode(),
                        d.lines_flushed,
                        d.msync_calls,
                        d.fences
                    );
                }
                Err(e) => println!("ERR {e}"),
            }
        }
        "bank" => bank_worker(&path),
        _ => panic!("unknown role {role}"),
    }
}

fn new_bank(path: &std::path::Path) {
    let pool = Pool::<Bank>::create(path, "bank", 16 << 20).unwrap();
    pool.transaction(|tx| {
        tx.root_mut()?.accounts = [TOTAL / 16; 16];
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn root_written_by_a_child_is_read_by_the_parent() {
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "xproc");
    new_bank(&path);
    let st = child("write-root", &[("POBJ_TEST_POOL", path.to_str().unwrap())])
        .status()
        .unwrap();
    assert!(st.success());
    let pool = Pool::<Bank>::open(&path, "bank").unwrap();
    assert_eq!(pool.root().unwrap().accounts[3], 0x00C0_FFEE);
    assert_eq!(pool.root().unwrap().count, 77);
}

fn run_mode(path: &std::path::Path, mode: Option<&str>) -> String {
    let mut c = child("mode", &[("POBJ_TEST_POOL", path.to_str().unwrap())]);
    match mode {
        Some(m) => c.env("POBJ_PERSIST", m),
        None => c.env_remove("POBJ_PERSIST"),
    };
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let found = text
        .lines()
        .find_map(|l| l.find("MODE ").or_else(|| l.find("ERR ")).map(|i| &l[i..]));
    match found {
        Some(l) => l.to_string(),
        None => format!(
            "no result from child: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn persistence_modes() {
    let shm = common::shm_dir();
    let disk = common::disk_dir();
    let on_shm = common::pool_path(&shm, "mode");
    let on_disk = common::pool_path(&disk, "mode");
    new_bank(&on_shm);
    new_bank(&on_disk);
    let best = pobj::best_cache_line_mode();

    // Auto: cache-line flushes on tmpfs, msync on an ordinary file.
    let line = run_mode(&on_disk, None);
    assert!(line.starts_with("MODE msync"), "{line}");
    assert!(!line.contains("msyncs=0"), "{line}");
    if on_shm.starts_with("/dev/shm") {
        let line = run_mode(&on_shm, None);
        let want = best.map_or("msync", PersistMode::name);
        assert!(line.starts_with(&format!("MODE {want} ")), "{line}");
        if best.is_some() {
            assert!(line.contains("msyncs=0"), "{line}");
            assert!(!line.contains("lines=0 "), "{line}");
        }
    }
    // Forced modes.
    let cpu = pobj::cpu_flush();
    for (name, have) in [
        ("clwb", cpu.clwb),
        ("clflushopt", cpu.clflushopt),
        ("clflush", cpu.clflush),
    ] {
        let line = run_mode(&on_disk, Some(name));
        if have {
            assert!(line.starts_with(&format!("MODE {name} ")), "{line}");
            assert!(line.contains("msyncs=0"), "{line}");
        } else {
            assert!(line.starts_with("ERR"), "{line}");
        }
    }
    let line = run_mode(&on_shm, Some("msync"));
    assert!(
        line.starts_with("MODE msync") && !line.contains("msyncs=0"),
        "{line}"
    );
    let line = run_mode(&on_shm, Some("none"));
    assert!(
        line.starts_with("MODE none") && line.contains("msyncs=0"),
        "{line}"
    );
    let line = run_mode(&on_shm, Some("auto"));
    assert!(line.starts_with("MODE"), "{line}");
    let line = run_mode(&on_shm, Some("turbo"));
    assert!(line.starts_with("ERR POBJ_PERSIST=\"turbo\""), "{line}");
}

/// The child: random transfers and list pushes/pops, reporting each committed count.
fn bank_worker(path: &str) {
    let pool = Pool::<Bank>::open(path, "bank").unwrap();
    let mut rng = u64::from(std::process::id()) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let stdout = std::io::stdout();
    loop {
        let r = next();
        let (from, to, amount) = ((r % 16) as usize, ((r >> 8) % 16) as usize, (r >> 16) % 50);
        let abort = r % 7 == 0;
        let res = pool.transaction(|tx| {
            let root = *tx.root();
            let amount = amount.min(root.accounts[from]);
            let n = tx.alloc(Node {
                seq: root.count + 1,
                next: root.head,
            })?;
            let b = tx.alloc_bytes(&vec![r as u8; (r % 3000) as usize])?;
            tx.free_bytes(b)?;
            let rm = tx.root_mut()?;
            rm.accounts[from] -= amount;
            rm.accounts[to] += amount;
            rm.head = n;
            rm.count += 1;
            rm.len += 1;
            // Trim the list to 50 nodes by walking to its end.
            if rm.len > 50 {
                let mut p = n;
                for _ in 0..49 {
                    p = tx.get(p)?.next;
                }
                let last = tx.get(p)?.next;
                tx.free(last)?;
                tx.get_mut(p)?.next = PPtr::null();
                tx.root_mut()?.len -= 1;
            }
            if abort {
                return Err(Error::TxAborted);
            }
            Ok(tx.root().count)
        });
        if let Ok(c) = res {
            use std::io::Write;
            let mut out = stdout.lock();
            let _ = writeln!(out, "{c}");
            let _ = out.flush();
        }
    }
}

fn verify_bank(pool: &Pool<Bank>) {
    let root = pool.root().unwrap();
    assert_eq!(
        root.accounts.iter().sum::<u64>(),
        TOTAL,
        "money created or destroyed: {root:?}"
    );
    let mut p = root.head;
    let mut expect = root.count;
    let mut n = 0;
    while !p.is_null() {
        let node = pool.get(p).unwrap();
        assert_eq!(node.seq, expect, "list out of step with the count");
        expect -= 1;
        p = node.next;
        n += 1;
    }
    assert_eq!(n, root.len);
    assert_eq!(n, root.count.min(50));
    let report = pool.check();
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn sigkill_inside_transactions_is_recovered() {
    let dir = common::shm_dir();
    let path = common::pool_path(&dir, "kill");
    new_bank(&path);
    let rounds: u64 = std::env::var("POBJ_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut last_reported = 0;
    for round in 0..rounds {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut ch = child("bank", &[("POBJ_TEST_POOL", path.to_str().unwrap())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = ch.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = line.trim().parse::<u64>() {
                    last = v;
                }
            }
            last
        });
        std::thread::sleep(Duration::from_millis(20 + (seed >> 33) % 60));
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(ch.id().cast_signed(), libc::SIGKILL) };
        let _ = ch.wait();
        let reported = reader.join().unwrap();
        let pool = Pool::<Bank>::open(&path, "bank").unwrap();
        let count = pool.root().unwrap().count;
        assert!(
            count >= reported,
            "round {round}: committed count {reported} lost (found {count})"
        );
        assert!(count >= last_reported);
        last_reported = count;
        verify_bank(&pool);
    }
    assert!(last_reported > 0, "the child never committed");
    eprintln!("sigkill: {rounds} kills, {last_reported} transactions committed in all");
}
