//! The command line (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::codec::parse_size;

/// pkv: a persistent key-value store in a pobj pool.
///
/// Keys and values are UTF-8 text, or with --hex lowercase hex (binary data). Every write is
/// atomic and durable when the command returns. Exit status: 0 success, 1 key not found or
/// check found problems, 2 error.
#[derive(Debug, Parser)]
#[command(name = "pkv", version, about, long_about)]
pub(crate) struct Cli {
    /// Keys and values in arguments, `scan` output and `load` input are hex.
    #[arg(long, global = true)]
    pub hex: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// A pkv command.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Creates a new, empty store. Without `--size` its pool grows on demand (from 8M, by 64M
    /// at a time, up to 64G unless told otherwise).
    Create {
        /// The pool file to create (must not exist).
        pool: PathBuf,
        /// A fixed pool size (the store's capacity; it never grows): a number with a K, M, G
        /// or T suffix (powers of 1024).
        #[arg(long, value_parser = parse_size, conflicts_with_all = ["initial_size", "max_size", "grow_step"])]
        size: Option<u64>,
        /// Size of a growing pool at creation.
        #[arg(long, value_parser = parse_size)]
        initial_size: Option<u64>,
        /// Largest size a growing pool may reach (at most 1T).
        #[arg(long, value_parser = parse_size)]
        max_size: Option<u64>,
        /// Bytes a growing pool adds at a time.
        #[arg(long, value_parser = parse_size)]
        grow_step: Option<u64>,
    },
    /// Shows the store's size, persistence mode, contents and open time.
    Info {
        /// The pool file.
        pool: PathBuf,
    },
    /// Checks the pool and the tree; exit status 1 if anything is wrong.
    Check {
        /// The pool file.
        pool: PathBuf,
        /// Check the map whose header is at this offset (as `pkv maps` lists it; hex with 0x)
        /// in a pool of any layout and root type, or `all` for every map of the pool.
        #[arg(long)]
        map: Option<String>,
    },
    /// Lists the maps of a pool of any layout and root type: header offset, keys, leaves, and
    /// whether each opens.
    Maps {
        /// The pool file.
        pool: PathBuf,
    },
    /// Inserts or replaces a key's value.
    Put {
        /// The pool file.
        pool: PathBuf,
        /// The key.
        #[arg(allow_hyphen_values = true)]
        key: String,
        /// The value.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Prints a key's value and a newline; exit status 1 if absent.
    Get {
        /// The pool file.
        pool: PathBuf,
        /// The key.
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Removes a key; exit status 1 if absent.
    Remove {
        /// The pool file.
        pool: PathBuf,
        /// The key.
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Prints the number of keys.
    Count {
        /// The pool file.
        pool: PathBuf,
    },
    /// Prints entries as KEY<TAB>VALUE lines in key order.
    Scan {
        /// The pool file.
        pool: PathBuf,
        /// First key (inclusive).
        #[arg(long, allow_hyphen_values = true)]
        from: Option<String>,
        /// End key (exclusive).
        #[arg(long, allow_hyphen_values = true)]
        to: Option<String>,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Puts KEY<TAB>VALUE lines from FILE or stdin; prints the number loaded.
    ///
    /// Lines are put in order, each durable when the next starts; the first TAB of a line
    /// splits it (a value may hold TABs) and a trailing CR is dropped. A line without a TAB
    /// stops the load with an error naming it (the lines before it stay loaded).
    Load {
        /// The pool file.
        pool: PathBuf,
        /// The input file; stdin if absent or `-`.
        file: Option<PathBuf>,
    },
    /// Benchmarks a fresh store: db_bench-style workloads and YCSB A-F.
    ///
    /// Prints ops/s, latency percentiles, fences per operation and bytes flushed per byte of
    /// user data per workload, then the open (recovery) time, DRAM per key and peak RSS.
    Bench(BenchArgs),
}

/// Options of `pkv bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Workloads, comma-separated, run in order: fillseq, readseq, fillrandom, readrandom,
    /// readmissing, overwrite, readwhilewriting, ycsb-a ... ycsb-f, deleterandom; `all` for every
    /// one, `ycsb` for the six YCSB ones.
    #[arg(long, default_value = "all")]
    pub workloads: String,
    /// The pool file, replaced and removed afterwards [default: /dev/shm/pkv-bench.pool, or
    /// pkv-bench.pool in the temporary directory]. An existing file is replaced only if it is
    /// a pkv store.
    #[arg(long)]
    pub pool: Option<PathBuf>,
    /// Keys written by the fills.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Operations of each random-access and YCSB workload (YCSB E: a tenth) [default: --keys].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: Option<u64>,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Bytes per key (the key number, big-endian, zero-padded).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub key_size: u64,
    /// Threads sharing each workload's operations (readwhilewriting: one writer, the rest
    /// readers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Create the store at the minimum size and let it grow (by the default step) rather
    /// than at a fixed size large enough for the run.
    #[arg(long)]
    pub grow: bool,
    /// Also write every figure to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also draw ops/s per workload (FILE.svg, FILE.png) and latency percentiles per workload
    /// (FILE-latency.svg, FILE-latency.png); FILE may end in .svg or .png.
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}
