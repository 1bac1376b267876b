//! Safe memory reclamation: one small interface, three implementations.
//!
//! A lock-free structure unlinks a node while other threads may still be reading it, so it
//! cannot free the node at once. Every structure in this crate is written against the two
//! operations below, and so runs on any of the reclaimers:
//!
//! * **protect** — [`Guard::protect`] loads a pointer from a shared location and keeps what it
//!   points to alive until the guard is dropped or the same slot protects something else;
//! * **retire** — [`Guard::retire`] hands an unlinked pointer over for destruction once no guard
//!   can still reach it.
//!
//! | reclaimer | scheme | who frees | seen by |
//! |---|---|---|---|
//! | [`Epoch`] | epochs (Fraser 2004, via `crossbeam-epoch`) | a later pin, in batches | loom, Miri |
//! | [`HazardPointers`] | hazard pointers (Michael 2004, via `haphazard`) | the retiring thread, after a scan | loom, Miri |
//! | `Quarantine` (`cfg(shuttle)` only) | never frees before drop; checks every protection | the domain's `Drop` | shuttle |
//!
//! Each structure owns its reclaimer value (its *domain*), so dropping the structure frees
//! everything it retired — except under [`Epoch`] in ordinary builds, which shares
//! `crossbeam-epoch`'s global collector for speed and frees at the next collections.
//!
//! # Protection discipline
//! Structures must use protection the hazard-pointer way, the stricter of the two: a pointer is
//! safe only while it is held in a slot *and* was validated against its source after the slot
//! was published. [`Guard::protect`] does the validation; a structure that derives a pointer
//! from a node other than through `protect` must validate it itself.
//!
//! # Memory orderings
//! `protect` returns a pointer loaded with `Acquire`, so the writer that installed it (with a
//! `Release` store or RMW) happened-before every read through it. Hazard-pointer publication is
//! a store followed by a `SeqCst` fence and a re-load: the fence orders the store before the
//! re-load (a store→load edge no weaker ordering gives), and pairs with the fence the scanning
//! thread issues before it reads the hazard slots.

mod epoch;
mod hazard;
#[cfg(shuttle)]
mod quarantine;

pub use epoch::{Epoch, EpochGuard};
pub use hazard::{HazardGuard, HazardPointers};
#[cfg(shuttle)]
pub use quarantine::{Quarantine, QuarantineGuard};

use crate::sync::{fence, model_yield, Arc, AtomicPtr, Ordering};
use crate::unwind::drop_deferred;
use std::fmt::Debug;

/// The reclaimer structures use unless told otherwise: [`Epoch`], which measured faster than
/// [`HazardPointers`] on every read and uncontended write of `benches/atomics.rs` (see
/// `docs/BENCHMARKS.md`).
pub type DefaultReclaimer = Epoch;

/// How many pointers one guard can hold protected at once (slots `0..MAX_SLOTS`).
///
/// Three covers a Harris–Michael list traversal (previous, current, next).
pub const MAX_SLOTS: usize = 3;

/// A reclamation domain: owned by one structure, it hands out [`Guard`]s.
///
/// Sealed: the structures' safety arguments rest on the guarantees the implementations here
/// give, so no outside type may implement it.
pub trait Reclaimer: sealed::Sealed + Default + Debug + Send + Sync + 'static {
    /// A short name for reports and benchmarks.
    const NAME: &'static str;

    /// Whether a guard keeps alive everything a structure can reach while the guard lives
    /// (epochs): then a read-only traversal may load and follow pointers without protecting
    /// each, and pass over deleted nodes. `false` for hazard pointers (and the model that
    /// stands in for them), where every pointer followed must be protected and validated.
    const GUARD_PINS_ALL: bool;

    /// A reader's protection, borrowed from the domain.
    type Guard<'d>: Guard
    where
        Self: 'd;

    /// Starts a protected section: pointers protected through the guard stay valid until it is
    /// dropped.
    fn guard(&self) -> Self::Guard<'_>;
}

/// A protected section of one thread: see the [module documentation](self).
pub trait Guard {
    /// Loads the pointer in `src` and protects what it points to under `slot`
    /// (`slot < MAX_SLOTS`), releasing whatever that slot protected before.
    ///
    /// The result stays valid while the guard lives and `slot` is not reused, provided every
    /// pointer ever stored in `src` is retired only through this guard's domain, only after it
    /// was unlinked from `src`, and `src` itself stays reachable meanwhile (a field of the
    /// structure, or of a node that is protected and still linked; otherwise use
    /// [`protect_from`](Self::protect_from) or [`protect_if`](Self::protect_if)).
    ///
    /// # Panics
    /// If `slot >= MAX_SLOTS`.
    fn protect<T>(&mut self, slot: usize, src: &AtomicPtr<T>) -> *mut T {
        // Acquire: pairs with the Release of the writer that installed the pointer, as
        // `protect_from` requires of its candidate.
        let mut candidate = src.load(Ordering::Acquire);
        loop {
            match self.protect_from(slot, candidate, src) {
                Ok(protected) => return protected,
                Err(now) => candidate = now,
            }
        }
    }

