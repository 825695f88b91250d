//! The lanes and which are in use: a transaction holds one lane (its undo log) from begin to
//! the end of its commit or abort.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use crate::heap::Block;

/// A lane held by a transaction, with the log-extension buffers it keeps.
#[derive(Debug)]
pub(crate) struct LaneSlot {
    pub(crate) index: u32,
    pub(crate) exts: Vec<(u64, u64, Block)>,
    /// The checksum seed of the lane's own log buffer (computed once).
    pub(crate) seed: Option<u32>,
    /// DRAM bookkeeping reused by the lane's transactions.
    pub(crate) scratch: Option<Box<crate::tx::scratch::Scratch>>,
}

/// Which lanes are in use. A thread starts looking at a lane of its own (spread by a counter),
/// so that uncontended threads keep to separate lanes without a shared lock.
#[derive(Debug)]
pub(crate) struct Lanes {
    pub(crate) busy: Vec<AtomicBool>,
    /// The slot of each lane while it is free (taken by the transaction that holds the lane).
    pub(crate) slots: Vec<std::sync::Mutex<Option<LaneSlot>>>,
}

static NEXT_LANE_HINT: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static LANE_HINT: u32 = NEXT_LANE_HINT.fetch_add(1, Ordering::Relaxed);
}

impl Lanes {
    pub(crate) fn acquire(&self) -> LaneSlot {
        let n = self.busy.len();
        let hint = LANE_HINT.with(|h| *h as usize);
        loop {
            for k in 0..n {
                let i = (hint + k) % n;
                if self.busy[i]
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    let kept = self.slots[i]
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take();
                    return kept.unwrap_or_else(|| LaneSlot {
                        index: i as u32,
                        exts: Vec::new(),
                        seed: None,
                        scratch: None,
                    });
                }
            }
            // More transactions in flight than lanes: wait for one to finish.
            std::thread::yield_now();
        }
    }

    pub(crate) fn release(&self, s: LaneSlot) {
        let i = s.index as usize;
        if let Some(slot) = self.slots.get(i) {
            *slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(s);
        }
        if let Some(b) = self.busy.get(i) {
            b.store(false, Ordering::Release);
        }
    }
}
