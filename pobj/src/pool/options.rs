//! `PoolOptions`: the sizes a new pool is created with.

use crate::error::{Error, Result};
use crate::format::layout::{
    Geometry, CHUNK_SIZE, DEFAULT_GROW_STEP, DEFAULT_INITIAL_SIZE, DEFAULT_MAX_SIZE, MAX_POOL_SIZE,
    MIN_POOL_SIZE,
};

/// The sizes of a new pool: where it starts, how far it may grow, and by how much at a time.
///
/// `PoolOptions::default()` makes a pool that grows: it starts at
/// [`DEFAULT_INITIAL_SIZE`](crate::DEFAULT_INITIAL_SIZE) (8 MiB) and grows on demand by
/// [`DEFAULT_GROW_STEP`](crate::DEFAULT_GROW_STEP) (64 MiB) at a time up to
/// [`DEFAULT_MAX_SIZE`](crate::DEFAULT_MAX_SIZE) (64 GiB). A plain number of bytes converts
/// into [`PoolOptions::fixed`]: a pool of exactly that capacity, as libpmemobj and pmemkv
/// understand a size.
///
/// ```
/// use pobj::PoolOptions;
/// let grows = PoolOptions::default().max_size(1 << 40);
/// let fixed: PoolOptions = (64u64 << 20).into();
/// assert_eq!(fixed.get_max_size(), 64 << 20);
/// # let _ = grows;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    /// `None`: the default, at most the maximum.
    initial: Option<u64>,
    max: u64,
    /// `None`: the default, at most the maximum.
    step: Option<u64>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            initial: None,
            max: DEFAULT_MAX_SIZE,
            step: None,
        }
    }
}

impl From<u64> for PoolOptions {
    fn from(size: u64) -> Self {
        PoolOptions::fixed(size)
    }
}

impl PoolOptions {
    /// A pool that grows, with the default sizes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A pool of `size` bytes that never grows.
    #[must_use]
    pub fn fixed(size: u64) -> Self {
        PoolOptions {
            initial: Some(size),
            max: size,
            step: Some(0),
        }
    }

    /// The size to start at: a hint, rounded to whole chunks (256 KiB) and raised to what the
    /// header, lanes and chunk table need (a few MiB for a large maximum).
    #[must_use]
    pub fn initial_size(mut self, bytes: u64) -> Self {
        self.initial = Some(bytes);
        self
    }

    /// The largest size the pool may grow to (at most 1 TiB). Its chunk table is sized for
    /// it: 8 bytes per 256 KiB, allocated in the file only as the pool grows. Address space for
    /// it is reserved while the pool is open (where that fails, the pool cannot grow past its
    /// size in that session).
    #[must_use]
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max = bytes;
        self
    }

    /// Bytes added per growth (rounded up to whole chunks; a growth adds at least what the
    /// allocation that needs it asks for).
    #[must_use]
    pub fn grow_step(mut self, bytes: u64) -> Self {
        self.step = Some(bytes);
        self
    }

    /// The initial size: as asked for, or the default (8 MiB, at most the maximum).
    #[must_use]
    pub fn get_initial_size(&self) -> u64 {
        self.initial
            .unwrap_or_else(|| DEFAULT_INITIAL_SIZE.min(self.max))
    }

    /// The maximum size asked for.
    #[must_use]
    pub fn get_max_size(&self) -> u64 {
        self.max
    }

    /// The growth step: as asked for, or the default (64 MiB, at most the maximum); 0 for a
    /// fixed pool.
    #[must_use]
    pub fn get_grow_step(&self) -> u64 {
        if !self.grows() {
            return 0;
        }
        self.step.unwrap_or_else(|| DEFAULT_GROW_STEP.min(self.max))
    }

    /// Whether the pool may grow past its initial size.
    #[must_use]
    pub fn grows(&self) -> bool {
        self.max > self.get_initial_size()
    }

    /// Checks the sizes: the maximum within the bounds of a pool, the initial size at most the
    /// maximum, a growth step for a pool that grows. Returns the step in whole chunks' bytes.
    pub(crate) fn validate(&self) -> Result<u64> {
        if !(MIN_POOL_SIZE..=MAX_POOL_SIZE).contains(&self.max) {
            return Err(Error::SizeOutOfRange {
                size: self.max,
                min: MIN_POOL_SIZE,
                max: MAX_POOL_SIZE,
            });
        }
        if self.get_initial_size() > self.max {
            return Err(Error::SizeOutOfRange {
                size: self.get_initial_size(),
                min: MIN_POOL_SIZE,
                max: self.max,
            });
        }
        if !self.grows() {
            return Ok(0);
        }
        let step = self.get_grow_step();
        if step == 0 || step > self.max {
            return Err(Error::SizeOutOfRange {
                size: step,
                min: CHUNK_SIZE,
                max: self.max,
            });
        }
        Ok(step.div_ceil(CHUNK_SIZE) * CHUNK_SIZE)
    }

    /// What a new pool is made of: its geometry (for the maximum size), its first number of
    /// chunks, and its growth step in bytes (0 for a fixed pool; never more than the rounded
    /// maximum, which open checks).
    pub(crate) fn plan(&self) -> Result<(Geometry, u64, u64)> {
        let step = self.validate()?;
        let geo = Geometry::for_size(self.max)?;
        if step == 0 {
            return Ok((geo, geo.chunk_slots, 0));
        }
        let step = step.min(geo.max_size / CHUNK_SIZE * CHUNK_SIZE);
        Ok((geo, geo.chunks_for(self.get_initial_size()), step))
    }
}
