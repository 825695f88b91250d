//! The mutations a case applies: the meaningful fields of each structure and the plausible
//! values they are set to, drawn from fuzzer bytes.

use super::{apply, Arbitrary, Bases, Unstructured, MAX_MUTATIONS, TAG_USED, WORD_RUN};

/// A chunk-table word to write (docs/format.md §4).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkWord {
    /// `FREE`.
    Free,
    /// `USED` with a length of `1 + n % (chunk_count + 1)`: may run past the heap.
    Used(u16),
    /// `RUN`.
    Run,
    /// Any word (mostly undecodable).
    Garbage(u64),
}

impl ChunkWord {
    pub(crate) fn encode(self, chunk_count: u64) -> u64 {
        match self {
            ChunkWord::Free => 0,
            ChunkWord::Used(n) => TAG_USED | ((1 + u64::from(n) % (chunk_count + 1)) << 16),
            ChunkWord::Run => WORD_RUN,
            ChunkWord::Garbage(w) => w,
        }
    }
}

/// A change to a run descriptor.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorField {
    /// Replace the magic.
    Magic(u64),
    /// Another valid class (block size and its exact count): every block moves.
    Class(u8),
    /// The block count off by `delta` (0 means +1).
    Count(i8),
    /// A raw geometry word.
    Geometry(u64),
}

/// A new value for an object header's size.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeChoice {
    /// Zero.
    Zero,
    /// Exactly the block's capacity.
    Capacity,
    /// `capacity + 1 + k`: refused by open.
    OverCapacity(u8),
    /// The size less `1 + k`.
    Shrink(u16),
    /// Any value.
    Raw(u64),
}

/// A new type id for an object header.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeChoice {
    /// Byte buffer.
    Bytes,
    /// `HostileNode`.
    Node,
    /// The pool's root type.
    Root,
    /// A store leaf.
    Leaf,
    /// An undo-log extension (freed at open when large).
    LogExt,
    /// Any id.
    Raw(u64),
}

/// Which header field.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderField {
    /// The size word.
    Size(SizeChoice),
    /// The type id word.
    Type(TypeChoice),
}

/// Where a log `NEXT` link leads.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    /// The payload of chunk `k % chunk_count` (whatever it holds).
    ChunkPayload(u8),
    /// A buffer this lane's walk already entered, with that buffer's nonce (a loop).
    Walked(u8),
    /// Another lane's log buffer (below the heap).
    Lane(u8),
    /// The current target plus `1 + k % 7` (misaligned).
    Misaligned(u8),
    /// Near or past the end of the pool.
    OutOfBounds(u32),
    /// A live object's payload.
    Object(u16),
    /// Any offset.
    Raw(u64),
}

/// A `NEXT` link's capacity.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capacity {
    /// Zero.
    Zero,
    /// A few bytes (`k`).
    Small(u8),
    /// One chunk's payload (what the writer uses).
    Chunk,
    /// `1 + k % 4` whole chunks less the payload offset: spans chunks.
    Chunks(u8),
    /// Just past the end of the pool.
    PastEnd,
    /// Any value.
    Raw(u64),
}

/// Where an entry's `offset` points.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryTarget {
    /// Chunk-table word `k % chunk_count`.
    ChunkWord(u8),
    /// Inside the chunk table, misaligned.
    ChunkTableMisaligned(u8),
    /// An object header.
    ObjectHeader(u16),
    /// A live object's payload.
    Object(u16),
    /// A run bitmap word.
    Bitmap(u8, u8),
    /// A run descriptor.
    Descriptor(u8),
    /// A lane (below the heap).
    Lane(u8),
    /// The pool header.
    PoolHeader,
    /// `k` bytes before the end of the pool.
    NearEnd(u16),
    /// Any offset.
    Raw(u64),
}

/// An entry's `aux`.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxChoice {
    /// A length (0 and above 32768 are invalid for snapshots).
    Len(u16),
    /// One bit `1 << (k % 64)`.
    Bit(u8),
    /// `u64::MAX`.
    Max,
    /// Any value.
    Raw(u64),
}

/// A change to one log entry (its checksum is recomputed afterwards).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryField {
    /// Kind `k % 6` (0 and 5 are invalid).
    Kind(u8),
    /// The target offset.
    Offset(EntryTarget),
    /// The aux word.
    Aux(AuxChoice),
    /// Word `at` of the entry's data (the bytes a snapshot restores).
    Data {
        /// Which data word.
        at: u8,
        /// Its value.
        value: u64,
    },
}

/// Where a leaf's `next` (or the store root's `head`) points.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextTarget {
    /// Leaf `k % leaves`.
    Leaf(u8),
    /// The leaf itself (the root itself, for `head`).
    Itself,
    /// The first leaf (a cycle).
    Head,
    /// An object that is not a leaf.
    NonLeaf(u16),
    /// Null.
    Null,
    /// `1 + k` bytes past the leaf (inside it, or misaligned).
    Inside(u8),
    /// Any value.
    Raw(u64),
}

