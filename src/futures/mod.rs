//! Futures and executors, after Python's `concurrent.futures`.
//!
//! * [`Future`]: the result of a computation that may not have finished — one allocation, one
//!   atomic word for its state (pending → running → finished, or pending → cancelled) and its
//!   watchers, done-callbacks, blocking reads with timeouts, and `.await` from any async
//!   runtime (through [`IntoFuture`](std::future::IntoFuture)).
//! * [`wait`](fn@wait) and [`as_completed`]: block on many futures at once. Every blocking call
//!   registers a waiter on the futures it watches and sleeps until one of them completes: no
//!   polling anywhere.
//! * [`ThreadPoolExecutor`]: runs closures on lazily started worker threads, fed through this
//!   crate's [`ConcurrentQueue`](crate::ConcurrentQueue) and, for tasks submitted by tasks, a
//!   work-stealing deque per worker.
//! * `ProcessPoolExecutor` (Unix): runs registered functions in worker processes, with the
//!   same futures, `wait` and `as_completed`.
//!
//! # Example: loading in parallel
//! Python's documentation loads web pages; this loads local files, and reports each as it
//! completes:
//!
//! ```
//! use concurrency::futures::{as_completed, ThreadPoolExecutor};
//! use std::collections::HashMap;
//! use std::time::Duration;
//!
//! fn load(path: &str) -> Result<usize, String> {
//!     std::fs::read(path).map(|bytes| bytes.len()).map_err(|e| e.to_string())
//! }
//!
//! let paths = ["Cargo.toml", "README.md", "no-such-file"];
//! let pool = ThreadPoolExecutor::builder().max_workers(5).build().unwrap();
//! let loads: HashMap<_, _> = paths
//!     .iter()
//!     .map(|&path| (pool.submit(move || load(path)).unwrap(), path))
//!     .collect();
//! for done in as_completed(loads.keys(), Some(Duration::from_secs(60))) {
//!     let done = done.expect("all loads finish within the minute");
//!     match done.result(None).unwrap() {
//!         Ok(bytes) => println!("{} is {bytes} bytes", loads[&done]),
//!         Err(e) => println!("{} generated an exception: {e}", loads[&done]),
//!     }
//! }
//! ```
//!
//! # No self-deadlock
//! A pool worker that blocks (in [`Future::result`], [`Future::exception`], [`wait`](fn@wait) or
//! [`as_completed`]) on a future of *its own pool* whose task has not started runs that task
//! itself, on its own stack, instead of sleeping. So a one-worker pool whose task waits for a
//! task it submitted completes, as does any wait for work queued behind the waiter:
//!
//! ```
//! use concurrency::futures::ThreadPoolExecutor;
//! use std::sync::Arc;
//!
//! let pool = Arc::new(ThreadPoolExecutor::builder().max_workers(1).build().unwrap());
//! let inner_pool = Arc::clone(&pool);
//! let outer = pool
//!     .submit(move || {
//!         let inner = inner_pool.submit(|| 5u64.pow(2)).unwrap();
//!         inner.result(None).unwrap() // Python's documentation: this would never complete
//!     })
//!     .unwrap();
//! assert_eq!(outer.result(None).unwrap(), 25);
//! ```
//!
//! Limits of the rule. It cannot break a real cycle: a task that waits, directly or through
//! tasks it runs inline, for a future whose task is running *underneath it on the same thread*
//! is a deadlock no scheduler can resolve, and [`Future::result`] panics with a message saying
//! so (the panic fails the waiting task's own future, so the caller sees an error instead of a
//! hang). Cycles across threads — two workers each running a task that waits for the other's
//! future — are not detected and do block, as in Python. Tasks run inline count towards their
//! waiter's worker, so `max_workers` bounds threads, not running tasks.

mod awaiting;
mod cell;
mod deque;
mod error;
mod executor;
mod future;
mod jobs;
#[cfg(all(unix, not(any(loom, shuttle))))]
mod process;
mod wait;
mod waiter;
mod watchers;
mod worker;

pub use awaiting::Awaiting;
pub use error::{BuildError, FutureError, InvalidStateError, SubmitError, TaskError};
pub use executor::{Map, ThreadPoolExecutor, ThreadPoolExecutorBuilder};
pub use future::Future;
#[cfg(all(unix, not(any(loom, shuttle))))]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use process::{
    Failure, ProcessMap, ProcessPoolExecutor, ProcessPoolExecutorBuilder, Registry, TaskFn,
};
pub use wait::{as_completed, wait, AsCompleted, ReturnWhen, WaitResult};

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;

#[cfg(all(test, loom))]
mod model;
