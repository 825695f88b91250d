//! Measurements of the running process from `/proc` (Linux); `None` elsewhere.

/// A `kB` field of `/proc/self/status`, in bytes.
#[must_use]
pub fn status_bytes(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        kb.checked_mul(1024)
    })
}

/// The peak resident set size (`VmHWM`), in bytes.
#[must_use]
pub fn peak_rss() -> Option<u64> {
    status_bytes("VmHWM")
}

/// The resident anonymous memory (`RssAnon`: heap and stacks, not mapped files), in bytes.
#[must_use]
pub fn anon_rss() -> Option<u64> {
    status_bytes("RssAnon")
}

/// The process's I/O counters: bytes passed to write system calls (`wchar`) and bytes sent
/// to the storage layer (`write_bytes`; zero on tmpfs, which has none).
#[must_use]
pub fn io_written() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/io").ok()?;
    let field = |name: &str| {
        s.lines().find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(':')?
                .trim()
                .parse::<u64>()
                .ok()
        })
    };
    Some((field("wchar")?, field("write_bytes")?))
}

/// The machine: CPU model, logical CPUs, memory in bytes.
#[must_use]
pub fn machine() -> (String, usize, Option<u64>) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".to_string());
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines().find_map(|l| {
            let kb: u64 = l
                .strip_prefix("MemTotal:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            kb.checked_mul(1024)
        })
    });
    (cpu, cpus, mem)
}
