//! The one place the crate takes its synchronization primitives from.
//!
//! Every atomic, fence, `Arc`, `Mutex`, `Condvar`, thread (with `park`), thread-local, `UnsafeCell`, `spin_loop` and
//! `yield_now` used by the structures comes from here, so one switch decides what they run on:
//!
//! * default: `std`;
//! * `--cfg loom --cfg crossbeam_loom`: [loom](https://docs.rs/loom), which explores every
//!   interleaving and every weak-memory outcome the C++11 model allows, at small bounds;
//! * `--cfg shuttle`: [shuttle](https://docs.rs/shuttle), which runs random and PCT schedules of
//!   many threads and long histories (every atomic is treated as `SeqCst` there).
//!
//! [`UnsafeCell`] has loom's `with`/`with_mut` API on every backend, so loom checks every
//! non-atomic shared access. [`model_yield`] is a scheduling point that only shuttle sees; the
//! reclamation layer calls it between loading a pointer and protecting it, where a preemption
//! exposes use-after-free bugs that shuttle cannot otherwise reach (it does not see inside
//! crossbeam-epoch or haphazard).
//!
//! Not every build uses every primitive listed here, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports)]

#[cfg(all(loom, shuttle))]
compile_error!("`--cfg loom` and `--cfg shuttle` select different checkers: pick one");

#[cfg(all(loom, not(crossbeam_loom)))]
compile_error!(
    "`--cfg loom` needs `--cfg crossbeam_loom` too: without it crossbeam-epoch keeps std atomics \
     and epoch-based loom models pass without checking anything"
);

#[cfg(loom)]
mod backend {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::hint::spin_loop;
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicIsize, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize,
        Ordering,
    };
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use loom::thread;
    pub(crate) use loom::thread::{park, yield_now};
    pub(crate) use loom::thread_local;

    /// loom models no time: a timed park is a park (as loom's `Condvar::wait_timeout` never
    /// times out), so a model that needs the timeout path passes an expired deadline.
    pub(crate) fn park_timeout(_: std::time::Duration) {
        park();
    }

    /// loom explores every interleaving at atomic operations already: nothing to add.
    #[inline(always)]
    pub(crate) fn model_yield() {}
}

#[cfg(shuttle)]
mod backend {
    pub(crate) use super::std_cell::UnsafeCell;
    pub(crate) use shuttle::hint::spin_loop;
    pub(crate) use shuttle::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicIsize, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize,
        Ordering,
    };
    pub(crate) use shuttle::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use shuttle::thread;
    pub(crate) use shuttle::thread::{park, park_timeout, yield_now};
    pub(crate) use shuttle::thread_local;

    /// A preemption point for shuttle's scheduler.
    #[inline(always)]
    pub(crate) fn model_yield() {
        shuttle::thread::yield_now();
    }
}

#[cfg(not(any(loom, shuttle)))]
mod backend {
    pub(crate) use super::std_cell::UnsafeCell;
    pub(crate) use std::hint::spin_loop;
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicIsize, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize,
        Ordering,
    };
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    pub(crate) use std::thread;
    pub(crate) use std::thread::{park, park_timeout, yield_now};
    pub(crate) use std::thread_local;

    /// Compiles to nothing outside the model checkers.
    #[inline(always)]
    pub(crate) fn model_yield() {}
}

pub(crate) use backend::*;

/// Cache-line padding for fields that different threads write.
pub(crate) use crossbeam_utils::CachePadded;

#[cfg(not(loom))]
mod std_cell {
    /// `std::cell::UnsafeCell` with loom's closure-based access API, so code written against it
    /// is checked by loom unchanged.
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Shared access to the contents through a raw pointer.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Exclusive access to the contents through a raw pointer.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }
}

/// A place in the middle of an operation where a unit test can suspend the calling thread
/// (`test_support::Stall`), to check that every other operation still completes: the
/// lock-freedom claims, tested. Compiles to nothing outside unit tests.
#[inline(always)]
pub(crate) fn stall_point(_point: &'static str) {
    #[cfg(all(test, not(any(loom, shuttle))))]
    crate::test_support::stall_here(_point);
}

/// The next number of a process-wide sequence, for naming things (executor threads): not a
/// synchronization primitive, so not modelled by loom or shuttle.
pub(crate) fn next_serial() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    // Relaxed: only uniqueness matters, which every RMW gives.
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
