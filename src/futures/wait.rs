//! `wait` and `as_completed`: block on many futures at once, without polling.
//!
//! Both register one [`Waiter`] on every future they watch and sleep until a completion fires
//! it (or the deadline passes); both withdraw it when they are done, and the futures unlink it,
//! so a future waited on many times does not accumulate waiters.

use super::future::{deadline, Future};
use super::waiter::Waiter;
use super::watchers::Watcher;
use super::FutureError;
use crate::sync::Arc;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// When [`wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// As soon as any future is done (finished or cancelled).
    FirstCompleted,
    /// As soon as any future fails; if none does, when all are done.
    FirstException,
    /// When all futures are done.
    AllCompleted,
}

/// The futures [`wait`] saw done, and the others.
#[derive(Debug, Clone)]
pub struct WaitResult<T> {
    /// Finished or cancelled before `wait` returned.
    pub done: Vec<Future<T>>,
    /// Not done when `wait` returned.
    pub not_done: Vec<Future<T>>,
}

/// Futures being watched by one blocked call, split into those seen done (in the order seen)
/// and the others.
struct Watched<T> {
    done: VecDeque<Future<T>>,
    /// Not seen done yet; `None` once moved to `done`.
    pending: Vec<Option<Future<T>>>,
    waiter: Arc<Waiter>,
    registered: bool,
}

impl<T> Watched<T> {
    /// Watches the distinct futures of `fs` (identity decides; first-seen order).
    fn new<'a>(fs: impl IntoIterator<Item = &'a Future<T>>) -> Self
    where
        T: 'a,
    {
        let mut seen = HashSet::new();
        let mut watched = Self {
            done: VecDeque::new(),
            pending: Vec::new(),
            waiter: Arc::new(Waiter::for_this_thread()),
            registered: false,
        };
        for f in fs {
            if seen.insert(f.id()) {
                watched.pending.push(Some(f.clone()));
            }
        }
        watched.collect_done();
        watched
    }

    /// Moves the pending futures that are done to `done`.
    fn collect_done(&mut self) {
        for slot in &mut self.pending {
            if slot.as_ref().is_some_and(Future::done) {
                self.done.extend(slot.take());
            }
        }
    }

    fn pending(&self) -> impl Iterator<Item = &Future<T>> {
        self.pending.iter().flatten()
    }

    /// Makes progress towards a completion: runs a task this worker would otherwise wait for
    /// (the no-self-deadlock rule), or registers the waiter, or sleeps until a completion or
    /// `deadline`. Returns `false` once the deadline has passed with nothing new.
    fn advance(&mut self, deadline: Option<Instant>) -> bool {
        let ran = self.pending().any(Future::run_if_mine);
        if self.registered && !self.waiter.is_for_this_thread() {
            // The iterator moved to another thread since it registered: the futures must
            // wake this one.
            self.withdraw();
            self.waiter = Arc::new(Waiter::for_this_thread());
        }
        if !ran && !self.registered {
            for f in self.pending.iter().flatten() {
                f.watch(Watcher::Waiter(Waiter::register(&self.waiter)));
            }
            self.registered = true;
        } else if !ran && !self.waiter.wait(deadline) {
            return false;
        }
        self.collect_done();
        true
    }
}

impl<T> Watched<T> {
    /// Withdraws the waiter from the futures it is registered on.
    fn withdraw(&mut self) {
        if self.registered {
            self.waiter.withdraw();
            for f in self.pending.iter().flatten() {
                f.prune();
            }
            self.registered = false;
        }
    }
}

impl<T> Drop for Watched<T> {
    fn drop(&mut self) {
        self.withdraw();
    }
}

/// Waits until the futures `fs` (duplicates count once) are done as `return_when` asks, or until
/// `timeout` passes (`None`: no limit), and splits them into done and not done.
///
/// A pool worker that would block on futures of its own pool that have not started runs them
/// first (see the [module documentation](super)).
///
/// ```
/// use concurrency::futures::{wait, ReturnWhen, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new();
/// let fs: Vec<_> = (0..4).map(|i| pool.submit(move || i * i).unwrap()).collect();
/// let outcome = wait(&fs, None, ReturnWhen::AllCompleted);
/// assert_eq!(outcome.done.len(), 4);
/// assert!(outcome.not_done.is_empty());
/// ```
pub fn wait<'a, T: 'a>(
    fs: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> WaitResult<T> {
    let deadline = deadline(timeout);
    let mut watched = Watched::new(fs);
    loop {
        let satisfied = watched.pending().next().is_none()
            || match return_when {
                ReturnWhen::FirstCompleted => !watched.done.is_empty(),
                ReturnWhen::FirstException => watched.done.iter().any(Future::failed),
                ReturnWhen::AllCompleted => false,
            };
        if satisfied || !watched.advance(deadline) {
            break;
        }
    }
    WaitResult {
        done: std::mem::take(&mut watched.done).into(),
        not_done: watched.pending().cloned().collect(),
    }
}

/// Yields the futures `fs` (duplicates count once) as they complete: those already done first,
/// then each as it finishes or is cancelled. If `timeout` (counted from the call) passes first,
/// yields one `Err(FutureError::Timeout)` and ends. Dropping the iterator removes its
/// registrations.
///
/// ```
/// use concurrency::futures::{as_completed, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new();
/// let fs: Vec<_> = (1..=3).map(|i| pool.submit(move || i * 10).unwrap()).collect();
/// let mut total = 0;
/// for f in as_completed(&fs, None) {
///     total += f.unwrap().result(None).unwrap();
/// }
/// assert_eq!(total, 60);
/// ```
pub fn as_completed<'a, T: 'a>(
    fs: impl IntoIterator<Item = &'a Future<T>>,
    timeout: Option<Duration>,
) -> AsCompleted<T> {
    AsCompleted {
        deadline: deadline(timeout),
        watched: Watched::new(fs),
        timed_out: false,
    }
}

/// The iterator [`as_completed`] returns.
pub struct AsCompleted<T> {
    watched: Watched<T>,
    deadline: Option<Instant>,
    timed_out: bool,
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Result<Future<T>, FutureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(f) = self.watched.done.pop_front() {
                return Some(Ok(f));
            }
            if self.timed_out || self.watched.pending().next().is_none() {
                return None;
            }
            if !self.watched.advance(self.deadline) {
                self.timed_out = true;
                return Some(Err(FutureError::Timeout));
            }
        }
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("done", &self.watched.done.len())
            .field("pending", &self.watched.pending().count())
            .field("timed_out", &self.timed_out)
            .finish()
    }
}
