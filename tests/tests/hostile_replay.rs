//! The `hostile_pool` fuzz target on the stable toolchain: the checked-in seed corpus (which
//! covers every mutation kind), then seeded random inputs (`POBJ_FUZZ_CASES` sets how many).

mod fuzz_common;

use std::collections::BTreeMap;

use fuzz_common::{cases, random_inputs_between};

use pobj_tests::hostile::{self, BaseKind, Case, Mutation, Outcome};

/// Figures over many outcomes.
#[derive(Default)]
struct Figures {
    cases: u64,
    max_mutations: usize,
    max_operations: u64,
    operations: u64,
    refused: BTreeMap<String, u64>,
    opened: u64,
    with_problems: u64,
    by_base: BTreeMap<&'static str, u64>,
}

impl Figures {
    fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        self.max_mutations = self.max_mutations.max(o.mutations);
        self.max_operations = self.max_operations.max(o.operations);
        self.operations += o.operations;
        *self.by_base.entry(o.base.name()).or_default() += 1;
        if let Some(kind) = &o.refused {
            *self.refused.entry(kind.clone()).or_default() += 1;
        } else {
            self.opened += 1;
            if o.check_problems {
                self.with_problems += 1;
            }
        }
    }
}

#[test]
fn hostile_pool_corpus_and_random_inputs() {
    let start = std::time::Instant::now();
    let n = cases(10_000);
    let mut f = Figures::default();
    let mut failures = Vec::new();
    for input in fuzz_common::seeds("hostile_pool")
        .into_iter()
        .chain(random_inputs_between(0x0405_711E, n, 24, 160))
    {
        match hostile::check_case(&input) {
            Ok(o) => {
                assert!(o.mutations >= 1 && o.mutations <= hostile::MAX_MUTATIONS);
                assert!(o.operations <= hostile::MAX_OPERATIONS, "{o:?}");
                f.add(&o);
            }
            Err(m) => {
                eprintln!("FAILURE: {m}");
                failures.push(m);
            }
        }
    }
    let refused: u64 = f.refused.values().sum();
    eprintln!(
        "hostile_pool: {} cases in {:.1} s ({:?}), mutations per case <= {} (bound {}), \
         operations per case <= {} (bound {}); refused {refused} by kind {:?}; opened {} \
         ({} with check problems); operations run {}; failures {}",
        f.cases,
        start.elapsed().as_secs_f64(),
        f.by_base,
        f.max_mutations,
        hostile::MAX_MUTATIONS,
        f.max_operations,
        hostile::MAX_OPERATIONS,
        f.refused,
        f.opened,
        f.with_problems,
        f.operations,
        failures.len(),
    );
    assert!(
        failures.is_empty(),
        "{} failing cases; first: {}",
        failures.len(),
        failures[0]
    );
    assert!(f.cases as usize >= n);
    assert!(
        refused > 0 && f.opened > 0,
        "hostile pools should sometimes be refused and sometimes open"
    );
}

#[test]
fn the_seed_corpus_covers_every_mutation_kind_and_base() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut bases = std::collections::BTreeSet::new();
    for input in fuzz_common::seeds("hostile_pool") {
        let case = Case::decode(&input);
        bases.insert(case.base);
        kinds.extend(case.mutations.iter().map(Mutation::kind));
    }
    for k in Mutation::KINDS {
        assert!(kinds.contains(k), "no seed has a {k} mutation");
    }
    for b in [BaseKind::Pool, BaseKind::MidTx, BaseKind::Store] {
        assert!(bases.contains(&b), "no seed uses the {} base", b.name());
    }
}

