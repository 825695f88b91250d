//! The comparator's name in the map's header: recorded at creation, checked at open.

use std::sync::Arc;

use pobj::{PBytes, PPtr, Persistent, Pool, Tx};

use crate::error::{Error, Result};
use crate::leaf::{KvRoot, COMPARATOR_OFFSET, KV_VERSION_ORDERED, SLOT_MASK};
use crate::optimistic;
use crate::order::{Comparator, KeyOrder, BINARY_COMPARATOR, MAX_COMPARATOR_NAME};

const VERSION_OFFSET: usize = core::mem::offset_of!(KvRoot, version);

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_COMPARATOR_NAME {
        return Err(Error::InvalidComparatorName { len: name.len() });
    }
    Ok(())
}

/// The header's `comparator` field for a new map: 0 when no comparator is given (the bytewise
/// order, and a first open may still adopt another while the map is empty), else a new shared
/// buffer (allocated in `tx`) holding the name, the default's name included (pmemkv records
/// it: such a map refuses any other comparator).
pub(crate) fn record<R: Persistent>(
    tx: &mut Tx<'_, R>,
    comparator: Option<&dyn Comparator>,
) -> Result<u64> {
    match comparator {
        Some(c) => {
            check_name(c.name())?;
            Ok(tx.alloc_bytes_shared(c.name().as_bytes())?.offset())
        }
        None => Ok(0),
    }
}

/// The recorded name, read and checked (a buffer of at most `MAX_COMPARATOR_NAME` bytes).
pub(crate) fn recorded<R: Persistent>(
    pool: &Pool<R>,
    root: &KvRoot,
    at: u64,
) -> Result<Option<Vec<u8>>> {
    if root.comparator() == 0 {
        return Ok(None);
    }
    let b = PBytes::from_offset(root.comparator());
    let len = optimistic::buffer_len(pool, b)?;
    if len == 0 || len > MAX_COMPARATOR_NAME as u64 {
        return Err(Error::Corrupted {
            what: "map header (comparator name length)",
            offset: at,
        });
    }
    Ok(Some(optimistic::buffer(pool, b, 0, len as usize)?))
}

/// How to open a map with a requested comparator.
pub(crate) struct Plan {
    /// The order to open with.
    pub(crate) order: KeyOrder,
    /// The header records no name and the requested comparator is not bytewise: record it
    /// (`adopt`) if the map is still empty and not open elsewhere in the process.
    pub(crate) adopt: bool,
}

/// The order to open the map with: the requested comparator if its name is the recorded one.
/// A map with no recorded name is bytewise; a requested comparator of another name is then to be
/// adopted (`Plan::adopt`), which `adopt` does under the registry of open maps.
pub(crate) fn resolve<R: Persistent>(
    pool: &Pool<R>,
    header: PPtr<KvRoot>,
    root: &KvRoot,
    requested: Option<Arc<dyn Comparator>>,
) -> Result<Plan> {
    let want = requested
        .as_ref()
        .map_or(BINARY_COMPARATOR, |c| c.name())
        .to_owned();
    match recorded(pool, root, header.offset())? {
        Some(name) if name == want.as_bytes() => Ok(Plan {
            order: KeyOrder::of(requested),
            adopt: false,
        }),
        Some(name) => Err(Error::ComparatorMismatch {
            expected: String::from_utf8_lossy(&name).into_owned(),
            found: want,
        }),
        None => {
            let order = KeyOrder::of(requested);
            let adopt = matches!(order, KeyOrder::Custom(_));
            Ok(Plan { order, adopt })
        }
    }
}

/// Records `order`'s name in a header that records none, if the map is empty: one transaction
/// writes the name and version 3, after reading the header again inside it. The caller holds
/// the registry of open maps, read the header under it, and no handle of this map is alive, so
/// no write of this process can race the check (and no other process has the pool open).
pub(crate) fn adopt<R: Persistent>(
    pool: &Pool<R>,
    header: PPtr<KvRoot>,
    order: &KeyOrder,
) -> Result<()> {
    let KeyOrder::Custom(c) = order else {
        return Ok(());
    };
    check_name(c.name())?;
    let mismatch = || Error::ComparatorMismatch {
        expected: BINARY_COMPARATOR.to_owned(),
        found: c.name().to_owned(),
    };
    pool.transaction(|tx| {
        let root = tx.load(header)?;
        if root.comparator() != 0 {
            // The caller read the header under the registry, in which every write of a name
            // happens, and no other process has the pool open.
            return Err(Error::Internal {
                what: "map header (a name recorded during the open)",
            });
        }
        let first = tx.load(root.head)?;
        if first.head.bitmap & SLOT_MASK != 0 || !first.head.next.is_null() {
            return Err(mismatch());
        }
        let b = tx.alloc_bytes_shared(c.name().as_bytes())?;
        tx.update_at(header, COMPARATOR_OFFSET, b.offset())?;
        tx.update_at(header, VERSION_OFFSET, KV_VERSION_ORDERED)?;
        Ok(())
    })
}
