//! The workloads: `db_bench`'s fills, reads, overwrites and deletes, and the six YCSB core workloads.

use std::fmt;

use crate::BenchError;

/// A YCSB core workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ycsb {
    /// 50% reads, 50% updates, zipfian.
    A,
    /// 95% reads, 5% updates, zipfian.
    B,
    /// Reads only, zipfian.
    C,
    /// 95% reads, 5% inserts, latest.
    D,
    /// 95% short scans, 5% inserts, zipfian.
    E,
    /// 50% reads, 50% read-modify-writes, zipfian.
    F,
}

/// A workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Fresh store, keys in ascending order.
    FillSeq,
    /// Fresh store, keys in a random order (each once).
    FillRandom,
    /// Puts to random existing keys.
    Overwrite,
    /// Gets of random existing keys.
    ReadRandom,
    /// Gets of random absent keys.
    ReadMissing,
    /// A scan of the whole store.
    ReadSeq,
    /// Removes of every key in a random order.
    DeleteRandom,
    /// Random gets while one thread overwrites.
    ReadWhileWriting,
    /// A YCSB core workload.
    Ycsb(Ycsb),
}

impl Workload {
    /// Every workload, in the default order of a run.
    pub const ALL: [Workload; 14] = [
        Workload::FillSeq,
        Workload::ReadSeq,
        Workload::FillRandom,
        Workload::ReadRandom,
        Workload::ReadMissing,
        Workload::Overwrite,
        Workload::ReadWhileWriting,
        Workload::Ycsb(Ycsb::A),
        Workload::Ycsb(Ycsb::B),
        Workload::Ycsb(Ycsb::C),
        Workload::Ycsb(Ycsb::D),
        Workload::Ycsb(Ycsb::E),
        Workload::Ycsb(Ycsb::F),
        Workload::DeleteRandom,
    ];

    /// The name in tables and on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::ReadRandom => "readrandom",
            Workload::ReadMissing => "readmissing",
            Workload::ReadSeq => "readseq",
            Workload::DeleteRandom => "deleterandom",
            Workload::ReadWhileWriting => "readwhilewriting",
            Workload::Ycsb(Ycsb::A) => "ycsb-a",
            Workload::Ycsb(Ycsb::B) => "ycsb-b",
            Workload::Ycsb(Ycsb::C) => "ycsb-c",
            Workload::Ycsb(Ycsb::D) => "ycsb-d",
            Workload::Ycsb(Ycsb::E) => "ycsb-e",
            Workload::Ycsb(Ycsb::F) => "ycsb-f",
        }
    }

    /// The known names, comma-separated.
    #[must_use]
    pub fn names() -> String {
        let v: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
        format!("{}, all, ycsb", v.join(", "))
    }

    /// Parses one name (`ycsb-a`, `ycsba` and `a` are the same; case-insensitive).
    pub fn parse(s: &str) -> Result<Workload, BenchError> {
        let l = s.trim().to_ascii_lowercase();
        let norm = l
            .strip_prefix("ycsb")
            .map_or(l.as_str(), |r| r.trim_start_matches(['-', '_']));
        for w in Workload::ALL {
            if w.name() == l {
                return Ok(w);
            }
            if let Workload::Ycsb(_) = w {
                if w.name().ends_with(&format!("-{norm}")) && norm.len() == 1 {
                    return Ok(w);
                }
            }
        }
        Err(BenchError::UnknownWorkload(s.to_string()))
    }

    /// Parses a comma-separated list; `all` is every workload and `ycsb` the six YCSB ones.
    pub fn parse_list(s: &str) -> Result<Vec<Workload>, BenchError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.to_ascii_lowercase().as_str() {
                "all" => out.extend(Workload::ALL),
                "ycsb" => out.extend(
                    Workload::ALL
                        .into_iter()
                        .filter(|w| matches!(w, Workload::Ycsb(_))),
                ),
                _ => out.push(Workload::parse(part)?),
            }
        }
        if out.is_empty() {
            return Err(BenchError::Config("no workload named".into()));
        }
        Ok(out)
    }

    /// Whether the workload writes.
    #[must_use]
    pub fn writes(self) -> bool {
        !matches!(
            self,
            Workload::ReadRandom
                | Workload::ReadMissing
                | Workload::ReadSeq
                | Workload::Ycsb(Ycsb::C)
        )
    }

    pub(crate) fn fills(self) -> bool {
        matches!(self, Workload::FillSeq | Workload::FillRandom)
    }

    pub(crate) fn code(self) -> u64 {
        Workload::ALL
            .iter()
            .position(|w| *w == self)
            .map_or(99, |p| p as u64)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
