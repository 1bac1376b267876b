//! `AtomicReference<T>`: a shared, atomically replaceable `Arc<T>`.
//!
//! # Algorithm
//! One atomic pointer holds `Arc::into_raw` of the current value. Readers protect the pointer
//! through the crate's [reclamation layer](crate::reclaim) and then either borrow the value
//! ([`load`](AtomicReference::load), no reference-count traffic) or take a strong count of their
//! own ([`get`](AtomicReference::get)). Writers install a new pointer with one RMW (`swap` or
//! `compare_exchange`) and *retire* the old one: the reference's own strong count on it is given
//! up only once no reader can still be between loading the pointer and using it. This is the
//! split-reference-count problem that `arc-swap` solves with debt lists; here the reclaimer
//! answers it, and the same code runs on epochs or hazard pointers.
//!
//! # Invariants
//! 1. `current` is never null and always owns exactly one strong count of the value it points to.
//! 2. A pointer leaves `current` only through one successful RMW, and the thread whose RMW
//!    removed it retires that count exactly once (or, for `exchange`, hands a fresh count to the
//!    caller and retires the reference's count).
//! 3. A reader touches the pointee only while the pointer is protected, and protection validates
//!    against `current`, so it never reaches a value whose count was already retired.
//!
//! Hence a value is dropped exactly once, when the last `Arc` to it goes, and never while a
//! reader may still be reading it.
//!
//! # Progress
//! Lock-free: `get`, `load`, `set`, `exchange` and `compare_exchange` finish in a bounded number
//! of their own steps except for protection under hazard pointers, which retries only when a
//! writer succeeded meanwhile.
//!
//! # Reclamation
//! The `R` parameter picks the scheme: [`Epoch`](crate::reclaim::Epoch) (the default, faster in
//! our benchmarks) or [`HazardPointers`](crate::reclaim::HazardPointers) (bounded garbage: a
//! stalled reader holds back only the value it protects).
//!
//! # Memory orderings
//! * Installing RMWs are `AcqRel`: the Release half publishes the new value's contents and pairs
//!   with the `Acquire` load in `Guard::protect`; the Acquire half takes over the old value's
//!   contents from the writer that installed it, for `exchange`'s caller and for the disposal.
//! * A failed `compare_exchange` is `Relaxed`: it returns `false` and touches nothing.
//! * Strong counts are `Arc`'s own.

use crate::reclaim::{DefaultReclaimer, DropArc, Guard, Reclaimer};
use crate::sync::{Arc, AtomicPtr, Ordering};
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

/// Ordering of the RMWs that install a new value: see "Memory orderings" in the module doc.
/// `cfg(concurrency_mutant = "publish_without_release")` drops the Release half so that the
/// loom and Miri suites can show they catch it.
const INSTALL: Ordering = if cfg!(concurrency_mutant = "publish_without_release") {
    Ordering::Acquire // the mutant: no Release
} else {
    Ordering::AcqRel // Release pairs with the Acquire load in `Guard::protect`
};

/// A shared reference to a `T` that any thread can read or replace atomically.
///
/// `compare_exchange` compares by identity ([`Arc::ptr_eq`]), not by value. Values are held as
/// `Arc<T>`, so readers keep theirs however the reference changes later.
///
/// `T: Send + Sync + 'static` because a replaced value may be dropped by whichever thread
/// reclaims it, after the reference itself is gone.
///
/// ```
/// use concurrency::AtomicReference;
/// use std::sync::Arc;
///
/// let config = AtomicReference::new(String::from("v1"));
/// let before = config.get();
/// let old = config.exchange(String::from("v2"));
/// assert!(Arc::ptr_eq(&before, &old));
/// assert_eq!(*before, "v1"); // still valid after the swap
/// assert_eq!(*config.load(), "v2");
///
/// let current = config.get();
/// assert!(config.compare_exchange(&current, String::from("v3")));
/// assert!(!config.compare_exchange(&current, String::from("v4"))); // identity changed
/// assert_eq!(*config.get(), "v3");
/// ```
pub struct AtomicReference<T, R: Reclaimer = DefaultReclaimer> {
    current: AtomicPtr<T>,
    reclaimer: R,
    owns: PhantomData<Arc<T>>,
}