/// Writes the seed corpus: for each mutation kind (and base), the first of a deterministic
/// stream of inputs whose case matches a hand-written description. Run with
/// `cargo test -p pobj-tests --test hostile_replay -- --ignored write_seed_corpus`.
#[test]
#[ignore = "rewrites fuzz/seeds/hostile_pool"]
fn write_seed_corpus() {
    type Want = fn(&Case) -> bool;
    use hostile::*;
    let wants: Vec<(&str, Want)> = vec![
        ("chunk-word-used-pool", |c| {
            c.base == BaseKind::Pool
                && matches!(
                    c.mutations[..],
                    [Mutation::ChunkWord {
                        word: ChunkWord::Used(_),
                        ..
                    }]
                )
        }),
        ("chunk-word-free-mid-tx", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::ChunkWord {
                        word: ChunkWord::Free,
                        ..
                    }]
                )
        }),
        ("chunk-word-run-pool", |c| {
            c.base == BaseKind::Pool
                && matches!(
                    c.mutations[..],
                    [Mutation::ChunkWord {
                        word: ChunkWord::Run,
                        ..
                    }]
                )
        }),
        ("inner-word-used", |c| {
            c.base == BaseKind::Pool
                && matches!(
                    c.mutations[..],
                    [Mutation::InnerWord {
                        word: ChunkWord::Used(_),
                        ..
                    }]
                )
        }),
        ("inner-word-garbage", |c| {
            matches!(
                c.mutations[..],
                [Mutation::InnerWord {
                    word: ChunkWord::Garbage(_),
                    ..
                }]
            )
        }),
        ("bitmap-xor-pool", |c| {
            c.base == BaseKind::Pool && matches!(c.mutations[..], [Mutation::BitmapXor { .. }])
        }),
        ("bitmap-xor-two", |c| {
            matches!(
                c.mutations[..],
                [Mutation::BitmapXor { .. }, Mutation::BitmapXor { .. }]
            )
        }),
        ("descriptor-class", |c| {
            matches!(
                c.mutations[..],
                [Mutation::Descriptor {
                    field: DescriptorField::Class(_),
                    ..
                }]
            )
        }),
        ("descriptor-count", |c| {
            matches!(
                c.mutations[..],
                [Mutation::Descriptor {
                    field: DescriptorField::Count(_),
                    ..
                }]
            )
        }),
        ("descriptor-magic", |c| {
            matches!(
                c.mutations[..],
                [Mutation::Descriptor {
                    field: DescriptorField::Magic(_),
                    ..
                }]
            )
        }),
        ("header-capacity", |c| {
            matches!(
                c.mutations[..],
                [Mutation::ObjectHeader {
                    field: HeaderField::Size(SizeChoice::Capacity),
                    ..
                }]
            )
        }),
        ("header-over-capacity", |c| {
            matches!(
                c.mutations[..],
                [Mutation::ObjectHeader {
                    field: HeaderField::Size(SizeChoice::OverCapacity(_)),
                    ..
                }]
            )
        }),
        ("header-type-log-ext", |c| {
            matches!(
                c.mutations[..],
                [Mutation::ObjectHeader {
                    field: HeaderField::Type(TypeChoice::LogExt),
                    ..
                }]
            )
        }),
        ("header-type-node", |c| {
            matches!(
                c.mutations[..],
                [Mutation::ObjectHeader {
                    field: HeaderField::Type(TypeChoice::Node),
                    ..
                }]
            )
        }),
        ("log-link-chunk-payload", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogLink {
                        append: false,
                        target: LinkTarget::ChunkPayload(_),
                        ..
                    }]
                )
        }),
        ("log-link-walked-appended", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogLink {
                        append: true,
                        target: LinkTarget::Walked(_),
                        ..
                    }]
                )
        }),
        ("log-link-misaligned", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogLink {
                        append: false,
                        target: LinkTarget::Misaligned(_),
                        ..
                    }]
                )
        }),
        ("log-link-out-of-bounds", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogLink {
                        target: LinkTarget::OutOfBounds(_),
                        ..
                    }]
                )
        }),
        ("log-link-forged-pool", |c| {
            c.base == BaseKind::Pool && matches!(c.mutations[..], [Mutation::LogLink { .. }])
        }),
        ("log-capacity-spans-chunks", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogCapacity {
                        append: false,
                        capacity: Capacity::Chunks(_),
                        ..
                    }]
                )
        }),
        ("log-capacity-past-end", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogCapacity {
                        capacity: Capacity::PastEnd,
                        ..
                    }]
                )
        }),
        ("log-nonce", |c| {
            c.base == BaseKind::MidTx && matches!(c.mutations[..], [Mutation::LogNonce { .. }])
        }),
        ("log-entry-offset-chunk-word", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogEntry {
                        field: EntryField::Offset(EntryTarget::ChunkWord(_)),
                        ..
                    }]
                )
        }),
        ("log-entry-kind", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogEntry {
                        field: EntryField::Kind(_),
                        ..
                    }]
                )
        }),
        ("log-entry-aux", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogEntry {
                        field: EntryField::Aux(_),
                        ..
                    }]
                )
        }),
        ("log-entry-data", |c| {
            c.base == BaseKind::MidTx
                && matches!(
                    c.mutations[..],
                    [Mutation::LogEntry {
                        field: EntryField::Data { .. },
                        ..
                    }]
                )
        }),
        ("log-entry-forged-pool", |c| {
            c.base == BaseKind::Pool
                && matches!(
                    c.mutations[..],
                    [Mutation::LogEntry {
                        field: EntryField::Offset(_),
                        ..
                    }]
                )
        }),
        ("leaf-next-leaf", |c| {
            matches!(
                c.mutations[..],
                [Mutation::LeafNext {
                    target: NextTarget::Leaf(_),
                    ..
                }]
            )
        }),
        ("leaf-next-itself", |c| {
            matches!(
                c.mutations[..],
                [Mutation::LeafNext {
                    target: NextTarget::Itself,
                    ..
                }]
            )
        }),
        ("leaf-next-non-leaf", |c| {
            matches!(
                c.mutations[..],
                [Mutation::LeafNext {
                    target: NextTarget::NonLeaf(_),
                    ..
                }]
            )
        }),
        ("leaf-next-garbage", |c| {
            matches!(
                c.mutations[..],
                [Mutation::LeafNext {
                    target: NextTarget::Raw(_),
                    ..
                }]
            )
        }),
        ("kv-head", |c| {
            matches!(c.mutations[..], [Mutation::KvHead { .. }])
        }),
        ("leaf-swap", |c| {
            matches!(c.mutations[..], [Mutation::LeafSwap { .. }])
        }),
        ("slot-meta-key-len", |c| {
            matches!(
                c.mutations[..],
                [Mutation::SlotMeta {
                    field: MetaField::KeyLen(_),
                    ..
                }]
            )
        }),
        ("slot-meta-out-of-line", |c| {
            matches!(
                c.mutations[..],
                [Mutation::SlotMeta {
                    field: MetaField::ToggleOutOfLine,
                    ..
                }]
            )
        }),
        ("slot-meta-fingerprint", |c| {
            matches!(
                c.mutations[..],
                [Mutation::SlotMeta {
                    field: MetaField::Fingerprint(_),
                    ..
                }]
            )
        }),
        ("slot-copy", |c| {
            matches!(c.mutations[..], [Mutation::SlotCopy { set_bit: true, .. }])
        }),
        ("slot-copy-same-leaf", |c| {
            let n = hostile::bases().unwrap().store.parsed.leaves.len() as u8;
            matches!(
                c.mutations[..],
                [Mutation::SlotCopy { from_leaf, to_leaf, set_bit: true, .. }]
                    if from_leaf % n == to_leaf % n
            )
        }),
        ("leaf-bitmap", |c| {
            matches!(c.mutations[..], [Mutation::LeafBitmap { .. }])
        }),
        ("store-chunk-word", |c| {
            c.base == BaseKind::Store && matches!(c.mutations[..], [Mutation::ChunkWord { .. }])
        }),
        ("four-kinds", |c| {
            let kinds: std::collections::BTreeSet<_> =
                c.mutations.iter().map(Mutation::kind).collect();
            c.mutations.len() == 4 && kinds.len() == 4
        }),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/hostile_pool");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, want) in wants {
        let input = random_inputs_between(0x5EED ^ name.len() as u64, 20_000_000, 0, 48)
            .find(|i| want(&Case::decode(i)))
            .unwrap_or_else(|| panic!("no input found for {name}"));
        std::fs::write(dir.join(name), &input).unwrap();
        eprintln!("{name}: {:?}", Case::decode(&input));
    }
}

