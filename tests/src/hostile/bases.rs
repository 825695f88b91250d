//! The valid pool images that cases start from, built once.

use super::{
    Arc, BaseKind, Error, HostileNode, HostileRoot, Mutex, OnceLock, PBytes, PPtr, Parsed, Pool,
    SimMedium, KIND_NEXT, KV_KEYS, LANE_LOG, LAYOUT, POOL_SIZE,
};

/// One base image and what it holds.
#[derive(Debug)]
pub struct BaseImage {
    /// The image.
    pub image: Vec<u8>,
    /// Its parse.
    pub parsed: Parsed,
}

/// The three base images, built once.
#[derive(Debug)]
pub struct Bases {
    /// (a).
    pub pool: BaseImage,
    /// (b).
    pub mid_tx: BaseImage,
    /// (c).
    pub store: BaseImage,
    /// The store's keys.
    pub keys: Vec<Vec<u8>>,
}

impl Bases {
    /// The image of a kind.
    pub fn get(&self, k: BaseKind) -> &BaseImage {
        match k {
            BaseKind::Pool => &self.pool,
            BaseKind::MidTx => &self.mid_tx,
            BaseKind::Store => &self.store,
        }
    }
}

/// The base images (built at the first call).
pub fn bases() -> Result<&'static Bases, String> {
    static BASES: OnceLock<Result<Bases, String>> = OnceLock::new();
    BASES
        .get_or_init(build_bases)
        .as_ref()
        .map_err(|e| format!("building the base images: {e}"))
}

/// Contents that tell buffers apart: the salt's bytes, then one byte repeated (cheap to
/// build in a debug build, unlike a per-byte pattern).
pub(crate) fn pattern(len: usize, salt: u64) -> Vec<u8> {
    let mut v = vec![(salt as u8) ^ 0xA5; len];
    let n = len.min(8);
    v[..n].copy_from_slice(&salt.to_le_bytes()[..n]);
    v
}

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub(crate) fn base(image: Vec<u8>, what: &str) -> Result<BaseImage, String> {
    let parsed = Parsed::parse(&image).ok_or_else(|| format!("{what}: unparsable"))?;
    Ok(BaseImage { image, parsed })
}

