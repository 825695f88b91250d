//! Unit tests of the distributions, the parsing and the engine (on a map and on pobj-kv).

use crate::random::{
    permutation, zeta, zeta_range, Rng, ScrambledZipfian, Zipfian, ZETA_EXACT, ZIPFIAN_THETA,
};
use crate::*;
use std::collections::BTreeMap;
use std::sync::RwLock;

#[test]
fn keys_are_big_endian_and_ordered() {
    let mut a = [0u8; 16];
    let mut b = [0u8; 16];
    encode_key(255, &mut a);
    encode_key(256, &mut b);
    assert!(a < b);
    assert_eq!(&a[8..], &255u64.to_be_bytes());
    let mut c = [0u8; 2];
    encode_key(0x1234, &mut c);
    assert_eq!(c, [0x12, 0x34]);
}

#[test]
fn permutation_is_a_permutation() {
    let mut rng = Rng::new(7);
    let mut p = permutation(1000, &mut rng);
    assert_ne!(p, (0..1000).collect::<Vec<_>>());
    p.sort_unstable();
    assert_eq!(p, (0..1000).collect::<Vec<_>>());
}

#[test]
fn zeta_tail_matches_the_sum() {
    let n = ZETA_EXACT * 3;
    let exact = zeta_range(0, n, ZIPFIAN_THETA);
    let approx = zeta(n, ZIPFIAN_THETA);
    assert!((exact - approx).abs() / exact < 1e-10, "{exact} {approx}");
    // zeta(10^10, 0.99), the constant YCSB's scrambled zipfian uses.
    let z = zeta(ScrambledZipfian::SPACE, ZIPFIAN_THETA);
    assert!((z - 26.469_028_201_783_02).abs() < 1e-6, "{z}");
}

#[test]
fn zipfian_is_skewed_and_in_range() {
    let mut rng = Rng::new(1);
    let mut z = Zipfian::new(1000, ZIPFIAN_THETA);
    let mut hist = vec![0u64; 1000];
    for _ in 0..100_000 {
        let v = z.next(&mut rng) as usize;
        hist[v] += 1;
    }
    // Item 0 has probability 1/zeta(1000) ≈ 0.134.
    let p0 = hist[0] as f64 / 100_000.0;
    assert!((p0 - 1.0 / zeta(1000, ZIPFIAN_THETA)).abs() < 0.01, "{p0}");
    assert!(hist[0] > hist[1] && hist[1] > hist[10] && hist[10] > hist[500]);
    z.grow(2000);
    assert_eq!(z.items(), 2000);
    for _ in 0..10_000 {
        assert!(z.next(&mut rng) < 2000);
    }
    let mut s = ScrambledZipfian::new(777);
    for _ in 0..10_000 {
        assert!(s.next(&mut rng) < 777);
    }
    // One item: always 0.
    let mut one = Zipfian::new(1, ZIPFIAN_THETA);
    assert_eq!(one.next(&mut rng), 0);
}

#[test]
fn parse_workloads() {
    assert_eq!(
        Workload::parse("ycsb-a").ok(),
        Some(Workload::Ycsb(Ycsb::A))
    );
    assert_eq!(Workload::parse("YCSBc").ok(), Some(Workload::Ycsb(Ycsb::C)));
    assert_eq!(Workload::parse("fillseq").ok(), Some(Workload::FillSeq));
    assert!(Workload::parse("nope").is_err());
    assert_eq!(Workload::parse_list("all").map(|v| v.len()).ok(), Some(14));
    assert_eq!(
        Workload::parse_list("ycsb,readseq").map(|v| v.len()).ok(),
        Some(7)
    );
    assert!(Workload::parse_list(" , ").is_err());
}

#[test]
fn config_checks_the_key_space() {
    let mut c = Config::new(1000);
    c.key_size = 1;
    assert!(c.validate().is_err());
    c.key_size = 2;
    assert!(c.validate().is_ok());
    c.threads = 0;
    assert!(c.validate().is_err());
}

/// A DRAM store for the engine's own tests.
struct Map(RwLock<BTreeMap<Vec<u8>, Vec<u8>>>);