#[test]
fn every_mutation_kind_changes_its_base_image() {
    let bases = hostile::bases().unwrap();
    let mut changed = std::collections::BTreeSet::new();
    for input in fuzz_common::seeds("hostile_pool") {
        let case = Case::decode(&input);
        for m in &case.mutations {
            let one = Case {
                mutations: vec![*m],
                ..case.clone()
            };
            if one.image(bases) != bases.get(case.base).image {
                changed.insert(m.kind());
            }
        }
    }
    for k in Mutation::KINDS {
        assert!(
            changed.contains(k),
            "no seed's {k} mutation changes its image"
        );
    }
}

/// The first library failure this target found, as a named case: a leaf holding two valid
/// slots with the same key (a slot copied into a free slot of its own leaf) opens, and a scan
/// then returns that key twice; `remove` reports it removed while `get` still finds it.
#[test]
fn a_key_duplicated_inside_one_leaf() {
    let case = Case {
        base: BaseKind::Store,
        mutations: vec![Mutation::SlotCopy {
            from_leaf: 1,
            from_slot: 0,
            to_leaf: 1,
            to_slot: 16,
            set_bit: true,
        }],
        ops: 0,
    };
    if let Err(m) = hostile::check(&case) {
        panic!("{m}");
    }
}

/// The generator's own description of the store's leaf (`hostile::Leaf`, written from
/// docs/kv.md) is the store's: a store's pool holds leaves of exactly its type id and size.
#[test]
fn the_generators_leaf_type_is_the_stores() {
    use pobj::Persistent;
    let (db, sim) = pobj_kv::Db::create_simulated(8 << 20).expect("store");
    for i in 0..100u32 {
        db.put(i.to_be_bytes(), b"value").expect("put");
    }
    drop(db);
    let pool: pobj::Pool<pobj_kv::KvRoot> =
        pobj::Pool::open_medium(sim, pobj_kv::LAYOUT).expect("reopen as a pool");
    let leaves = pool
        .objects()
        .expect("objects")
        .into_iter()
        .filter(|o| {
            o.type_id == hostile::Leaf::TYPE_ID
                && o.size == std::mem::size_of::<hostile::Leaf>() as u64
        })
        .count();
    assert!(leaves >= 3, "{leaves} objects of the generator's leaf type");
}