pub(crate) fn build_bases() -> Result<Bases, String> {
    // Small buffers in runs of four classes, a one-chunk and a three-chunk large buffer, and a
    // list of typed nodes (each with a 16-byte buffer).
    const SMALL: [usize; 21] = [
        16, 16, 16, 16, 16, 100, 100, 100, 100, 100, 100, 1000, 1000, 1000, 1000, 1000, 1000, 5000,
        5000, 5000, 5000,
    ];
    let (pool, sim) = Pool::<HostileRoot>::create_simulated(LAYOUT, POOL_SIZE).map_err(err)?;
    pool.transaction(|tx| {
        let mut head = PPtr::null();
        for i in 0..8u64 {
            let data = tx.alloc_bytes(&pattern(16, i))?;
            head = tx.alloc(HostileNode {
                value: i,
                data,
                next: head,
            })?;
        }
        let mut bufs = [PBytes::null(); 24];
        for (i, &len) in SMALL.iter().enumerate() {
            bufs[i] = tx.alloc_bytes(&pattern(len, 100 + i as u64))?;
        }
        let big = tx.alloc_bytes(&pattern(70_000, 1))?;
        let huge = tx.alloc_bytes(&pattern(600_000, 2))?;
        let r = tx.root_mut()?;
        r.nodes = head;
        r.bufs = bufs;
        r.big = big;
        r.huge = huge;
        r.len = 8;
        Ok::<_, Error>(())
    })
    .map_err(err)?;
    // Holes in the run bitmaps: free a few buffers of each class and the head node.
    pool.transaction(|tx| {
        let r = *tx.root();
        for i in [1usize, 3, 6, 8, 12, 18] {
            tx.free_bytes(r.bufs[i])?;
        }
        let head = *tx.get(r.nodes)?;
        tx.free_bytes(head.data)?;
        tx.free(r.nodes)?;
        let m = tx.root_mut()?;
        for i in [1usize, 3, 6, 8, 12, 18] {
            m.bufs[i] = PBytes::null();
        }
        m.nodes = head.next;
        m.len = 7;
        Ok::<_, Error>(())
    })
    .map_err(err)?;
    drop(pool);
    let a = sim.persisted_image();

    // (b): the same pool, mid-transaction. A 70 000-byte snapshot does not fit the lane's
    // 8 KiB buffer, so the log starts with a NEXT link to an extension, where the other
    // entries (snapshots, allocation and free bits) follow.
    let pool = Pool::<HostileRoot>::open_medium(Arc::clone(&sim), LAYOUT).map_err(err)?;
    let images: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = Arc::clone(&images);
    sim.set_hook(Some(Box::new(move |cp| {
        if let Ok(mut v) = sink.lock() {
            v.push(cp.working());
        }
    })));
    let r = pool.root().map_err(err)?;
    let tx_result = pool.transaction(|tx| {
        tx.bytes_mut(r.big)?.fill(0x5A);
        let fresh = tx.alloc_bytes(&[7u8; 200])?;
        tx.free_bytes(r.bufs[0])?;
        tx.update_field(r.nodes, |n| &mut n.value, 99)?;
        let m = tx.root_mut()?;
        m.bufs[0] = PBytes::null();
        m.bufs[23] = fresh;
        Ok::<_, Error>(())
    });
    sim.set_hook(None);
    tx_result.map_err(err)?;
    drop(pool);
    let captured = images.lock().map_err(err)?.clone();
    let mut best: Option<(usize, Vec<u8>)> = None;
    for img in captured {
        let Some(p) = Parsed::parse(&img) else {
            continue;
        };
        let starts_with_next = p
            .entries
            .iter()
            .any(|e| e.kind == KIND_NEXT && p.geo.lane(e.lane) + LANE_LOG == e.at);
        if starts_with_next && best.as_ref().is_none_or(|b| p.entries.len() > b.0) {
            best = Some((p.entries.len(), img));
        }
    }
    let b = best
        .map(|(_, img)| img)
        .ok_or("no captured image has a log that continues in an extension")?;

    // (c): a store with enough keys for several leaves, some values out of line.
    let (db, ksim) = pobj_kv::Db::create_simulated(POOL_SIZE).map_err(err)?;
    let mut keys = Vec::new();
    for i in 0..KV_KEYS {
        let k = format!("key{:04}", (i * 37) % KV_KEYS).into_bytes();
        let v = if i % 5 == 0 {
            pattern(130 + i, i as u64)
        } else {
            format!("value{i}").into_bytes()
        };
        db.put(&k, &v).map_err(err)?;
        keys.push(k);
    }
    for k in keys.iter().step_by(13) {
        db.remove(k).map_err(err)?;
    }
    drop(db);
    let c = ksim.persisted_image();

    let bases = Bases {
        pool: base(a, "pool image")?,
        mid_tx: base(b, "mid-transaction image")?,
        store: base(c, "store image")?,
        keys,
    };
    // Sanity: every base opens, and the store has several leaves.
    Pool::<HostileRoot>::open_image(&bases.pool.image, LAYOUT).map_err(err)?;
    Pool::<HostileRoot>::open_image(&bases.mid_tx.image, LAYOUT).map_err(err)?;
    let medium = SimMedium::from_image(&bases.store.image).map_err(err)?;
    pobj_kv::Db::open_medium(medium).map_err(err)?;
    if bases.store.parsed.leaves.len() < 4 {
        return Err(format!(
            "the store image has {} leaves",
            bases.store.parsed.leaves.len()
        ));
    }
    Ok(bases)
}
