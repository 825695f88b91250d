//! Put and get through the C interface against the Rust API, in one run: the same keys and
//! values into two fresh stores on /dev/shm, alternating rounds, the median of each.
//!
//! `cargo run --release -p pobj-capi --example c_vs_rust -- [KEYS] [ROUNDS]`
//!
//! Rounds alternate which interface goes first.
//!
//! The C side calls the exported `pmemkv_*` functions (the code `libpmemkv.so.1` exports;
//! only the PLT indirection of a dynamic call is left out).

use std::ffi::{c_char, c_void, CString};
use std::time::Instant;

use pobj_capi as c;

fn key(i: u64) -> [u8; 16] {
    // Spread over the key space (a multiplicative hash), 16 bytes as in the benchmarks.
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&h.to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

unsafe extern "C-unwind" fn count_value(_v: *const c_char, n: usize, arg: *mut c_void) {
    // SAFETY: `arg` is the `u64` the caller passed.
    unsafe { *arg.cast::<u64>() += n as u64 };
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::Builder::new()
        .prefix("capi-bench")
        .tempdir_in("/dev/shm")
        .expect("tempdir");
    let value = [7u8; 100];
    let size = (n * 400).max(64 << 20);
    let (mut rust_put, mut rust_get, mut c_put, mut c_get) = (vec![], vec![], vec![], vec![]);
    for r in 0..rounds {
        let rust_round = |rust_put: &mut Vec<f64>, rust_get: &mut Vec<f64>| {
            let p = dir.path().join(format!("rust-{r}.pool"));
            let db = pobj_kv::Db::create(&p, size).expect("create");
            let t = Instant::now();
            for i in 0..n {
                db.put(key(i), value).expect("put");
            }
            rust_put.push(n as f64 / t.elapsed().as_secs_f64());
            let t = Instant::now();
            let mut total = 0u64;
            for i in 0..n {
                total += db
                    .get_with(key(i), |v| v.len() as u64)
                    .expect("get")
                    .expect("found");
            }
            rust_get.push(n as f64 / t.elapsed().as_secs_f64());
            assert_eq!(total, n * 100);
            drop(db);
            std::fs::remove_file(&p).expect("remove");
        };
        let c_round = |c_put: &mut Vec<f64>, c_get: &mut Vec<f64>| {
            let p = dir.path().join(format!("c-{r}.pool"));
            let path = CString::new(p.to_str().expect("utf-8")).expect("path");
            let mut db: *mut c::pmemkv_db = std::ptr::null_mut();
            let cfg = c::pmemkv_config_new();
            // SAFETY: a live config and a C string.
            assert_eq!(unsafe { c::pmemkv_config_put_path(cfg, path.as_ptr()) }, 0);
            // SAFETY: a live config.
            assert_eq!(unsafe { c::pmemkv_config_put_size(cfg, size) }, 0);
            // SAFETY: a live config.
            let s = unsafe { c::pmemkv_config_put_create_if_missing(cfg, true) };
            assert_eq!(s, 0);
            // SAFETY: a C string, the config (consumed), an out-pointer to a local.
            let s = unsafe { c::pmemkv_open(c"cmap".as_ptr(), cfg, &raw mut db) };
            assert_eq!(s, 0);
            let t = Instant::now();
            for i in 0..n {
                let k = key(i);
                // SAFETY: a live db and live buffers of the given lengths.
                let s =
                    unsafe { c::pmemkv_put(db, k.as_ptr().cast(), 16, value.as_ptr().cast(), 100) };
                assert_eq!(s, 0);
            }
            c_put.push(n as f64 / t.elapsed().as_secs_f64());
            let t = Instant::now();
            let mut total = 0u64;
            for i in 0..n {
                let k = key(i);
                // SAFETY: a live db, a live key, and a callback adding into `total`.
                let s = unsafe {
                    c::pmemkv_get(
                        db,
                        k.as_ptr().cast(),
                        16,
                        Some(count_value),
                        (&raw mut total).cast(),
                    )
                };
                assert_eq!(s, 0);
            }
            c_get.push(n as f64 / t.elapsed().as_secs_f64());
            assert_eq!(total, n * 100);
            // SAFETY: the db opened above, closed once.
            unsafe { c::pmemkv_close(db) };
            std::fs::remove_file(&p).expect("remove");
        };
        // Alternate which goes first, so that neither always runs on a warmer machine.
        if r % 2 == 0 {
            rust_round(&mut rust_put, &mut rust_get);
            c_round(&mut c_put, &mut c_get);
        } else {
            c_round(&mut c_put, &mut c_get);
            rust_round(&mut rust_put, &mut rust_get);
        }
    }
    let (rp, rg, cp, cg) = (
        median(rust_put),
        median(rust_get),
        median(c_put),
        median(c_get),
    );
    println!("{n} keys of 16 bytes, 100-byte values, {rounds} rounds (alternating which goes first), medians:");
    println!(
        "put: Rust {:.0}/s, C {:.0}/s, C/Rust {:.3}",
        rp,
        cp,
        cp / rp
    );
    println!(
        "get: Rust {:.0}/s, C {:.0}/s, C/Rust {:.3}",
        rg,
        cg,
        cg / rg
    );
}
