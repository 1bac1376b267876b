//! A striped element counter: each thread counts in one of a power-of-two number of
//! cache-padded stripes, so concurrent writers rarely share a cache line; `sum` adds the stripes
//! up. A stripe counts additions and removals apart, both only growing, so that the additions
//! tell a caller when it is due for an occasional check (see `count_insert`), also when the
//! entries churn around one size.

use crate::sync::{AtomicUsize, CachePadded, Ordering};

pub(super) struct StripedCounter {
    stripes: Box<[CachePadded<Stripe>]>,
}

struct Stripe {
    added: AtomicUsize,
    removed: AtomicUsize,
}

impl StripedCounter {
    /// At least `stripes` stripes (`stripes > 0`), rounded up to a power of two.
    pub(super) fn new(stripes: usize) -> Self {
        Self {
            stripes: (0..stripes.next_power_of_two())
                .map(|_| {
                    CachePadded::new(Stripe {
                        added: AtomicUsize::new(0),
                        removed: AtomicUsize::new(0),
                    })
                })
                .collect(),
        }
    }

    fn mine(&self) -> &Stripe {
        &self.stripes[stripe() & (self.stripes.len() - 1)]
    }

    /// Counts an addition; returns how many this thread's stripe has counted, this one included.
    pub(super) fn add(&self) -> usize {
        // Relaxed: a statistic; no data is published through it.
        self.mine().added.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(super) fn remove(&self) {
        // Relaxed: as above.
        self.mine().removed.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stripes(&self) -> usize {
        self.stripes.len()
    }

    /// The total; a snapshot under concurrent updates, never negative.
    pub(super) fn sum(&self) -> usize {
        let (added, removed) = self
            .stripes
            .iter()
            .fold((0usize, 0usize), |(a, r), stripe| {
                // Relaxed, both: as above.
                let added = stripe.added.load(Ordering::Relaxed);
                (
                    a.wrapping_add(added),
                    r.wrapping_add(stripe.removed.load(Ordering::Relaxed)),
                )
            });
        (added.wrapping_sub(removed) as isize).max(0) as usize
    }
}

/// A number that differs between threads that run at the same time: the address of a
/// thread-local, spread by a multiplicative hash.
fn stripe() -> usize {
    thread_local!(static HERE: u8 = const { 0 });
    let address = HERE.with(|here| std::ptr::from_ref(here).addr());
    (address >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> 32
}