    /// Protects `candidate`, just loaded from `src`, under `slot` if `src` still holds it once
    /// the protection is published: `Ok` with the pointer as re-loaded from `src`, or `Err`
    /// with what `src` holds now (the slot is released). `candidate` must have been loaded with
    /// `Acquire`: a reclaimer that needs no validation (epochs) returns it as it is.
    ///
    /// Use the returned pointer, not `candidate`: the two have the same address, but
    /// `candidate` may point into an allocation that was freed before the protection was
    /// published, whose address was then reused by the node `src` holds now (ABA). Reading
    /// through `candidate` would then be a use of freed memory as far as the language is
    /// concerned — Miri reports it — while the re-loaded pointer belongs to the live node.
    ///
    /// `src` must be reachable as for [`protect`](Self::protect), or belong to a node that
    /// stays allocated while protected (a marked successor pointer never validates, so a
    /// deleted node's frozen `next` is safe to pass).
    ///
    /// # Panics
    /// If `slot >= MAX_SLOTS`.
    fn protect_from<T>(
        &mut self,
        slot: usize,
        candidate: *mut T,
        src: &AtomicPtr<T>,
    ) -> Result<*mut T, *mut T> {
        let mut current = candidate;
        let still_there = || {
            // Acquire: pairs with the Release of the writer that installed the pointer in
            // `src`, so its initialization of the pointee is visible to the caller.
            current = src.load(Ordering::Acquire);
            current == candidate
        };
        if self.protect_if(slot, candidate, still_there) {
            Ok(current)
        } else {
            Err(current)
        }
    }

    /// Protects `candidate` under `slot` if `still_reachable` — run after the protection is
    /// published — confirms it was not unlinked meanwhile; otherwise releases the slot and
    /// returns `false`. The caller must have loaded `candidate` with `Acquire` from a location
    /// it could reach safely.
    ///
    /// This is the hazard-pointer validation step on its own, for sources that may themselves
    /// be unlinked (for example `head.next` of a queue whose `head` may move on). The check
    /// must prove that `candidate`'s node was never retired before the publication — as a
    /// queue's unchanged, protected `head` proves its successor was never popped. An equal
    /// address in the source proves less (the address may have been freed and reused): for
    /// that check use [`protect_from`](Self::protect_from), which returns the re-loaded pointer.
    ///
    /// A reclaimer whose protection needs no validation (epochs) may skip `still_reachable`.
    ///
    /// # Panics
    /// If `slot >= MAX_SLOTS`.
    fn protect_if<T>(
        &mut self,
        slot: usize,
        candidate: *mut T,
        still_reachable: impl FnOnce() -> bool,
    ) -> bool;

    /// Exchanges what slots `a` and `b` protect (hand-over-hand traversal: the current node
    /// becomes the previous one without being published again).
    ///
    /// # Panics
    /// If `a` or `b` is not below `MAX_SLOTS`.
    fn swap_slots(&mut self, a: usize, b: usize);

    /// Hands `ptr` over for destruction by `D::dispose` once no guard of this domain can reach it.
    ///
    /// # Safety
    /// 1. `ptr` is unlinked: no shared location from which a guard could newly load it still
    ///    holds it.
    /// 2. `ptr` is non-null, retired once, and valid for `D::dispose` (see [`Dispose`]).
    /// 3. Disposing may happen on any thread and, under [`Epoch`], after the domain is dropped:
    ///    whatever `ptr` owns must allow that beyond `T: Send` (in practice `T: 'static`).
    unsafe fn retire<T: Send, D: Dispose<T>>(&self, ptr: *mut T);
}

/// How a retired pointer is destroyed: a zero-sized strategy, so reclaimers can store it as a
/// plain function pointer.
pub trait Dispose<T> {
    /// Destroys what `ptr` owns. It runs on whatever thread reclaims, so a panic in a user
    /// destructor stops here instead of unwinding into the reclaimer (see `crate::unwind`).
    ///
    /// # Safety
    /// 1. `ptr` came from the allocation the implementing type describes and still owns it.
    /// 2. Nothing uses `ptr` afterwards.
    unsafe fn dispose(ptr: *mut T);
}

/// Disposes of a pointer made by `Box::into_raw`.
#[derive(Debug)]
pub enum DropBox {}

impl<T> Dispose<T> for DropBox {
    unsafe fn dispose(ptr: *mut T) {
        // SAFETY: by (1) of `Dispose::dispose`, `ptr` came from `Box::into_raw` and still owns
        // the box; by (2) it is not used again.
        drop_deferred(|| drop(unsafe { Box::from_raw(ptr) }));
    }
}

/// Disposes of one strong count of a pointer made by `Arc::into_raw`.
#[derive(Debug)]
pub enum DropArc {}

impl<T> Dispose<T> for DropArc {
    unsafe fn dispose(ptr: *mut T) {
        // SAFETY: by (1) of `Dispose::dispose`, `ptr` came from `Arc::into_raw` and owns one
        // strong count, which is given up here; by (2) it is not used again.
        drop_deferred(|| drop(unsafe { Arc::from_raw(ptr) }));
    }
}

/// The hazard-pointer validation step: publish, fence, check. `publish` stores the candidate
/// into the caller's hazard slot; `still_reachable` re-reads the source.
///
/// Shared by [`HazardPointers`] and the model-only `Quarantine`, so shuttle checks the same
/// validation the production hazard pointers run.
fn publish_and_validate(publish: impl FnOnce(), still_reachable: impl FnOnce() -> bool) -> bool {
    model_yield();
    publish();
    // SeqCst: orders the hazard store above before the re-read in `still_reachable` (a
    // store→load edge); pairs with the fence a reclaiming thread issues before it scans the
    // hazard slots.
    fence(Ordering::SeqCst);
    cfg!(concurrency_mutant = "unvalidated_protect") || still_reachable()
}

/// Inlined: every caller passes a constant slot, so the check folds away (measured: out of
/// line it cost 12 instructions per push+pop of the segmented queue).
#[inline(always)]
fn check_slot(slot: usize) {
    assert!(
        slot < MAX_SLOTS,
        "hazard slot {slot} out of range (MAX_SLOTS = {MAX_SLOTS})"
    );
}

mod sealed {
    pub trait Sealed {}
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