/// A change to a slot's `meta` word (docs/kv.md, Slot).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaField {
    /// Key length (bits 0..20).
    KeyLen(u32),
    /// Value length (bits 20..45).
    ValueLen(u32),
    /// Flip the out-of-line flag.
    ToggleOutOfLine,
    /// Fingerprint (bits 48..56).
    Fingerprint(u8),
    /// Set a reserved bit.
    Reserved(u8),
    /// Any word.
    Raw(u64),
}

/// One structure-aware mutation. Pool-level kinds (the first nine) apply to every base image;
/// log kinds forge an entry where a lane has none; store kinds only to the store image, whose
/// cases draw from all fifteen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// A chunk word the table walk reads (a free chunk, a run, an extent's first chunk).
    ChunkWord {
        /// Which chunk.
        chunk: u8,
        /// Its new word.
        word: ChunkWord,
    },
    /// A word inside a large extent (falls back to a walked word if there is none).
    InnerWord {
        /// Which inner chunk.
        inner: u8,
        /// Its new word.
        word: ChunkWord,
    },
    /// XOR into a run bitmap word (one past the used words included).
    BitmapXor {
        /// Which run.
        run: u8,
        /// Which word.
        word: u8,
        /// The mask (0 means bit 0).
        xor: u64,
    },
    /// A run descriptor field.
    Descriptor {
        /// Which run.
        run: u8,
        /// The change.
        field: DescriptorField,
    },
    /// An object header field.
    ObjectHeader {
        /// Which object.
        object: u16,
        /// The change.
        field: HeaderField,
    },
    /// Where a `NEXT` link leads.
    LogLink {
        /// Which link.
        link: u8,
        /// Forge a new link at the end of a lane's log instead.
        append: bool,
        /// The new target.
        target: LinkTarget,
    },
    /// A `NEXT` link's capacity.
    LogCapacity {
        /// Which link.
        link: u8,
        /// Forge a new link instead.
        append: bool,
        /// The new capacity.
        capacity: Capacity,
    },
    /// A `NEXT` link's nonce (XOR; 0 means 1).
    LogNonce {
        /// Which link.
        link: u8,
        /// The mask.
        xor: u64,
    },
    /// A field of a log entry (a forged snapshot entry in a lane without entries).
    LogEntry {
        /// Which entry.
        entry: u16,
        /// The change.
        field: EntryField,
    },
    /// A leaf's `next` pointer.
    LeafNext {
        /// Which leaf.
        leaf: u8,
        /// The new target.
        target: NextTarget,
    },
    /// The store root's `head` pointer.
    KvHead {
        /// The new target.
        target: NextTarget,
    },
    /// Swap two leaves in the list order.
    LeafSwap {
        /// One leaf.
        a: u8,
        /// The other.
        b: u8,
    },
    /// A slot's `meta` word.
    SlotMeta {
        /// Which leaf.
        leaf: u8,
        /// Which slot (a valid one if the leaf has any).
        slot: u8,
        /// The change.
        field: MetaField,
    },
    /// Copy a valid slot into a slot of another (or the same) leaf: a duplicate key, or a key
    /// outside its leaf's bounds.
    SlotCopy {
        /// Source leaf.
        from_leaf: u8,
        /// Source slot.
        from_slot: u8,
        /// Destination leaf.
        to_leaf: u8,
        /// Destination slot.
        to_slot: u8,
        /// Set the destination's bitmap bit.
        set_bit: bool,
    },
    /// XOR into a leaf's bitmap (bits 39..64 included; 0 means bit 39).
    LeafBitmap {
        /// Which leaf.
        leaf: u8,
        /// The mask.
        xor: u64,
    },
}

impl<'a> Arbitrary<'a> for Mutation {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Mutation::decode(u, true)
    }
}

impl Mutation {
    /// Pool-level kinds: the first ones of [`Mutation::KINDS`].
    pub const POOL_KINDS: usize = 9;

    /// How often each kind is drawn, relative to the others. The link kinds are drawn less:
    /// open refuses most links at once (a link must lead to a whole chunk's payload with the
    /// writer's capacity), which says little more the hundredth time.
    const WEIGHTS: [usize; 15] = [3, 1, 3, 2, 3, 1, 1, 1, 3, 2, 1, 1, 2, 2, 2];