impl Store for Map {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.0
            .write()
            .map_err(|_| StoreError::new("poisoned"))?
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }
    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        let m = self.0.read().map_err(|_| StoreError::new("poisoned"))?;
        Ok(m.get(key)
            .map(|v| {
                value.clear();
                value.extend_from_slice(v);
            })
            .is_some())
    }
    fn remove(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .0
            .write()
            .map_err(|_| StoreError::new("poisoned"))?
            .remove(key)
            .is_some())
    }
    fn scan(
        &self,
        start: &[u8],
        count: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError> {
        let m = self.0.read().map_err(|_| StoreError::new("poisoned"))?;
        let mut n = 0;
        for (k, v) in m.range(start.to_vec()..).take(count) {
            visit(k, v);
            n += 1;
        }
        Ok(n)
    }
}

struct MapBackend;

impl Backend for MapBackend {
    fn name(&self) -> String {
        "map".into()
    }
    fn create(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(Map(RwLock::new(BTreeMap::new()))))
    }
    fn reopen(&self) -> Result<Option<Box<dyn Store>>, StoreError> {
        Ok(None)
    }
}

#[test]
fn every_workload_runs_on_a_map() {
    for threads in [1, 3] {
        let mut cfg = Config::new(3000);
        cfg.ops = 2000;
        cfg.threads = threads;
        let r = run(&MapBackend, &Workload::ALL, &cfg, &Silent);
        let r = match r {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(r.results.len(), Workload::ALL.len());
        let fill = r.result(Workload::FillRandom).map(|x| x.ops);
        assert_eq!(fill, Some(3000));
        let rw = r.result(Workload::ReadWhileWriting);
        assert!(rw.is_some_and(|x| x.ops == 2000));
        assert!(r.open.is_none());
        let json = r.to_json();
        let names: Vec<&str> = json["workloads"]
            .as_array()
            .map(|a| a.iter().filter_map(|w| w["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names.len(), Workload::ALL.len());
        assert!(names.contains(&"ycsb-e"));
        assert_eq!(json["config"]["keys"], 3000);
    }
}

#[test]
fn every_workload_runs_on_pobj_kv() {
    let dir = std::env::temp_dir().join(format!("pkv-workload-{}", std::process::id()));
    assert!(std::fs::create_dir_all(&dir).is_ok());
    let backend = KvBackend::new(dir.join("w.pool"), 64 << 20);
    let mut cfg = Config::new(2000);
    cfg.threads = 2;
    let r = run(&backend, &Workload::ALL, &cfg, &Silent);
    let _ = std::fs::remove_dir_all(&dir);
    let r = match r {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert!(r.open.is_some_and(|(_, k)| k >= 2000));
    assert!(r.dram_bytes_per_key.is_some());
    let fill = r.result(Workload::FillRandom);
    assert!(fill.is_some_and(|f| f.write_amplification().is_some() && f.fences_per_op().is_some()));
}

#[test]
fn charts_are_written_as_svg_and_png_with_every_label() {
    let dir = std::env::temp_dir().join(format!("pkv-chart-{}", std::process::id()));
    assert!(std::fs::create_dir_all(&dir).is_ok());
    let c = chart::BarChart {
        title: "a long title that the old chart cut off at its default size: 1,000,000 keys".into(),
        y_label: "ops/s".into(),
        groups: vec!["fillseq".into(), "readwhilewriting".into()],
        series: vec![
            ("a".into(), vec![Some(1000.0), Some(2_000_000.0)]),
            ("b".into(), vec![None, Some(50.0)]),
        ],
    };
    let written = chart::write_both(&dir.join("c.svg"), &c);
    let keep = std::env::var_os("PKV_KEEP_CHARTS").is_some();
    let svg = std::fs::read_to_string(dir.join("c.svg")).unwrap_or_default();
    let png = std::fs::read(dir.join("c.png")).unwrap_or_default();
    let empty = chart::BarChart {
        title: "empty".into(),
        ..chart::BarChart::default()
    };
    let refused = chart::write_both(&dir.join("e"), &empty);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let files = match written {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(files, vec![dir.join("c.svg"), dir.join("c.png")]);
    for text in [c.title.as_str(), "readwhilewriting", "fillseq", "log scale"] {
        assert!(svg.contains(text), "the SVG lacks {text:?}");
    }
    assert_eq!(png.get(1..4), Some(b"PNG".as_slice()));
    assert!(matches!(refused, Err(chart::ChartError::Empty { .. })));
    assert_eq!(chart::si(1_500_000.0), "1.5M");
    assert_eq!(chart::si(100.0), "100");
}
