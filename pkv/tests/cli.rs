//! The `pkv` binary, run as a process on pools in /dev/shm (or the temporary directory).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let b = tempfile::Builder::new()
        .prefix("pkv-cli")
        .tempdir_in(if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        });
    b.expect("temporary directory")
}

/// Held shared around each spawn, exclusively by a test that opens a pool in this process: a
/// child inherits every open file (and its `flock`) between `fork` and `exec`.
static SPAWNING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Starts pkv with piped stdout and stderr (and stdin if `piped_stdin`).
fn spawn(args: &[&str], piped_stdin: bool) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pkv"));
    cmd.args(args)
        .stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let _spawning = SPAWNING
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cmd.spawn().expect("run pkv")
}

fn pkv_with(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = spawn(args, stdin.is_some());
    if let Some(input) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(input).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for pkv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "pkv panicked: {err}");
    out
}

fn pkv(args: &[&str]) -> Output {
    pkv_with(args, None)
}

/// Runs pkv, expecting success; its stdout.
fn ok(args: &[&str]) -> String {
    let out = pkv(args);
    assert!(
        out.status.success(),
        "pkv {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs pkv, expecting exit status `code`; its stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = pkv(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "pkv {args:?}: stdout {:?}, stderr {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn one_line_error(err: &str) {
    assert!(err.starts_with("pkv: "), "stderr {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr {err:?}");
}

/// A fresh pool of 8 MiB in `d`.
fn pool(d: &tempfile::TempDir) -> (PathBuf, String) {
    let p = d.path().join("kv.pool");
    let s = p.to_str().expect("UTF-8 path").to_string();
    let out = ok(&["create", &s, "--size", "8M"]);
    assert!(out.contains("created"), "{out}");
    (p, s)
}

#[test]
fn create_put_get_remove_count() {
    let d = dir();
    let (p, s) = pool(&d);
    assert_eq!(std::fs::metadata(&p).expect("pool file").len(), 8 << 20);
    assert_eq!(ok(&["count", &s]), "0\n");
    ok(&["put", &s, "apple", "red"]);
    ok(&["put", &s, "banana", "yellow"]);
    ok(&["put", &s, "neg", "-5"]);
    ok(&["put", &s, "apple", "green"]);
    assert_eq!(ok(&["get", &s, "apple"]), "green\n");
    assert_eq!(ok(&["get", &s, "neg"]), "-5\n");
    assert_eq!(ok(&["count", &s]), "3\n");
    ok(&["remove", &s, "banana"]);
    assert_eq!(ok(&["count", &s]), "2\n");
    // An existing pool is not re-created.
    one_line_error(&fails(&["create", &s], 2));
}

#[test]
fn not_found_exits_1() {
    let d = dir();
    let (_, s) = pool(&d);
    ok(&["put", &s, "k", "v"]);
    let err = fails(&["get", &s, "missing"], 1);
    assert!(err.contains("not found"), "{err}");
    let err = fails(&["remove", &s, "missing"], 1);
    assert!(err.contains("not found"), "{err}");
    ok(&["remove", &s, "k"]);
    let err = fails(&["remove", &s, "k"], 1);
    assert!(err.contains("not found"), "{err}");
    let err = fails(&["get", &s, "k"], 1);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn scan_with_from_to_limit() {
    let d = dir();
    let (_, s) = pool(&d);
    for k in ["d", "a", "c", "e", "b"] {
        ok(&["put", &s, k, &format!("v{k}")]);
    }
    assert_eq!(ok(&["scan", &s]), "a\tva\nb\tvb\nc\tvc\nd\tvd\ne\tve\n");
    assert_eq!(
        ok(&["scan", &s, "--from", "b"]),
        "b\tvb\nc\tvc\nd\tvd\ne\tve\n"
    );
    assert_eq!(ok(&["scan", &s, "--to", "c"]), "a\tva\nb\tvb\n");
    assert_eq!(
        ok(&["scan", &s, "--from", "b", "--to", "d"]),
        "b\tvb\nc\tvc\n"
    );
    assert_eq!(ok(&["scan", &s, "--limit", "2"]), "a\tva\nb\tvb\n");
    assert_eq!(
        ok(&["scan", &s, "--from", "bb", "--to", "z", "--limit", "2"]),
        "c\tvc\nd\tvd\n"
    );
    assert_eq!(ok(&["scan", &s, "--limit", "0"]), "");
    assert_eq!(ok(&["scan", &s, "--from", "d", "--to", "b"]), "");
}

#[test]
fn load_from_file_and_stdin() {
    let d = dir();
    let (_, s) = pool(&d);
    let file = d.path().join("input.tsv");
    std::fs::write(&file, "k1\tv1\nk2\tv with\ttab\r\nk1\tv1 again\n").expect("write input");
    let out = ok(&["load", &s, file.to_str().expect("path")]);
    assert!(out.contains("loaded 3"), "{out}");
    assert_eq!(ok(&["get", &s, "k1"]), "v1 again\n");
    assert_eq!(ok(&["get", &s, "k2"]), "v with\ttab\n");

    let out = pkv_with(&["load", &s], Some(b"s1\tone\ns2\ttwo\ns3\t"));
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded 3"));
    let out = pkv_with(&["load", &s, "-"], Some(b"s4\tfour\n"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(ok(&["get", &s, "s2"]), "two\n");
    assert_eq!(ok(&["get", &s, "s3"]), "\n");
    assert_eq!(ok(&["get", &s, "s4"]), "four\n");
    assert_eq!(ok(&["count", &s]), "6\n");
}

#[test]
fn load_line_without_tab_fails() {
    let d = dir();
    let (_, s) = pool(&d);
    let out = pkv_with(&["load", &s], Some(b"a\t1\nb\t2\nno tab here\nc\t3\n"));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    one_line_error(&err);
    assert!(err.contains("line 3"), "{err}");
    // The lines before it were loaded (each put is durable), the ones after it were not.
    assert_eq!(ok(&["count", &s]), "2\n");

    let file = d.path().join("bad.tsv");
    std::fs::write(&file, "x\t1\n\n").expect("write input");
    let err = fails(&["load", &s, file.to_str().expect("path")], 2);
    one_line_error(&err);
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn hex_round_trip() {
    let d = dir();
    let (_, s) = pool(&d);
    ok(&["--hex", "put", &s, "00ff10", "80000a09"]);
    ok(&["put", "--hex", &s, "", "00"]);
    assert_eq!(ok(&["get", "--hex", &s, "00ff10"]), "80000a09\n");
    assert_eq!(ok(&["--hex", "get", &s, "00FF10"]), "80000a09\n");
    assert_eq!(ok(&["--hex", "scan", &s]), "\t00\n00ff10\t80000a09\n");
    assert_eq!(ok(&["--hex", "scan", &s, "--from", "01"]), "");
    // Without --hex the raw bytes are written (not UTF-8; no panic).
    let out = pkv(&["scan", &s]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"\t\x00\n\x00\xff\x10\t\x80\x00\x0a\x09\n");
    let out = pkv(&["get", &s, ""]);
    assert!(out.status.success());
    assert_eq!(out.stdout, b"\x00\n");
    let out = pkv(&["--hex", "get", &s, ""]);
    assert_eq!(out.stdout, b"00\n");
    // Text put, hex get.
    ok(&["put", &s, "hi", "AZ"]);
    assert_eq!(ok(&["--hex", "get", &s, "6869"]), "415a\n");
    // Hex load.
    let out = pkv_with(&["--hex", "load", &s], Some(b"0102\tfeed\n"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(ok(&["--hex", "get", &s, "0102"]), "feed\n");
    assert_eq!(ok(&["--hex", "remove", &s, "0102"]), "");
    // Invalid hex.
    one_line_error(&fails(&["--hex", "get", &s, "abc"], 2));
    one_line_error(&fails(&["--hex", "put", &s, "zz", "00"], 2));
    one_line_error(&fails(&["--hex", "scan", &s, "--from", "0g"], 2));
    let out = pkv_with(&["--hex", "load", &s], Some(b"00\txyz\n"));
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_and_info() {
    let d = dir();
    let (_, s) = pool(&d);
    for i in 0..100 {
        ok(&["put", &s, &format!("key{i:03}"), &format!("value {i}")]);
    }
    assert_eq!(
        ok(&["check", &s]),
        format!("ok: 100 keys in {} leaves\n", leaves(&s))
    );
    let info = ok(&["info", &s]);
    for field in [
        "path:",
        "pool size:",
        "persistence:",
        "keys:",
        "leaves:",
        "bytes used:",
        "bytes free:",
        "dram bytes:",
        "open time:",
    ] {
        assert!(info.contains(field), "{field} missing from {info}");
    }
    assert!(info.contains(&s), "{info}");
    assert!(info.contains("8388608"), "{info}");
    let keys = info
        .lines()
        .find(|l| l.starts_with("keys:"))
        .expect("keys line");
    assert!(keys.ends_with(" 100"), "{keys}");
    assert!(info.contains(" ms"), "{info}");
}

/// The leaf count from `pkv info`.
fn leaves(s: &str) -> String {
    let info = ok(&["info", s]);
    info.lines()
        .find_map(|l| l.strip_prefix("leaves:"))
        .expect("leaves line")
        .trim()
        .to_string()
}

#[test]
fn errors_exit_2_with_one_line() {
    let d = dir();
    let not_pool = d.path().join("not-a-pool");
    std::fs::write(&not_pool, vec![b'x'; 1 << 16]).expect("write file");
    let np = not_pool.to_str().expect("path");
    for args in [
        vec!["info", np],
        vec!["check", np],
        vec!["get", np, "k"],
        vec!["put", np, "k", "v"],
        vec!["scan", np],
    ] {
        let err = fails(&args, 2);
        one_line_error(&err);
    }
    let missing = d.path().join("missing.pool");
    one_line_error(&fails(&["count", missing.to_str().expect("path")], 2));
    // Sizes.
    let new = d.path().join("new.pool");
    let np = new.to_str().expect("path");
    one_line_error(&fails(&["create", np, "--size", "1K"], 2));
    assert!(!fails(&["create", np, "--size", "12Q"], 2).contains("panicked"));
    let out = ok(&["create", np, "--size", "4m"]);
    assert!(out.contains("4.0 MiB"), "{out}");
    // A usage error is clap's, also exit 2.
    fails(&["get"], 2);
    fails(&["frobnicate"], 2);
}

#[test]
fn bench_runs_every_workload() {
    let d = dir();
    let p = d.path().join("bench.pool");
    let ps = p.to_str().expect("path");
    let out = ok(&["bench", "--keys", "2000", "--pool", ps]);
    for w in [
        "fillseq",
        "readseq",
        "fillrandom",
        "readrandom",
        "readmissing",
        "overwrite",
        "deleterandom",
        "open",
        "DRAM",
    ] {
        assert!(out.contains(w), "{w} missing from:\n{out}");
    }
    assert!(!p.exists(), "the bench pool is removed afterwards");
    // Other sizes; a leftover store at the path is replaced.
    ok(&["create", ps, "--size", "4M"]);
    let out = ok(&[
        "bench",
        "--keys",
        "2000",
        "--key-size",
        "2",
        "--value-size",
        "0",
        "--pool",
        ps,
    ]);
    assert!(out.contains("deleterandom"), "{out}");
    // A file that is not a store is not replaced.
    let other = d.path().join("precious");
    std::fs::write(&other, b"data").expect("write file");
    one_line_error(&fails(
        &[
            "bench",
            "--keys",
            "10",
            "--pool",
            other.to_str().expect("path"),
        ],
        2,
    ));
    assert_eq!(std::fs::read(&other).expect("still there"), b"data");
    // Too small a key for the key count.
    one_line_error(&fails(
        &["bench", "--keys", "1000", "--key-size", "1", "--pool", ps],
        2,
    ));
}

#[test]
fn bench_options_json_and_chart() {
    let d = dir();
    let p = d.path().join("bench.pool");
    let ps = p.to_str().expect("path");
    let json = d.path().join("out.json");
    let chart = d.path().join("chart.svg");
    let out = ok(&[
        "bench",
        "--keys",
        "1500",
        "--ops",
        "1000",
        "--threads",
        "2",
        "--seed",
        "7",
        "--workloads",
        "readrandom,ycsb-a,ycsb-e,readwhilewriting",
        "--pool",
        ps,
        "--json",
        json.to_str().expect("path"),
        "--chart",
        chart.to_str().expect("path"),
    ]);
    for w in [
        "readrandom",
        "ycsb-a",
        "ycsb-e",
        "readwhilewriting",
        "p99.9",
        "peak RSS",
    ] {
        assert!(out.contains(w), "{w} missing from:\n{out}");
    }
    // Only the named workloads ran (the load before them is not a row).
    assert!(!out.contains("fillrandom "), "{out}");
    assert!(!p.exists(), "the bench pool is removed afterwards");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON written"))
            .expect("the JSON parses");
    assert_eq!(j["tool"], "pkv bench");
    let r = &j["report"];
    assert_eq!(r["config"]["threads"], 2);
    assert!(
        r["open_ms"].is_number() && r["peak_rss_bytes"].is_number(),
        "{r}"
    );
    let ycsb_e = r["workloads"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == "ycsb-e"))
        .expect("ycsb-e in the JSON");
    assert!(ycsb_e["ops_per_sec"].is_number() && ycsb_e["latency_ns"]["p999"].is_number());
    for (svg, png) in [
        ("chart.svg", "chart.png"),
        ("chart-latency.svg", "chart-latency.png"),
    ] {
        let svg = std::fs::read_to_string(d.path().join(svg)).expect("SVG written");
        assert!(svg.starts_with("<svg") && svg.contains("ycsb-e"), "{svg}");
        let png = std::fs::read(d.path().join(png)).expect("PNG written");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
    // Bad options: one line, exit 2.
    one_line_error(&fails(&["bench", "--workloads", "nope", "--pool", ps], 2));
    fails(&["bench", "--threads", "0", "--pool", ps], 2);
}

/// A pool of the user's own root type holding two maps (one with keys, one damaged).
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct AppRoot {
    users: pobj_kv::MapHandle,
    broken: pobj_kv::MapHandle,
    n: u64,
}

#[test]
fn maps_of_a_pool_of_any_root_type_are_listed_and_checked() {
    use std::sync::Arc;
    let d = dir();
    let p = d.path().join("app.pool");
    let s = p.to_str().expect("UTF-8 path").to_string();
    let (users_at, broken_at) = {
        let _alone = SPAWNING
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pool = Arc::new(pobj::Pool::<AppRoot>::create(&p, "my-app", 8 << 20).expect("pool"));
        let (u, b) = pool
            .transaction(|tx| {
                let (u, b) = (
                    pobj_kv::MapHandle::create(tx)?,
                    pobj_kv::MapHandle::create(tx)?,
                );
                let r = tx.root_mut()?;
                r.users = u;
                r.broken = b;
                Ok::<_, pobj_kv::Error>((u, b))
            })
            .expect("maps");
        let users = pobj_kv::Map::open(&pool, u).expect("open");
        for i in 0..100 {
            users.put(format!("user{i}"), b"x").expect("put");
        }
        // Damage the second map's header version.
        pool.transaction(|tx| tx.update_at(b.header(), 8, 7u64))
            .expect("damage");
        (u.header().offset(), b.header().offset())
    };
    let listed = ok(&["maps", &s]);
    assert!(listed.contains("layout \"my-app\", 2 maps"), "{listed}");
    assert!(
        listed.contains(&format!("map {users_at:#x}: 100 keys in")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("map {broken_at:#x}: does not open")),
        "{listed}"
    );
    let checked = ok(&["check", &s, "--map", &format!("{users_at:#x}")]);
    assert!(checked.contains("ok: 100 keys"), "{checked}");
    let err = fails(&["check", &s, "--map", "all"], 1);
    one_line_error(&err);
    assert!(err.contains("1 problem"), "{err}");
    let err = fails(&["check", &s, "--map", "nonsense"], 2);
    one_line_error(&err);
    // A `Db` store lists its one map, the pool's root.
    let (_db, dbs) = pool(&d);
    ok(&["put", &dbs, "k", "v"]);
    let listed = ok(&["maps", &dbs]);
    assert!(
        listed.contains("1 map") && listed.contains("1 keys"),
        "{listed}"
    );
}

#[test]
fn create_without_a_size_makes_a_store_that_grows() {
    let d = dir();
    let grows = d.path().join("grows.pool");
    let g = grows.to_str().unwrap();
    let out = ok(&["create", g]);
    assert!(out.contains("grows to 64.0 GiB"), "{out}");
    let info = ok(&["info", g]);
    assert!(info.contains("max size:"), "{info}");
    assert!(info.contains("grows by 64.0 MiB at a time"), "{info}");
    // Enough puts to make it grow past its first size, read back after reopening.
    let mut input = Vec::new();
    for i in 0..20_000 {
        writeln!(input, "{i:08x}\t{}", "ab".repeat(300)).unwrap();
    }
    let size = |info: &str| -> u64 {
        let line = info.lines().find(|l| l.starts_with("pool size:")).unwrap();
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    let before = size(&info);
    let out = pkv_with(&["load", g], Some(&input));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = size(&ok(&["info", g]));
    assert!(after > before, "{before} -> {after}");
    assert_eq!(ok(&["count", g]).trim(), "20000");
    // A size is a fixed capacity; it does not combine with the growth options.
    let fixed = d.path().join("fixed.pool");
    let f = fixed.to_str().unwrap();
    ok(&["create", f, "--size", "8M"]);
    assert!(ok(&["info", f]).contains("fixed size"));
    let other = d.path().join("other.pool");
    let err = fails(
        &[
            "create",
            other.to_str().unwrap(),
            "--size",
            "8M",
            "--max-size",
            "1G",
        ],
        2,
    );
    assert!(err.contains("cannot be used with"), "{err}");
    assert!(!other.exists());
    let small = d.path().join("small.pool");
    let s = small.to_str().unwrap();
    ok(&[
        "create",
        s,
        "--initial-size",
        "4M",
        "--max-size",
        "1G",
        "--grow-step",
        "8M",
    ]);
    let info = ok(&["info", s]);
    assert!(
        info.contains("1.0 GiB") && info.contains("grows by 8.0 MiB"),
        "{info}"
    );
}

/// `pkv bench --json` printed its last line with `println!`, which panics when stdout is a
/// closed pipe (`pkv bench ... | head`).
#[test]
fn regression_14_1_bench_report_lines_on_a_closed_pipe() {
    let d = dir();
    let json = d.path().join("bench.json");
    let pool = d.path().join("bench.pool");
    let (json_s, pool_s) = (json.to_str().unwrap(), pool.to_str().unwrap());
    let mut child = spawn(
        &[
            "bench",
            "--keys",
            "2000",
            "--workloads",
            "fillseq",
            "--pool",
            pool_s,
            "--json",
            json_s,
        ],
        false,
    );
    // Read the table, then close the pipe (as `| head` does): the lines printed after the
    // table meet a closed pipe.
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut seen = false;
    for line in lines.by_ref() {
        if line.expect("a line").starts_with("(user bytes") {
            seen = true;
            break;
        }
    }
    drop(lines);
    let out = child.wait_with_output().expect("wait for pkv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(seen, "no table: {err}");
    assert!(!err.contains("panicked"), "pkv panicked: {err}");
    // A closed pipe is a normal end for a CLI (exit 0, nothing printed).
    assert!(out.status.success(), "{err}");
    assert!(json.exists());
}
