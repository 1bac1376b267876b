//! Lock-free concurrent data structures after Python's free-threading toolkit, written from raw
//! atomics and checked with loom, shuttle and Miri.
//!
//! | structure | algorithm | progress |
//! |---|---|---|
//! | [`AtomicInt64`], [`AtomicFlag`] | hardware RMW, CAS loops for `mul`/`floordiv` | wait-free / lock-free |
//! | [`AtomicReference`] | one atomic pointer + safe reclamation ([`reclaim`]) | lock-free |
//! | [`ConcurrentQueue`], [`StdConcurrentQueue`] | fetch-and-add segments (default), Michael & Scott (lock-free or two-lock); sleeping waits | lock-free / blocking waits |
//! | [`ConcurrentDict`] | Shalev & Shavit split-ordered list | lock-free |
//! | [`ConcurrentGatheringIterator`] | slots indexed by key in a radix tree of leaves, drained leaves reclaimed; an event count | lock-free inserts (but for a same-key holder), blocking reads |
//! | [`futures`] | `Future` state word, waiters, `ThreadPoolExecutor` on our queue | blocking waits |
//!
//! Every structure takes its primitives from one internal `sync` facade, which selects std,
//! loom (`--cfg loom --cfg crossbeam_loom`) or shuttle (`--cfg shuttle`); memory is reclaimed
//! through [`reclaim`], on epochs or hazard pointers. `docs/ARCHITECTURE.md` shows how the
//! pieces fit and what each checker sees.
//!
//! ```
//! use concurrency::{AtomicInt64, AtomicReference};
//!
//! let counter = AtomicInt64::new(0);
//! let latest = AtomicReference::new(String::from("none"));
//! std::thread::scope(|s| {
//!     for id in 0..4 {
//!         let (counter, latest) = (&counter, &latest);
//!         s.spawn(move || {
//!             counter.incr();
//!             latest.set(format!("worker {id}"));
//!         });
//!     }
//! });
//! assert_eq!(counter.get(), 4);
//! assert!(latest.get().starts_with("worker"));
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
// docs.rs (`--cfg docsrs`, nightly rustdoc): the Unix-only items say so.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The model checkers' cfgs are for this crate's own tests, not a platform a user can pick.
#![cfg_attr(docsrs, doc(auto_cfg(hide(loom, shuttle))))]

mod atomic;
mod dict;
mod event_count;
pub mod futures;
mod gather;
/// The model tests' runner, for the library's own loom models of its internals.
#[cfg(all(test, loom))]
#[path = "../model_tests/support/mod.rs"]
mod model_support;
mod queue;
pub mod reclaim;
mod sync;
#[cfg(all(test, not(any(loom, shuttle))))]
mod test_support;
mod unwind;

pub use atomic::{AtomicFlag, AtomicInt64, AtomicReference, DivisionByZero, RefGuard};
pub use dict::{ConcurrentDict, PinnedDict};
pub use gather::{ConcurrentGatheringIterator, GatherError, Gathered};
pub use queue::{
    ConcurrentQueue, GetError, PopError, PutError, QueueMode, ShutDown, StdConcurrentQueue,
    TaskDoneError,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