/// A borrowed read of an [`AtomicReference`]'s value: keeps it alive without touching its
/// reference count. Holding one delays reclamation (under epochs, of everything retired
/// meanwhile), so keep it short.
pub struct RefGuard<'a, T, R: Reclaimer + 'a = DefaultReclaimer> {
    value: NonNull<T>,
    _protection: R::Guard<'a>,
}

impl<T: Send + Sync + 'static> AtomicReference<T> {
    /// Creates a reference holding `value`, on the [`DefaultReclaimer`].
    ///
    /// ```
    /// let r = concurrency::AtomicReference::new(5);
    /// assert_eq!(*r.get(), 5);
    /// ```
    pub fn new(value: T) -> Self {
        Self::with_reclaimer(value)
    }

    /// Creates a reference holding an existing `Arc`, on the [`DefaultReclaimer`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let shared = Arc::new(5);
    /// let r = concurrency::AtomicReference::from_arc(Arc::clone(&shared));
    /// assert!(Arc::ptr_eq(&r.get(), &shared));
    /// ```
    pub fn from_arc(value: Arc<T>) -> Self {
        Self::with_reclaimer(value)
    }
}

impl<T: Send + Sync + 'static, R: Reclaimer> AtomicReference<T, R> {
    /// Creates a reference holding `value` (a `T` or an `Arc<T>`) on the reclaimer `R`.
    ///
    /// ```
    /// use concurrency::{reclaim::HazardPointers, AtomicReference};
    /// let r = AtomicReference::<_, HazardPointers>::with_reclaimer(5);
    /// r.set(6);
    /// assert_eq!(*r.load(), 6);
    /// ```
    pub fn with_reclaimer(value: impl Into<Arc<T>>) -> Self {
        Self {
            current: AtomicPtr::new(Self::into_raw(value)),
            reclaimer: R::default(),
            owns: PhantomData,
        }
    }

    /// Returns the current value as an `Arc` of the caller's own.
    ///
    /// ```
    /// let r = concurrency::AtomicReference::new(vec![1, 2]);
    /// let v = r.get();
    /// r.set(vec![3]);
    /// assert_eq!(*v, [1, 2]);
    /// ```
    pub fn get(&self) -> Arc<T> {
        let mut protection = self.reclaimer.guard();
        let ptr = protection.protect(0, &self.current);
        // SAFETY: `ptr` came from `Arc::into_raw` (invariant 1) and is protected, so the
        // reference's strong count on it has not been given up: the count is at least one and
        // incrementing it is sound. The new count is the caller's.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    /// Borrows the current value without touching its reference count.
    ///
    /// ```
    /// let r = concurrency::AtomicReference::new(String::from("hello"));
    /// assert_eq!(r.load().len(), 5);
    /// ```
    pub fn load(&self) -> RefGuard<'_, T, R> {
        let mut protection = self.reclaimer.guard();
        let ptr = protection.protect(0, &self.current);
        RefGuard {
            // SAFETY: `current` is never null (invariant 1).
            value: unsafe { NonNull::new_unchecked(ptr) },
            _protection: protection,
        }
    }

    /// Replaces the value.
    ///
    /// ```
    /// let r = concurrency::AtomicReference::new(1);
    /// r.set(2);
    /// assert_eq!(*r.get(), 2);
    /// ```
    pub fn set(&self, value: impl Into<Arc<T>>) {
        let old = self.current.swap(Self::into_raw(value), INSTALL);
        self.retire(old);
    }

    /// Replaces the value and returns the old one.
    ///
    /// ```
    /// let r = concurrency::AtomicReference::new(1);
    /// assert_eq!(*r.exchange(2), 1);
    /// ```
    pub fn exchange(&self, value: impl Into<Arc<T>>) -> Arc<T> {
        let old = self.current.swap(Self::into_raw(value), INSTALL);
        // SAFETY: this thread's swap removed `old` from `current`, so it owns the reference's
        // strong count on it (invariant 2), which keeps the value alive: taking a second count
        // for the caller is sound.
        let returned = unsafe {
            Arc::increment_strong_count(old);
            Arc::from_raw(old)
        };
        self.retire(old);
        returned
    }

    /// Installs `new` if the current value is `expected` — the same allocation, compared by
    /// identity — and says whether it did. On failure `new` is dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let r = concurrency::AtomicReference::new(1);
    /// let seen = r.get();
    /// assert!(!r.compare_exchange(&Arc::new(1), 5)); // equal value, other allocation
    /// assert!(r.compare_exchange(&seen, 2));
    /// assert_eq!(*r.get(), 2);
    /// ```
    pub fn compare_exchange(&self, expected: &Arc<T>, new: impl Into<Arc<T>>) -> bool {
        let new = Self::into_raw(new);
        // ABA cannot happen: `expected` is a live Arc, so its allocation cannot be freed and
        // reused for another value while this call runs.
        let expected = Arc::as_ptr(expected).cast_mut();
        let outcome = self
            .current
            // Failure is Relaxed: the actual pointer is neither returned nor dereferenced.
            .compare_exchange(expected, new, INSTALL, Ordering::Relaxed);
        match outcome {
            Ok(old) => {
                self.retire(old);
                true
            }
            Err(_) => {
                // SAFETY: `new` came from `Arc::into_raw` above and was never published.
                drop(unsafe { Arc::from_raw(new) });
                false
            }
        }
    }

    fn into_raw(value: impl Into<Arc<T>>) -> *mut T {
        Arc::into_raw(value.into()).cast_mut()
    }

    /// Gives up the reference's strong count on `old`, which this thread's RMW just removed.
    fn retire(&self, old: *mut T) {
        let protection = self.reclaimer.guard();
        // SAFETY: (1) `old` left `current` through this thread's RMW, so no guard can newly load
        // it; (2) it is non-null and owns the count `DropArc` gives up, retired once (invariant
        // 2); (3) `T: Send + Sync + 'static`, so the count may be dropped on any thread, late.
        unsafe { protection.retire::<T, DropArc>(old) };
    }
}

