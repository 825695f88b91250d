//! Seeded random numbers and YCSB's request distributions.

/// splitmix64: a small, fast, seeded generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0), by multiply-high.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `0..n` in a random order (Fisher-Yates).
#[must_use]
pub fn permutation(n: u64, rng: &mut Rng) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n).collect();
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// The zipfian constant of YCSB.
pub const ZIPFIAN_THETA: f64 = 0.99;

/// `sum_{i=from+1}^{to} i^-theta`, summed exactly.
pub(crate) fn zeta_range(from: u64, to: u64, theta: f64) -> f64 {
    (from + 1..=to).map(|i| (i as f64).powf(-theta)).sum()
}

/// Where [`zeta`] switches from summing to the Euler-Maclaurin formula.
pub(crate) const ZETA_EXACT: u64 = 1 << 20;

/// The generalised harmonic number `zeta(n, theta) = sum_{i=1}^{n} i^-theta`: summed exactly up
/// to 2^20 terms, beyond that the exact head plus the Euler-Maclaurin tail (integral, half end
/// terms and the first derivative correction), accurate to better than 1e-12 relative.
#[must_use]
pub fn zeta(n: u64, theta: f64) -> f64 {
    if n <= ZETA_EXACT {
        return zeta_range(0, n, theta);
    }
    let m = ZETA_EXACT as f64;
    let x = n as f64;
    let f = |t: f64| t.powf(-theta);
    let df = |t: f64| -theta * t.powf(-theta - 1.0);
    let integral = (x.powf(1.0 - theta) - m.powf(1.0 - theta)) / (1.0 - theta);
    zeta_range(0, ZETA_EXACT, theta) + integral + (f(x) - f(m)) / 2.0 + (df(x) - df(m)) / 12.0
}

/// Gray et al.'s zipfian generator ("Quickly generating billion-record synthetic databases",
/// SIGMOD 1994), as YCSB uses it: item 0 is the most popular; the item count may grow (the zeta
/// constant is then extended incrementally).
#[derive(Clone, Debug)]
pub struct Zipfian {
    items: u64,
    theta: f64,
    alpha: f64,
    zeta2: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    /// A generator over `0..items` (`items` ≥ 1) with exponent `theta` (0 < theta < 1).
    #[must_use]
    pub fn new(items: u64, theta: f64) -> Self {
        Zipfian::with_zetan(items, theta, zeta(items.max(1), theta))
    }

    fn with_zetan(items: u64, theta: f64, zetan: f64) -> Self {
        let items = items.max(1);
        let zeta2 = zeta(2, theta);
        let mut z = Zipfian {
            items,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta2,
            zetan,
            eta: 0.0,
        };
        z.eta = z.eta_for(items);
        z
    }

    fn eta_for(&self, items: u64) -> f64 {
        let denom = 1.0 - self.zeta2 / self.zetan;
        if items <= 2 || denom <= 0.0 {
            0.0
        } else {
            (1.0 - (2.0 / items as f64).powf(1.0 - self.theta)) / denom
        }
    }

    /// The item count.
    #[must_use]
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Grows the item space to `items` (never shrinks it).
    pub fn grow(&mut self, items: u64) {
        if items > self.items {
            self.zetan += zeta_range(self.items, items, self.theta);
            self.items = items;
            self.eta = self.eta_for(items);
        }
    }

    /// The next item, in `0..items`.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.items - 1);
        }
        #[expect(
            clippy::cast_sign_loss,
            reason = "`u` is in [0, 1) and eta in (0, 1]: the base is positive"
        )]
        let v = (self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        v.min(self.items - 1)
    }
}

/// FNV-1a over the eight little-endian bytes of `v` (YCSB's key scrambling hash).
#[must_use]
pub fn fnv1a64(v: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// YCSB's scrambled zipfian: a zipfian over a space of 10^10 items, hashed onto `0..items`, so
/// the popular keys are spread over the key space instead of clustered at its start.
#[derive(Clone, Debug)]
pub struct ScrambledZipfian {
    inner: Zipfian,
    items: u64,
}

impl ScrambledZipfian {
    /// The size of the underlying zipfian's item space.
    pub const SPACE: u64 = 10_000_000_000;

    /// A generator over `0..items` (`items` ≥ 1).
    #[must_use]
    pub fn new(items: u64) -> Self {
        ScrambledZipfian {
            inner: Zipfian::new(Self::SPACE, ZIPFIAN_THETA),
            items: items.max(1),
        }
    }

    /// The next item, in `0..items`.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        fnv1a64(self.inner.next(rng)) % self.items
    }
}
