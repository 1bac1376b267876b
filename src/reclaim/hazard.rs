//! Hazard pointers (Michael, "Hazard pointers: safe memory reclamation for lock-free objects",
//! IEEE TPDS 2004) on `haphazard`.
//!
//! A guard owns up to [`MAX_SLOTS`] hazard slots, taken from the domain the first time each is
//! used and given back when the guard drops. A retired pointer is freed by a later scan that
//! finds it in no slot. Unlike epochs, a stalled reader pins only what its slots hold, so the
//! garbage one thread can hold back is bounded.
//!
//! Every domain is private to its structure, so dropping the structure frees everything it
//! retired. Under loom and Miri every retirement triggers a reclamation pass, so that frees
//! happen inside the model rather than at teardown.

use super::{check_slot, publish_and_validate, sealed, Dispose, Guard, Reclaimer, MAX_SLOTS};
use haphazard::raw::Pointer;
use haphazard::{Domain, HazardPointer};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

/// The family tag of our domains; every domain is a separate value, owned by one structure.
#[derive(Debug)]
pub(super) struct Family;

/// Hazard-pointer reclamation: see the [module documentation](super).
pub struct HazardPointers {
    pub(super) domain: Domain<Family>,
}

/// A protected section under [`HazardPointers`]: up to [`MAX_SLOTS`] hazard slots.
pub struct HazardGuard<'d> {
    domain: &'d Domain<Family>,
    slots: [Option<HazardPointer<'d, Family>>; MAX_SLOTS],
}

impl Default for HazardPointers {
    fn default() -> Self {
        Self {
            domain: Domain::new(&Family),
        }
    }
}

impl fmt::Debug for HazardPointers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HazardPointers").finish_non_exhaustive()
    }
}

impl fmt::Debug for HazardGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.slots.iter().filter(|slot| slot.is_some()).count();
        f.debug_struct("HazardGuard")
            .field("slots_held", &held)
            .finish()
    }
}

impl sealed::Sealed for HazardPointers {}

impl Reclaimer for HazardPointers {
    const NAME: &'static str = "hazard-pointers";
    /// Only what a slot holds is safe.
    const GUARD_PINS_ALL: bool = false;

    type Guard<'d> = HazardGuard<'d>;

    #[inline]
    fn guard(&self) -> HazardGuard<'_> {
        HazardGuard {
            domain: &self.domain,
            slots: [const { None }; MAX_SLOTS],
        }
    }
}

impl Guard for HazardGuard<'_> {
    #[inline]
    fn protect_if<T>(
        &mut self,
        slot: usize,
        candidate: *mut T,
        still_reachable: impl FnOnce() -> bool,
    ) -> bool {
        check_slot(slot);
        let domain = self.domain;
        let hazard = self.slots[slot].get_or_insert_with(|| HazardPointer::new_in_domain(domain));
        if publish_and_validate(|| hazard.protect_raw(candidate), still_reachable) {
            return true;
        }
        hazard.reset_protection();
        false
    }

    #[inline]
    fn swap_slots(&mut self, a: usize, b: usize) {
        check_slot(a);
        check_slot(b);
        self.slots.swap(a, b);
    }

    #[inline]
    unsafe fn retire<T: Send, D: Dispose<T>>(&self, ptr: *mut T) {
        // SAFETY: haphazard's (1): `ptr` is unlinked (our (1)) and `protect` validates, so no
        // hazard newly guards it; (2) it is retired once (our (2)); (3) it stays valid until
        // disposed of, at the latest when the domain drops.
        unsafe { self.domain.retire_ptr::<T, Disposer<T, D>>(ptr) };
        if cfg!(any(loom, miri)) {
            self.domain.eager_reclaim();
        }
    }
}

/// Adapts a [`Dispose`] strategy to haphazard's owning-pointer interface: haphazard rebuilds a
/// `Disposer` from the retired pointer and drops it once no hazard holds the pointer.
struct Disposer<T, D: Dispose<T>> {
    ptr: NonNull<T>,
    strategy: PhantomData<D>,
}

impl<T, D: Dispose<T>> Deref for Disposer<T, D> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a `Disposer` exists only for a retired pointer that is valid until it drops
        // (condition 3 of `retire_ptr`, discharged in `HazardGuard::retire`).
        unsafe { self.ptr.as_ref() }
    }
}

// SAFETY: (1, 2) `into_raw` returns the pointer the `Disposer` was made from, valid until
// `from_raw` takes it back; (3) haphazard calls `from_raw` once per retirement.
unsafe impl<T, D: Dispose<T>> Pointer<T> for Disposer<T, D> {
    fn into_raw(self) -> *mut T {
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        ptr
    }

    unsafe fn from_raw(ptr: *mut T) -> Self {
        Self {
            // SAFETY: haphazard only passes back pointers that were retired, and retired
            // pointers are never null (they were loaded through `protect` and dereferenced).
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            strategy: PhantomData,
        }
    }
}

impl<T, D: Dispose<T>> Drop for Disposer<T, D> {
    fn drop(&mut self) {
        // SAFETY: the `Disposer` owns the retired pointer (it was rebuilt by `from_raw` once no
        // hazard held it) and is dropped once, so `dispose` runs exactly once, with nothing left
        // that can reach the pointer.
        unsafe { D::dispose(self.ptr.as_ptr()) }
    }
}