impl<T, R: Reclaimer> Drop for AtomicReference<T, R> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` means no other thread can reach the reference any more; the
        // value's contents were synchronized by whatever handed `self` to this thread.
        let ptr = self.current.load(Ordering::Relaxed);
        // SAFETY: `ptr` owns the reference's strong count (invariant 1); no reader can exist.
        drop(unsafe { Arc::from_raw(ptr) });
    }
}

impl<T: Default + Send + Sync + 'static, R: Reclaimer> Default for AtomicReference<T, R> {
    fn default() -> Self {
        Self::with_reclaimer(T::default())
    }
}

impl<T: Send + Sync + 'static, R: Reclaimer> From<T> for AtomicReference<T, R> {
    fn from(value: T) -> Self {
        Self::with_reclaimer(value)
    }
}

impl<T: fmt::Debug + Send + Sync + 'static, R: Reclaimer> fmt::Debug for AtomicReference<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicReference")
            .field(&*self.load())
            .finish()
    }
}

impl<T, R: Reclaimer> Deref for RefGuard<'_, T, R> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `value` is protected by `self._protection`, which lives as long as `self`.
        unsafe { self.value.as_ref() }
    }
}

impl<T: fmt::Debug, R: Reclaimer> fmt::Debug for RefGuard<'_, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RefGuard").field(&**self).finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