    /// Decodes one mutation, of a pool-level kind unless `store`.
    pub fn decode(u: &mut Unstructured<'_>, store: bool) -> arbitrary::Result<Self> {
        let kinds = if store {
            Mutation::KINDS.len()
        } else {
            Mutation::POOL_KINDS
        };
        let weights = &Mutation::WEIGHTS[..kinds];
        let mut draw = u.choose_index(weights.iter().sum())?;
        let mut kind = 0;
        while kind + 1 < kinds && draw >= weights[kind] {
            draw -= weights[kind];
            kind += 1;
        }
        Ok(match kind {
            0 => Mutation::ChunkWord {
                chunk: u.arbitrary()?,
                word: u.arbitrary()?,
            },
            1 => Mutation::InnerWord {
                inner: u.arbitrary()?,
                word: u.arbitrary()?,
            },
            2 => Mutation::BitmapXor {
                run: u.arbitrary()?,
                word: u.arbitrary()?,
                xor: u.arbitrary()?,
            },
            3 => Mutation::Descriptor {
                run: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            4 => Mutation::ObjectHeader {
                object: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            5 => Mutation::LogLink {
                link: u.arbitrary()?,
                append: u.arbitrary()?,
                target: u.arbitrary()?,
            },
            6 => Mutation::LogCapacity {
                link: u.arbitrary()?,
                append: u.arbitrary()?,
                capacity: u.arbitrary()?,
            },
            7 => Mutation::LogNonce {
                link: u.arbitrary()?,
                xor: u.arbitrary()?,
            },
            8 => Mutation::LogEntry {
                entry: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            9 => Mutation::LeafNext {
                leaf: u.arbitrary()?,
                target: u.arbitrary()?,
            },
            10 => Mutation::KvHead {
                target: u.arbitrary()?,
            },
            11 => Mutation::LeafSwap {
                a: u.arbitrary()?,
                b: u.arbitrary()?,
            },
            12 => Mutation::SlotMeta {
                leaf: u.arbitrary()?,
                slot: u.arbitrary()?,
                field: u.arbitrary()?,
            },
            13 => Mutation::SlotCopy {
                from_leaf: u.arbitrary()?,
                from_slot: u.arbitrary()?,
                to_leaf: u.arbitrary()?,
                to_slot: u.arbitrary()?,
                set_bit: u.arbitrary()?,
            },
            _ => Mutation::LeafBitmap {
                leaf: u.arbitrary()?,
                xor: u.arbitrary()?,
            },
        })
    }

    /// Names of every kind, in declaration order.
    pub const KINDS: [&'static str; 15] = [
        "ChunkWord",
        "InnerWord",
        "BitmapXor",
        "Descriptor",
        "ObjectHeader",
        "LogLink",
        "LogCapacity",
        "LogNonce",
        "LogEntry",
        "LeafNext",
        "KvHead",
        "LeafSwap",
        "SlotMeta",
        "SlotCopy",
        "LeafBitmap",
    ];

    /// This mutation's kind (one of [`Mutation::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Mutation::ChunkWord { .. } => "ChunkWord",
            Mutation::InnerWord { .. } => "InnerWord",
            Mutation::BitmapXor { .. } => "BitmapXor",
            Mutation::Descriptor { .. } => "Descriptor",
            Mutation::ObjectHeader { .. } => "ObjectHeader",
            Mutation::LogLink { .. } => "LogLink",
            Mutation::LogCapacity { .. } => "LogCapacity",
            Mutation::LogNonce { .. } => "LogNonce",
            Mutation::LogEntry { .. } => "LogEntry",
            Mutation::LeafNext { .. } => "LeafNext",
            Mutation::KvHead { .. } => "KvHead",
            Mutation::LeafSwap { .. } => "LeafSwap",
            Mutation::SlotMeta { .. } => "SlotMeta",
            Mutation::SlotCopy { .. } => "SlotCopy",
            Mutation::LeafBitmap { .. } => "LeafBitmap",
        }
    }
}

/// The base images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BaseKind {
    /// (a) a closed pobj pool with objects of many sizes.
    Pool,
    /// (b) that pool in the middle of a transaction whose log continues in an extension.
    MidTx,
    /// (c) a closed key-value store.
    Store,
}

impl BaseKind {
    /// A short name for figures.
    pub fn name(self) -> &'static str {
        match self {
            BaseKind::Pool => "pool",
            BaseKind::MidTx => "mid-tx",
            BaseKind::Store => "store",
        }
    }
}

/// One hostile case: a base image and the mutations applied to it, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The base image.
    pub base: BaseKind,
    /// 1..=4 mutations.
    pub mutations: Vec<Mutation>,
    /// Seed of the operations run on the opened pool or store.
    pub ops: u64,
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let base = [BaseKind::Pool, BaseKind::MidTx, BaseKind::Store][u.choose_index(3)?];
        // 1..=4 mutations, fewer more often: each one may be refused on its own.
        let n = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4][u.choose_index(10)?].min(MAX_MUTATIONS);
        let mut mutations = Vec::with_capacity(n);
        for _ in 0..n {
            mutations.push(Mutation::decode(u, base == BaseKind::Store)?);
        }
        let ops = u64::arbitrary(u)?;
        Ok(Case {
            base,
            mutations,
            ops,
        })
    }
}

impl Case {
    /// Decodes an input (every input is a case; one that `arbitrary` rejects is the empty
    /// input's case).
    pub fn decode(input: &[u8]) -> Case {
        Case::arbitrary(&mut Unstructured::new(input))
            .or_else(|_| Case::arbitrary(&mut Unstructured::new(&[])))
            .unwrap_or(Case {
                base: BaseKind::Pool,
                mutations: vec![Mutation::ChunkWord {
                    chunk: 0,
                    word: ChunkWord::Free,
                }],
                ops: 0,
            })
    }

    /// The mutated image.
    pub fn image(&self, bases: &Bases) -> Vec<u8> {
        let b = bases.get(self.base);
        let mut img = b.image.clone();
        for m in &self.mutations {
            apply(&mut img, &b.parsed, m);
        }
        img
    }
}
