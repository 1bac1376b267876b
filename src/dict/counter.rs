//! A striped element counter: each thread adds to one of `scaling` cache-padded cells, so
//! concurrent writers rarely share a cache line; `sum` adds the cells up.

use crate::sync::{AtomicIsize, CachePadded, Ordering};

pub(super) struct StripedCounter {
    cells: Box<[CachePadded<AtomicIsize>]>,
}

impl StripedCounter {
    /// `stripes > 0`.
    pub(super) fn new(stripes: usize) -> Self {
        Self {
            cells: (0..stripes)
                .map(|_| CachePadded::new(AtomicIsize::new(0)))
                .collect(),
        }
    }

    pub(super) fn add(&self, delta: isize) {
        // Relaxed: a statistic; no data is published through it.
        self.cells[stripe() % self.cells.len()].fetch_add(delta, Ordering::Relaxed);
    }

    /// The total; a snapshot under concurrent updates, never negative.
    pub(super) fn sum(&self) -> usize {
        // Relaxed: as above.
        let total: isize = self.cells.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        total.max(0) as usize
    }
}

/// A number that differs between threads that run at the same time: the address of a
/// thread-local, spread by a multiplicative hash.
fn stripe() -> usize {
    thread_local!(static HERE: u8 = const { 0 });
    let address = HERE.with(|here| std::ptr::from_ref(here).addr());
    (address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> 32
}
