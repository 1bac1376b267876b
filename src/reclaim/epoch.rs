//! Epoch-based reclamation (Fraser, "Practical lock-freedom", 2004) on `crossbeam-epoch`.
//!
//! A guard pins the thread to the global epoch; a retired pointer is freed once every thread
//! pinned at its retirement has unpinned, two epoch advances later. Protection is therefore
//! free: [`Guard::protect`] is a plain `Acquire` load.
//!
//! Ordinary builds use `crossbeam-epoch`'s global collector, whose per-thread handle makes a pin
//! a thread-local access and one fence. Under loom and Miri every domain has a private
//! [`Collector`](crossbeam_epoch::Collector) instead, so that a model or test tears down
//! completely: dropping the domain runs everything it retired, and leak checks mean something.
//! `--cfg concurrency_global_epoch` keeps the global collector under Miri, so that one Miri job
//! runs the production path: frees after the structure is gone, on other threads, at thread
//! exit.

use super::{check_slot, sealed, Dispose, Guard, Reclaimer};
use crate::sync::{AtomicPtr, Ordering};
#[cfg(any(loom, all(miri, not(concurrency_global_epoch))))]
use crossbeam_epoch::Collector;

/// Epoch-based reclamation: see the [module documentation](super).
#[derive(Debug, Default)]
pub struct Epoch {
    #[cfg(any(loom, all(miri, not(concurrency_global_epoch))))]
    collector: Collector,
}

/// A pinned section under [`Epoch`].
#[derive(Debug)]
pub struct EpochGuard {
    pub(super) pin: crossbeam_epoch::Guard,
}

impl sealed::Sealed for Epoch {}

impl Reclaimer for Epoch {
    const NAME: &'static str = "epoch";
    /// Nothing reachable once a pin began is freed before the pin ends.
    const GUARD_PINS_ALL: bool = true;

    type Guard<'d> = EpochGuard;

    #[inline]
    fn guard(&self) -> EpochGuard {
        #[cfg(any(loom, all(miri, not(concurrency_global_epoch))))]
        let pin = self.collector.register().pin();
        #[cfg(not(any(loom, all(miri, not(concurrency_global_epoch)))))]
        let pin = crossbeam_epoch::pin();
        EpochGuard { pin }
    }
}

impl Guard for EpochGuard {
    #[inline]
    fn protect<T>(&mut self, slot: usize, src: &AtomicPtr<T>) -> *mut T {
        check_slot(slot);
        // Acquire: pairs with the Release of the writer that installed the pointer in `src`.
        // The pin taken before this load keeps the pointee alive: it cannot have been retired
        // before the pin, because retiring happens only after unlinking.
        src.load(Ordering::Acquire)
    }

    #[inline]
    fn protect_if<T>(&mut self, slot: usize, _: *mut T, _: impl FnOnce() -> bool) -> bool {
        check_slot(slot);
        // The caller loaded the candidate under this pin from a location it reached under the
        // pin, so the candidate was linked after the pin began and cannot be freed before the
        // pin ends: no validation needed.
        true
    }

    #[inline]
    fn swap_slots(&mut self, a: usize, b: usize) {
        // The pin protects everything: slots are only names.
        check_slot(a);
        check_slot(b);
    }

    #[inline]
    unsafe fn retire<T: Send, D: Dispose<T>>(&self, ptr: *mut T) {
        // SAFETY: the deferred call runs once, after every thread pinned now has unpinned. By (1)
        // of `Guard::retire` no thread pinned later can load `ptr`, so nothing reads it when the
        // call runs; (2) makes the `dispose` call valid; (3) lets it run on any thread, late.
        unsafe { self.pin.defer_unchecked(move || D::dispose(ptr)) }
        // Under the checkers, hand the garbage to the collector at once, so that epoch advances
        // and frees happen inside the model rather than at teardown.
        #[cfg(any(loom, all(miri, not(concurrency_global_epoch))))]
        self.pin.flush();
    }
}
