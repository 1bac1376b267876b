//! A model-only reclaimer for shuttle runs (`cfg(shuttle)`).
//!
//! shuttle sees inside neither crossbeam-epoch nor haphazard: they keep std atomics, so a
//! use-after-free there is never scheduled into view. This reclaimer is written on the facade
//! instead. It never frees before the domain drops, and it turns every would-be use-after-free
//! into a panic: `protect` runs the same validation as [`HazardPointers`](super::HazardPointers)
//! (with a shuttle preemption point between load and publication) and then asserts that the
//! pointer it hands out was not retired. A structure that retires a node while it is still
//! reachable, or a protection that skips validation, fails the model at once.
//!
//! Pointers to zero-sized values name no memory (every box of one is the same dangling
//! address), so they are neither tracked nor checked: nothing can be freed under a reader
//! there, and two of them retired are not one retired twice.

use super::{check_slot, publish_and_validate, sealed, Dispose, Guard, Reclaimer};
use crate::sync::{model_yield, Mutex};
use std::collections::HashSet;
use std::fmt;

/// Quarantining reclaimer for shuttle: see the [module documentation](self).
#[derive(Default)]
pub struct Quarantine {
    parked: Mutex<Parked>,
}

#[derive(Default)]
struct Parked {
    addresses: HashSet<usize>,
    disposals: Vec<Disposal>,
}

/// A retired pointer, type-erased, with the function that destroys it.
struct Disposal {
    ptr: *mut u8,
    dispose: unsafe fn(*mut u8),
}

/// A protected section under [`Quarantine`].
#[derive(Debug)]
pub struct QuarantineGuard<'d> {
    domain: &'d Quarantine,
}

// SAFETY: the parked pointers are only disposed of by `Drop`, which has exclusive access;
// (3) of `Guard::retire` makes the retiring caller vouch that they may be disposed of on
// another thread.
unsafe impl Send for Quarantine {}
// SAFETY: all shared access to the parked set goes through the mutex.
unsafe impl Sync for Quarantine {}

impl fmt::Debug for Quarantine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quarantine").finish_non_exhaustive()
    }
}

impl sealed::Sealed for Quarantine {}

impl Reclaimer for Quarantine {
    const NAME: &'static str = "quarantine";
    /// It checks the hazard-pointer discipline.
    const GUARD_PINS_ALL: bool = false;

    type Guard<'d> = QuarantineGuard<'d>;

    fn guard(&self) -> QuarantineGuard<'_> {
        QuarantineGuard { domain: self }
    }
}

impl Quarantine {
    fn is_retired<T>(&self, ptr: *mut T) -> bool {
        if size_of::<T>() == 0 {
            return false;
        }
        let parked = self
            .parked
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        parked.addresses.contains(&(ptr as usize))
    }
}

impl Guard for QuarantineGuard<'_> {
    fn protect_if<T>(
        &mut self,
        slot: usize,
        candidate: *mut T,
        still_reachable: impl FnOnce() -> bool,
    ) -> bool {
        check_slot(slot);
        // Nothing is freed before the domain drops, so an address is never reused, and a
        // pointer retired before its publication can never pass a correct validation: if one
        // does, a real hazard pointer would have let the caller use freed memory.
        let mut retired_when_published = false;
        let protected = publish_and_validate(
            || retired_when_published = self.domain.is_retired(candidate),
            still_reachable,
        );
        assert!(
            !(protected && retired_when_published),
            "use after free: {candidate:p} was protected after it had been retired"
        );
        protected
    }

    fn swap_slots(&mut self, a: usize, b: usize) {
        // Nothing is freed before the domain drops: slots are only names.
        check_slot(a);
        check_slot(b);
    }

    unsafe fn retire<T: Send, D: Dispose<T>>(&self, ptr: *mut T) {
        model_yield();
        let mut parked = self
            .domain
            .parked
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        assert!(
            size_of::<T>() == 0 || parked.addresses.insert(ptr as usize),
            "{ptr:p} was retired twice"
        );
        parked.disposals.push(Disposal {
            ptr: ptr.cast(),
            dispose: dispose_erased::<T, D>,
        });
    }
}

/// `D::dispose` behind a type-erased pointer.
///
/// # Safety
/// `ptr` is a `*mut T` that satisfies `D::dispose`'s conditions.
unsafe fn dispose_erased<T, D: Dispose<T>>(ptr: *mut u8) {
    // SAFETY: the caller's condition is exactly `D::dispose`'s.
    unsafe { D::dispose(ptr.cast::<T>()) }
}

impl Drop for Quarantine {
    fn drop(&mut self) {
        let parked = self
            .parked
            .get_mut()
            .unwrap_or_else(|poison| poison.into_inner());
        for Disposal { ptr, dispose } in parked.disposals.drain(..) {
            // SAFETY: each entry was retired once and, by (2) of `Guard::retire`, is valid for
            // its `dispose`; no guard exists any more (`&mut self`), so nothing can reach it.
            unsafe { dispose(ptr) }
        }
    }
}
