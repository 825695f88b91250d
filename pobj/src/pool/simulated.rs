//! Pools on the simulated medium (feature `crash-test`): created, opened from a medium or an
//! image, and the fault injection of the crash harness's own tests.

use std::path::{Path, PathBuf};
#[cfg(feature = "crash-test")]
use std::sync::Arc;

use super::open::{io, root_check, validate_layout};
use super::Pool;
use crate::error::{Error, Result};
use crate::format::header::HEADER_SIZE;
use crate::format::layout::Geometry;
use crate::media::persist::Persister;
use crate::media::region::Region;
#[cfg(feature = "crash-test")]
use crate::media::sim::{Claim, SimMedium};
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
    /// pool and its medium, whose fence hook sees every crash point.
    pub fn create_simulated(layout: &str, size: u64) -> Result<(Self, Arc<SimMedium>)> {
        root_check::<R>()?;
        let layout_bytes = validate_layout(layout)?;
        let geo = Geometry::for_size(size)?;
        let sim = SimMedium::from_image(&vec![0u8; geo.pool_size as usize])
            .map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        let claim = Claim::take(Arc::clone(&sim)).ok_or_else(|| Error::Locked {
            path: PathBuf::from(SIM_PATH),
        })?;
        // SAFETY: the medium's memory is valid for its length (>= pool_size), page-aligned, and
        // kept alive by the claim for as long as the region is used (here, and by the pool).
        let region = unsafe { Region::new(sim.base(), geo.pool_size) };
        let p = Persister::simulated(region, Arc::clone(&sim));
        Self::format_region(region, &p, &geo, layout_bytes)?;
        drop(p);
        let pool = Self::open_claimed(claim, layout)?;
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
        let hb = sim.prefix(HEADER_SIZE as usize);
        let (h, geo) = Self::validate_header(path, &hb, sim.image_len() as u64, layout)?;
        // SAFETY: `validate_header` checked `pool_size <= image_len`; the medium's memory is
        // valid and page-aligned for that long and is kept alive by the claim in `PoolCore`.
        let region = unsafe { Region::new(sim.base(), h.pool_size) };
        let persister = Persister::simulated(region, Arc::clone(sim));
        Self::finish_open(path, h, geo, region, persister, Backing::Sim(claim))
    }

    #[cfg(feature = "crash-test")]
    /// Opens a pool from an image in memory on a fresh simulated medium.
    pub fn open_image(image: &[u8], layout: &str) -> Result<(Self, Arc<SimMedium>)> {
        let sim =
            SimMedium::from_image(image).map_err(io(Path::new(SIM_PATH), "simulated medium"))?;
        let pool = Self::open_medium(Arc::clone(&sim), layout)?;
        Ok((pool, sim))
    }

    /// Injects a fault into this pool's persistence protocol (tests of the crash harness).
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&self, f: Option<Fault>) {
        self.sh.inject(f);
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
            Backing::Sim(_) | Backing::File { .. } => None,
        }
    }
}
