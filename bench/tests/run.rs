//! `pobj-bench` end to end on a tiny run: child processes, the comparison, JSON and charts.

use std::process::Command;

#[test]
fn tiny_comparison_runs() {
    let dir = std::env::temp_dir().join(format!("pobj-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let json = dir.join("out.json");
    let chart = dir.join("chart");
    let out = Command::new(env!("CARGO_BIN_EXE_pobj-bench"))
        .args([
            "--keys",
            "400",
            "--tx-ops",
            "300",
            "--stores",
            "pobj-kv,btreemap",
            "--workloads",
            "fillrandom,readrandom,ycsb-e,deleterandom",
            "--dir",
        ])
        .arg(&dir)
        .arg("--json")
        .arg(&json)
        .arg("--chart")
        .arg(&chart)
        .output()
        .expect("run pobj-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for s in [
        "ops/s (× = ratio to pobj-kv",
        "readrandom",
        "btreemap",
        "pobj transactions vs PMDK",
        "targets of issue 7",
    ] {
        assert!(stdout.contains(s), "{s} missing from:\n{stdout}");
    }
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON")).expect("valid JSON");
    assert_eq!(j["stores"][0]["name"], "pobj-kv");
    assert!(j["stores"][1]["report"]["workloads"].is_array());
    for f in ["chart.svg", "chart.png", "chart-tx.svg", "chart-tx.png"] {
        assert!(dir.join(f).is_file(), "{f} not written");
    }
    // No store files are left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pobj-bench-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);

    // An unknown store is an error.
    let out = Command::new(env!("CARGO_BIN_EXE_pobj-bench"))
        .args(["kv", "--stores", "nope"])
        .output()
        .expect("run pobj-bench");
    assert_eq!(out.status.code(), Some(2));
}
