//! One crash point: the post-crash images it allows, each opened, recovered (with a crash
//! during recovery where asked) and checked.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::images::{choose_subsets, for_each_image, Rng};
use super::{
    Case, CrashPoint, CrashTest, Failure, FailureKind, Granularity, Report, SimMedium, Subset,
    Target,
};
use crate::{Persistent, Pool};

pub(super) struct HookState {
    pub(super) cfg: CrashTest,
    pub(super) layout: String,
    pub(super) completed: AtomicUsize,
    pub(super) out: Mutex<(Report, Option<Failure>)>,
}

impl HookState {
    pub(super) fn failed(&self) -> bool {
        self.out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .is_some()
    }

    pub(super) fn at_point<R: Persistent, St: 'static>(
        &self,
        point: u64,
        cp: &CrashPoint<'_>,
        check: &Arc<Target<R, St>>,
    ) {
        if self.failed() {
            return;
        }
        let cfg = &self.cfg;
        if let Some(c) = &cfg.replay {
            if c.point != point {
                return;
            }
        } else if cfg.point_probability < 1.0 {
            let r = Rng(cfg.seed ^ point.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next();
            if (r >> 11) as f64 / (1u64 << 53) as f64 >= cfg.point_probability {
                return;
            }
        }
        let completed = self.completed.load(Ordering::SeqCst);
        let mut report = Report {
            points_checked: 1,
            ..Report::default()
        };
        let mut failure = None;
        let only = cfg.replay.as_ref().map(|c| (c.granularity, &c.subset));
        let choose = |g, n| choose_subsets(cfg, point, g, n);
        let flow = for_each_image(cp, &cfg.granularities, only, choose, |image, g, subset| {
            let mut case = Case {
                point,
                granularity: g,
                subset,
                recovery: None,
            };
            let serial = report.images;
            report.images += 1;
            let crash_recovery = match &cfg.replay {
                Some(c) => c.recovery.is_some(),
                None => cfg.recovery_every > 0 && serial.is_multiple_of(cfg.recovery_every),
            };
            let visited = report.recovery_points;
            let result = if crash_recovery {
                let replayed = cfg.replay.as_ref().and_then(|c| c.recovery.clone());
                case.recovery.clone_from(&replayed);
                recovery_crash(
                    image,
                    &self.layout,
                    completed,
                    check,
                    cfg,
                    replayed,
                    &mut report,
                )
            } else {
                open_and_check(image, &self.layout, completed, check).map_err(|m| (m, None))
            };
            let Err((message, rec)) = result else {
                return ControlFlow::Continue(());
            };
            if rec.is_some() || report.recovery_points == visited {
                // The failing recovery crash, or none: a replayed recovery crash point that
                // recovery never reached is not part of the case (it replays without it).
                case.recovery = rec;
            }
            failure = Some(Failure {
                kind: FailureKind::Crash,
                seed: cfg.seed,
                case,
                completed,
                message,
            });
            ControlFlow::Break(())
        });
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.0 += report;
        if flow.is_break() {
            out.1 = failure;
        }
    }
}
/// An error message, possibly naming the recovery crash that caused it.
pub(super) type CheckError = (String, Option<(u64, Granularity, Subset)>);

/// Opens an image (recovery runs), checks the pool, then runs the user's checker. Panics in
/// pobj or in the checker are failures too.
pub(super) fn open_and_check<R: Persistent, St: 'static>(
    image: &[u8],
    layout: &str,
    completed: usize,
    target: &Arc<Target<R, St>>,
) -> Result<(), String> {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let pool = Pool::<R>::open_image_untracked(image, layout)
            .map_err(|e| format!("open failed: {e}"))?;
        verify(pool, completed, target)
    }));
    match r {
        Ok(r) => r,
        Err(p) => Err(format!("panic: {}", panic_message(&p))),
    }
}

/// Checks a recovered pool, builds the store on it and runs the user's checker.
pub(super) fn verify<R: Persistent, St: 'static>(
    pool: Pool<R>,
    completed: usize,
    target: &Arc<Target<R, St>>,
) -> Result<(), String> {
    let report = pool.check();
    if !report.is_ok() {
        return Err(format!("check() after recovery: {report}"));
    }
    let store =
        (target.open)(pool).map_err(|m| format!("opening the store on the recovered pool: {m}"))?;
    (target.check)(&store, completed)
}

pub(super) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_string())
}

/// Opens `image` on a medium whose fences (recovery's) are crash points: each recovery crash
/// point's images are opened and checked, then the recovered pool itself is checked.
pub(super) fn recovery_crash<R: Persistent, St: 'static>(
    image: &[u8],
    layout: &str,
    completed: usize,
    check: &Arc<Target<R, St>>,
    cfg: &CrashTest,
    only: Option<(u64, Granularity, Subset)>,
    report: &mut Report,
) -> Result<(), CheckError> {
    let sim = SimMedium::from_image(image).map_err(|e| (format!("medium: {e}"), None))?;
    let inner: Arc<Mutex<(Report, Option<CheckError>)>> =
        Arc::new(Mutex::new((Report::default(), None)));
    {
        let inner = Arc::clone(&inner);
        let check = Arc::clone(check);
        let layout = layout.to_string();
        let cfg = cfg.clone();
        let base = sim.fences();
        sim.set_hook(Some(Box::new(move |cp: &CrashPoint<'_>| {
            let point = cp.index - base;
            let mut g = inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if g.1.is_some() {
                return;
            }
            if let Some((p, _, _)) = &only {
                if *p != point {
                    return;
                }
            }
            g.0.recovery_points += 1;
            let replayed = only.as_ref().map(|(_, og, s)| (*og, s));
            let choose = |gr, n| {
                let mut s = choose_subsets(&cfg, point ^ 0xabcd, gr, n);
                s.truncate(6);
                s
            };
            let _ = for_each_image(
                cp,
                &cfg.granularities,
                replayed,
                choose,
                |img, gr, subset| {
                    g.0.recovery_images += 1;
                    match open_and_check(img, &layout, completed, &check) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(m) => {
                            g.1 = Some((
                                format!("after a crash during recovery: {m}"),
                                Some((point, gr, subset)),
                            ));
                            ControlFlow::Break(())
                        }
                    }
                },
            );
        })));
    }
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Pool::<R>::open_medium(Arc::clone(&sim), layout)
    }));
    sim.set_hook(None);
    let (rep, err) = {
        let mut g = inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (g.0, g.1.take())
    };
    *report += rep;
    if let Some(e) = err {
        return Err(e);
    }
    match opened {
        Ok(Ok(pool)) => {
            // The checks may panic too (the user's checker): a failure of this image.
            let verified = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                verify(pool, completed, check)
            }));
            match verified {
                Ok(r) => r.map_err(|m| (m, None)),
                Err(p) => Err((format!("panic: {}", panic_message(&p)), None)),
            }
        }
        Ok(Err(e)) => Err((format!("open failed: {e}"), None)),
        Err(p) => Err((format!("panic: {}", panic_message(&p)), None)),
    }
}
