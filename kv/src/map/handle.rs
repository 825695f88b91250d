//! `MapHandle`: what a user stores in the pool to find a map again — a pointer to its header.

use pobj::{PPtr, Persistent, Pool, Tx};

use crate::error::Result;
use crate::leaf::{version_for, KvRoot, Leaf, KV_MAGIC, SLOTS};

/// The persistent handle of a [`Map`](crate::Map): 8 bytes, `Persistent`, to keep in any field
/// of the user's own objects. It points to the map's header (a [`KvRoot`] object: magic,
/// version, first leaf, leaf geometry); [`Map::open`](crate::Map::open) checks all of it.
#[derive(Persistent, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct MapHandle {
    /// The map's header object.
    header: PPtr<KvRoot>,
}

static_assertions::assert_eq_size!(MapHandle, u64);

impl MapHandle {
    /// The handle of no map (what a zeroed field holds).
    #[must_use]
    pub const fn null() -> MapHandle {
        MapHandle {
            header: PPtr::null(),
        }
    }

    /// Whether this is the null handle.
    #[must_use]
    pub const fn is_null(self) -> bool {
        self.header.is_null()
    }

    /// Creates an empty map inside the transaction `tx` (its header and first leaf are
    /// allocated there, so an abort leaves nothing). Store the handle in one of your objects
    /// in the same transaction, then [`Map::open`](crate::Map::open) it.
    pub fn create<R: Persistent>(tx: &mut Tx<'_, R>) -> Result<MapHandle> {
        Self::create_ordered(tx, None)
    }

    /// Creates an empty map whose keys are ordered by `comparator` (its name is recorded in the
    /// header; open the map with [`Map::open_with`](crate::Map::open_with) and the same
    /// comparator).
    pub fn create_with<R: Persistent>(
        tx: &mut Tx<'_, R>,
        comparator: &dyn crate::Comparator,
    ) -> Result<MapHandle> {
        Self::create_ordered(tx, Some(comparator))
    }

    fn create_ordered<R: Persistent>(
        tx: &mut Tx<'_, R>,
        comparator: Option<&dyn crate::Comparator>,
    ) -> Result<MapHandle> {
        let name = super::comparator::record(tx, comparator)?;
        let mut root = KvRoot {
            magic: KV_MAGIC,
            version: version_for(name),
            head: PPtr::null(),
            slots_per_leaf: SLOTS as u64,
            reserved: [name, 0, 0, 0],
        };
        let header = tx.alloc(root)?;
        root.head = tx.alloc_shared(Leaf::empty(PPtr::null(), header.offset()))?;
        tx.write(header, root)?;
        Ok(MapHandle { header })
    }

    /// Every map in `pool`, in offset order: the live objects of the header type that carry a
    /// map's magic (whatever field, if any, refers to them). A tool's way to find the maps of a
    /// pool whose root type it does not know (`pkv maps`); the headers are checked again by
    /// [`Map::open`](crate::Map::open).
    pub fn find_all<R: Persistent>(pool: &Pool<R>) -> Result<Vec<MapHandle>> {
        let mut out = Vec::new();
        for o in pool.objects()? {
            if o.type_id != KvRoot::TYPE_ID || o.size != core::mem::size_of::<KvRoot>() as u64 {
                continue;
            }
            let header = PPtr::<KvRoot>::from_offset(o.offset);
            if pool.get(header).is_ok_and(|h| h.magic == KV_MAGIC) {
                out.push(MapHandle { header });
            }
        }
        Ok(out)
    }

    /// The handle of the map whose header is at pool offset `offset` (checked when opened).
    #[must_use]
    pub const fn from_offset(offset: u64) -> MapHandle {
        MapHandle {
            header: PPtr::from_offset(offset),
        }
    }

    /// The header's pointer.
    #[must_use]
    pub const fn header(self) -> PPtr<KvRoot> {
        self.header
    }

    pub(crate) const fn from_header(header: PPtr<KvRoot>) -> MapHandle {
        MapHandle { header }
    }
}
