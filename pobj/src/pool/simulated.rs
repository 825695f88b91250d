//! Pools on the simulated medium (feature `crash-test`): created, opened from a medium or an
//! image, and the fault injection of the crash harness's own tests.

use std::path::{Path, PathBuf};
#[cfg(feature = "crash-test")]
use std::sync::Arc;

use super::open::{io, root_check, validate_layout, FRONT};
use super::options::PoolOptions;
use super::Pool;
use crate::error::{Error, Result};
use crate::media::persist::Persister;
#[cfg(feature = "crash-test")]
use crate::media::sim::{Claim, SimBacking, SimMedium};
use crate::tx::pool_core::Backing;
#[cfg(feature = "fault-injection")]
use crate::tx::pool_core::Fault;
use crate::Persistent;

/// The path reported in errors for simulated pools.
#[cfg(feature = "crash-test")]
const SIM_PATH: &str = "<simulated>";

impl<R: Persistent> Pool<R> {
    #[cfg(feature = "crash-test")]
    /// Creates a pool on a new simulated medium, for crash testing (`pobj::crash`). Returns the
    /// pool and its medium, whose fence hook sees every crash point. `size` is as for
    /// [`Pool::create`]: a pool that grows gets a medium with room for its maximum size (only
    /// touched pages take memory).
    pub fn create_simulated(
        layout: &str,
        size: impl Into<PoolOptions>,
    ) -> Result<(Self, Arc<SimMedium>)> {
        root_check::<R>()?;
        let layout_bytes = validate_layout(layout)?;
        let (geo, chunks, step) = size.into().plan()?;
        let len = geo.len_for(chunks);
        let room = usize::try_from(geo.max_size).map_err(|_| Error::Internal {
            what: "a pool size beyond usize",
        })?;
        let sim = SimMedium::with_room(&vec![0u8; len as usize], room)
            .map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        let claim = Claim::take(Arc::clone(&sim)).ok_or_else(|| Error::Locked {
            path: PathBuf::from(SIM_PATH),
        })?;
        let backing = SimBacking::new(claim, len);
        // SAFETY: `len` is the image's length, within the medium's room.
        let region = unsafe { backing.region() };
        let p = Persister::simulated(region, Arc::clone(&sim));
        Self::format_region(region, &p, &geo, chunks, step, layout_bytes)?;
        drop(p);
        let pool = Self::open_claimed(backing.into_claim(), layout)?;
        Ok((pool, sim))
    }

    #[cfg(feature = "crash-test")]
    /// Opens the pool image held by a simulated medium (for instance a post-crash image),
    /// running recovery on it. Recovery's fences are crash points of that medium.
    ///
    /// The pool holds the medium until it is dropped: opening a medium that another pool holds
    /// returns [`Error::Locked`], as a second open of a pool file does.
    pub fn open_medium(sim: Arc<SimMedium>, layout: &str) -> Result<Self> {
        root_check::<R>()?;
        validate_layout(layout)?;
        let claim = Claim::take(sim).ok_or_else(|| Error::Locked {
            path: PathBuf::from(SIM_PATH),
        })?;
        Self::open_claimed(claim, layout)
    }

    #[cfg(feature = "crash-test")]
    /// `open_medium` with the medium claimed: nothing else can open it or copy its image.
    fn open_claimed(claim: Claim, layout: &str) -> Result<Self> {
        let path = Path::new(SIM_PATH);
        let sim = claim.medium();
        let hb = sim.prefix(FRONT);
        let front = Self::validate_header(path, &hb, sim.image_len() as u64, layout)?;
        let sim = Arc::clone(sim);
        let backing = Arc::new(SimBacking::new(claim, front.len));
        // SAFETY: `validate_header` checked `front.len <= image_len`, which is within the
        // medium's room.
        let region = unsafe { backing.region() };
        let persister = Persister::simulated(region, sim);
        let grow: Arc<dyn crate::heap::GrowMedium> = backing.clone();
        let room = backing.medium().room() as u64;
        Self::finish_open(
            path,
            front,
            region,
            persister,
            Backing::Sim(backing),
            Some((grow, room)),
        )
    }

    #[cfg(feature = "crash-test")]
    /// Opens a pool from an image in memory on a fresh simulated medium.
    pub fn open_image(image: &[u8], layout: &str) -> Result<(Self, Arc<SimMedium>)> {
        let sim =
            SimMedium::from_image(image).map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        let pool = Self::open_medium(Arc::clone(&sim), layout)?;
        Ok((pool, sim))
    }

    /// Makes the reuse of freed shared objects' blocks deterministic for one thread: every
    /// allocation first lets their grace period run out as far as readers' pins allow, instead
    /// of taking back whatever the epoch collector happened to release. The crash fuzzer sets
    /// it on its workload's pool, so that one input always runs the same way (other threads'
    /// pins in the process can still delay a block). Costs a few epoch flushes per allocation
    /// while blocks are in quarantine; safe, since no block a reader may hold is reused.
    #[cfg(feature = "crash-test")]
    pub fn settle_freed_blocks_before_allocations(&self) {
        self.sh.heap().settle_before_reservations();
    }

    /// Injects a fault into this pool's persistence protocol (tests of the crash harness).
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&self, f: Option<Fault>) {
        self.sh.inject(f);
    }

    /// Fills the chunk-table words past the pool's current chunks with `word`, durably, as a
    /// reused file could hold them: growth must make them FREE before they count
    /// (`Fault::SkipGrowTableWords` is the bug of not doing so). Fault injection only.
    #[cfg(feature = "fault-injection")]
    pub fn scribble_unused_chunk_words(&self, word: u64) -> Result<()> {
        self.sh
            .heap()
            .scribble_unused_table(self.sh.persister(), word)
    }

    #[cfg(feature = "crash-test")]
    /// Opens an image on an untracked medium (no persisted image kept): for checking images.
    pub(crate) fn open_image_untracked(image: &[u8], layout: &str) -> Result<Self> {
        let sim = SimMedium::from_image_untracked(image)
            .map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        Self::open_medium(sim, layout)
    }

    #[cfg(feature = "crash-test")]
    /// The simulated medium of a pool created by `create_simulated` or opened by
    /// `open_medium`/`open_image` (`None` for a file, and for the untracked media on which the
    /// crash harness opens post-crash images).
    pub fn medium(&self) -> Option<Arc<SimMedium>> {
        match &self.sh.backing() {
            Backing::Sim(c) if c.medium().is_tracked() => Some(Arc::clone(c.medium())),
            Backing::Sim(_) | Backing::File(_) => None,
        }
    }
}
