//! Post-crash images: which units (lines or words) differ between the persisted and the
//! working image, which subsets of them survive, and the image each subset gives.

use std::ops::ControlFlow;

use super::{CrashPoint, CrashTest, Granularity, Subset};

/// Every post-crash image of the crash point `cp`: for each granularity in `granularities`
/// (only `only`'s, when replaying), the units that differ, then each subset `choose` picks for
/// their number (only `only`'s subset, when replaying), built into one reused buffer and handed
/// to `each` until it breaks.
pub(super) fn for_each_image(
    cp: &CrashPoint<'_>,
    granularities: &[Granularity],
    only: Option<(Granularity, &Subset)>,
    choose: impl Fn(Granularity, usize) -> Vec<Subset>,
    mut each: impl FnMut(&[u8], Granularity, Subset) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if granularities.is_empty() {
        // A counting run: no image to build, so no copy of the working image either.
        return ControlFlow::Continue(());
    }
    let mut image = Vec::with_capacity(cp.persisted.len());
    let working = cp.working();
    for &g in granularities {
        if only.is_some_and(|(og, _)| og != g) {
            continue;
        }
        let units = differing_units(cp.persisted, &working, g);
        let subsets = match only {
            Some((_, s)) => vec![s.clone()],
            None => choose(g, units.len()),
        };
        for subset in subsets {
            build_image(&mut image, cp.persisted, &working, &units, g, &subset);
            each(&image, g, subset)?;
        }
    }
    ControlFlow::Continue(())
}

/// Offsets of the units in which the two images differ.
pub(super) fn differing_units(persisted: &[u8], working: &[u8], g: Granularity) -> Vec<usize> {
    let n = persisted.len().min(working.len());
    let mut out = Vec::new();
    let unit = g.bytes();
    let mut last = usize::MAX;
    let (pw, ww) = (&persisted[..n - n % 8], &working[..n - n % 8]);
    for (i, (a, b)) in pw.chunks_exact(8).zip(ww.chunks_exact(8)).enumerate() {
        if a != b {
            let u = i * 8 / unit * unit;
            if u != last {
                out.push(u);
                last = u;
            }
        }
    }
    out
}

pub(super) fn choose_subsets(cfg: &CrashTest, point: u64, g: Granularity, n: usize) -> Vec<Subset> {
    if n == 0 {
        return vec![Subset::None];
    }
    if n <= cfg.exhaustive_max {
        let all = 1u64 << n;
        if all as usize <= cfg.max_images_per_point {
            return (0..all).map(Subset::Mask).collect();
        }
    }
    let mut rng = Rng(cfg.seed ^ point.rotate_left(17) ^ (g.bytes() as u64) << 40);
    let mut out = vec![Subset::None, Subset::All];
    let budget = cfg
        .max_images_per_point
        .saturating_sub(2 + cfg.random_subsets);
    // Each unit alone and each unit left out, sampled to fit the budget.
    let mut singles: Vec<Subset> = (0..n)
        .flat_map(|i| [Subset::Only(i), Subset::AllBut(i)])
        .collect();
    if singles.len() > budget {
        for i in 0..budget {
            let j = i + (rng.next() as usize) % (singles.len() - i);
            singles.swap(i, j);
        }
        singles.truncate(budget);
    }
    out.extend(singles);
    for _ in 0..cfg.random_subsets {
        out.push(Subset::Random(rng.next()));
    }
    out
}

pub(super) fn build_image(
    image: &mut Vec<u8>,
    persisted: &[u8],
    working: &[u8],
    units: &[usize],
    g: Granularity,
    subset: &Subset,
) {
    image.clear();
    image.extend_from_slice(persisted);
    let unit = g.bytes();
    for (u, inc) in units.iter().zip(subset.includes(units.len())) {
        if inc {
            let end = (u + unit).min(image.len()).min(working.len());
            image[*u..end].copy_from_slice(&working[*u..end]);
        }
    }
}

/// splitmix64.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
