//! `ConcurrentQueue`: an unbounded FIFO queue with blocking pops and shutdown.
//!
//! # Algorithms
//! * [`QueueMode::Segmented`] (the default): fetch-and-add tickets into linked segments of
//!   inline cells, after Yang & Mellor-Crummey (PPoPP 2016) and Correia & Ramalhete's
//!   FAAArrayQueue, in `segmented.rs`; no allocation per item, segments reclaimed through `R`.
//! * [`QueueMode::LockFree`]: Michael & Scott's non-blocking queue (PODC 1996), in
//!   `michael_scott.rs`; old sentinels are reclaimed through `R` (epochs by default).
//! * [`QueueMode::Locked`]: Michael & Scott's two-lock queue from the same paper, in
//!   `two_lock.rs`; a producer and a consumer never contend.
//!
//! The Michael–Scott queues link a sentinel-headed list; shutdown writes a *closed mark* where
//! the next push would link, so it is linearizable with pushes: a push succeeds exactly when it
//! linked before the mark, and a graceful pop that reaches the mark has drained every
//! successful push. The segmented queue marks its last segment's `next` and its tail ticket
//! counter, with the same effect (see its module doc).
//!
//! # Blocking
//! A popper that finds the queue empty spins briefly, then sleeps on an
//! [`EventCount`](crate::event_count): it announces itself, re-checks and parks. Every mode's
//! push makes its item visible with a `SeqCst` read-modify-write (the ticket, or the linking
//! CAS) or, in the two-lock queue, a `SeqCst` store, and every pop re-checks emptiness with
//! `SeqCst` loads; so a push then reads the sleeper count with one load, no fence, and touches
//! no lock while nobody sleeps. The event count's module doc proves that no wake-up is lost,
//! and a push that finds a sleeper wakes exactly one, outside any lock. Timeouts are deadlines fixed
//! at the call: spurious or foreign wake-ups re-check and sleep for the rest only. A pop that
//! times out has reserved nothing, so an item landing at that moment stays for a later pop.
//!
//! # Invariants
//! 1. Every value whose push returned `Ok` is linked before the closed mark and is taken by
//!    exactly one pop or `take_remaining`; values never taken are dropped with the queue.
//! 2. After `shutdown(true)` no pop returns a value; `take_remaining` still drains.
//! 3. Values pushed by one thread are popped in that thread's order (FIFO per producer).
//!
//! # Progress
//! `Segmented` and `LockFree`: `push`, `try_pop`, `take_remaining`, `len` are lock-free.
//! `Locked`: blocking.
//! `pop` and `pop_timeout` block by design while the queue is empty.
//!
//! # Memory orderings
//! Each algorithm's module states its own. Here: the shutdown state is `SeqCst` (rare, and so
//! totally ordered with the event count's fences without further argument).

mod error;
mod michael_scott;
mod node;
mod ring;
mod segmented;
mod std_queue;
mod two_lock;

pub use error::{GetError, PopError, PutError, ShutDown, TaskDoneError};
pub use std_queue::StdConcurrentQueue;

use crate::event_count::EventCount;
use crate::reclaim::{DefaultReclaimer, Reclaimer};
use crate::sync::{AtomicU8, Ordering};
use michael_scott::MsQueue;
use segmented::SegQueue;
use std::fmt;
use std::time::{Duration, Instant};
use two_lock::TwoLockQueue;

/// What a raw queue's pop found.
enum Popped<T> {
    Item(T),
    Empty,
    Closed,
}

/// Which algorithm a [`ConcurrentQueue`] runs.
///
/// ```
/// use concurrency::{ConcurrentQueue, QueueMode};
/// for mode in [QueueMode::Segmented, QueueMode::LockFree, QueueMode::Locked] {
///     let q = ConcurrentQueue::with_mode(mode);
///     q.push(1).unwrap();
///     assert_eq!((q.mode(), q.pop()), (mode, Ok(1)));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QueueMode {
    /// Fetch-and-add tickets into linked segments of inline cells: lock-free push and pop, no
    /// allocation per item. The default.
    #[default]
    Segmented,
    /// Michael & Scott's non-blocking queue: lock-free push and pop.
    LockFree,
    /// Michael & Scott's two-lock queue: one lock per end.
    Locked,
}

/// Shutdown states, in the order they can be reached.
const OPEN: u8 = 0;
/// Pushes fail; pops drain what is left.
const GRACEFUL: u8 = 1;
/// Pushes and pops fail.
const IMMEDIATE: u8 = 2;

#[allow(
    clippy::large_enum_variant,
    reason = "one per queue and never moved on a hot path; boxing would add an indirection to every operation"
)]
enum Raw<T, R: Reclaimer> {
    Segmented(SegQueue<T, R>),
    LockFree(MsQueue<T, R>),
    Locked(TwoLockQueue<T>),
}

/// An unbounded multi-producer multi-consumer FIFO queue with blocking pops and shutdown.
///
/// The algorithms and guarantees are documented at the top of `src/queue/mod.rs`.
///
/// ```
/// use concurrency::{ConcurrentQueue, PopError};
/// use std::time::Duration;
///
/// let jobs = ConcurrentQueue::new();
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         while let Ok(job) = jobs.pop() {
///             println!("working on {job}");
///         }
///     });
///     for job in 0..3 {
///         jobs.push(job).unwrap();
///     }
///     jobs.shutdown(false); // the worker drains the queue, then stops
/// });
/// assert_eq!(jobs.pop_timeout(Duration::from_millis(1)), Err(PopError::ShutDown));
/// ```
pub struct ConcurrentQueue<T, R: Reclaimer = DefaultReclaimer> {
    raw: Raw<T, R>,
    state: AtomicU8,
    poppers: EventCount,
}

impl<T: Send + 'static> ConcurrentQueue<T> {
    /// An empty queue in the default mode, [`QueueMode::Segmented`].
    ///
    /// ```
    /// let q = concurrency::ConcurrentQueue::<u8>::new();
    /// assert!(q.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_mode(QueueMode::default())
    }

    /// An empty queue running `mode`.
    ///
    /// ```
    /// use concurrency::{ConcurrentQueue, QueueMode};
    /// let q = ConcurrentQueue::with_mode(QueueMode::Locked);
    /// q.push(1).unwrap();
    /// assert_eq!(q.pop(), Ok(1));
    /// ```
    pub fn with_mode(mode: QueueMode) -> Self {
        Self::with_mode_and_reclaimer(mode)
    }
}

impl<T: Send + 'static> Default for ConcurrentQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static, R: Reclaimer> ConcurrentQueue<T, R> {
    /// An empty queue running `mode`, reclaiming (in the lock-free modes) through `R`.
    ///
    /// ```
    /// use concurrency::{reclaim::HazardPointers, ConcurrentQueue, QueueMode};
    /// let q = ConcurrentQueue::<_, HazardPointers>::with_mode_and_reclaimer(QueueMode::LockFree);
    /// q.push("a").unwrap();
    /// assert_eq!(q.try_pop(), Ok("a"));
    /// ```
    pub fn with_mode_and_reclaimer(mode: QueueMode) -> Self {
        let raw = match mode {
            QueueMode::Segmented => Raw::Segmented(SegQueue::new()),
            QueueMode::LockFree => Raw::LockFree(MsQueue::new()),
            QueueMode::Locked => Raw::Locked(TwoLockQueue::new()),
        };
        Self {
            raw,
            state: AtomicU8::new(OPEN),
            poppers: EventCount::default(),
        }
    }

    /// The algorithm this queue runs.
    ///
    /// ```
    /// use concurrency::{ConcurrentQueue, QueueMode};
    /// assert_eq!(ConcurrentQueue::<u8>::new().mode(), QueueMode::Segmented);
    /// ```
    pub fn mode(&self) -> QueueMode {
        match self.raw {
            Raw::Segmented(_) => QueueMode::Segmented,
            Raw::LockFree(_) => QueueMode::LockFree,
            Raw::Locked(_) => QueueMode::Locked,
        }
    }

    /// Appends `value`, waking a sleeping popper if there is one.
    ///
    /// # Errors
    /// After [`shutdown`](Self::shutdown) the value is handed back in [`ShutDown`].
    ///
    /// ```
    /// let q = concurrency::ConcurrentQueue::new();
    /// q.push(String::from("job")).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn push(&self, value: T) -> Result<(), ShutDown<T>> {
        let pushed = match &self.raw {
            Raw::Segmented(q) => q.push(value),
            Raw::LockFree(q) => q.push(value),
            Raw::Locked(q) => q.push(value),
        };
        pushed.map_err(ShutDown)?;
        // Every mode made the value visible with a SeqCst RMW or store (see "Blocking").
        self.poppers.notify_one_after_seqcst();
        Ok(())
    }

    /// Removes the oldest value without waiting.
    ///
    /// # Errors
    /// [`PopError::Empty`] if there is none; [`PopError::ShutDown`] after an immediate shutdown,
    /// or after a graceful one once the queue is drained.
    ///
    /// ```
    /// use concurrency::{ConcurrentQueue, PopError};
    /// let q = ConcurrentQueue::new();
    /// assert_eq!(q.try_pop(), Err(PopError::Empty));
    /// q.push(1).unwrap();
    /// assert_eq!(q.try_pop(), Ok(1));
    /// ```
    pub fn try_pop(&self) -> Result<T, PopError> {
        // SeqCst: see "Memory orderings".
        if self.state.load(Ordering::SeqCst) == IMMEDIATE {
            return Err(PopError::ShutDown);
        }
        match self.raw_pop() {
            Popped::Item(value) => Ok(value),
            Popped::Empty => Err(PopError::Empty),
            Popped::Closed => Err(PopError::ShutDown),
        }
    }

    /// Removes the oldest value, sleeping until one arrives.
    ///
    /// # Errors
    /// [`ShutDown`] after an immediate shutdown, or after a graceful one once the queue is
    /// drained; a popper asleep at that moment wakes.
    ///
    /// ```
    /// let q = concurrency::ConcurrentQueue::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| q.push(5).unwrap());
    ///     assert_eq!(q.pop(), Ok(5));
    /// });
    /// ```
    pub fn pop(&self) -> Result<T, ShutDown> {
        self.pop_until(None).map_err(|_| ShutDown(()))
    }

    /// Like [`pop`](Self::pop), but gives up after `timeout` (a deadline fixed at the call).
    ///
    /// # Errors
    /// [`PopError::Empty`] when the time is up; [`PopError::ShutDown`] as for `pop`.
    ///
    /// ```
    /// use concurrency::{ConcurrentQueue, PopError};
    /// use std::time::Duration;
    /// let q = ConcurrentQueue::<u8>::new();
    /// assert_eq!(q.pop_timeout(Duration::from_millis(5)), Err(PopError::Empty));
    /// ```
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T, PopError> {
        // A timeout too large to represent waits forever.
        self.pop_until(Instant::now().checked_add(timeout))
    }

    fn pop_until(&self, deadline: Option<Instant>) -> Result<T, PopError> {
        wait_for_item(
            &self.poppers,
            deadline,
            || self.hold_guard(),
            || self.try_pop(),
        )
    }

    /// Shuts the queue down: pushes fail from now on. Graceful (`immediate == false`): pops
    /// drain what is left, then fail. Immediate: pops fail at once. Either way every sleeping
    /// popper wakes. Values left behind can be taken with
    /// [`take_remaining`](Self::take_remaining). Calling it again can only make a graceful
    /// shutdown immediate.
    ///
    /// ```
    /// use concurrency::{ConcurrentQueue, PopError};
    /// let q = ConcurrentQueue::new();
    /// q.push(1).unwrap();
    /// q.shutdown(true);
    /// assert_eq!(q.try_pop(), Err(PopError::ShutDown));
    /// assert_eq!(q.take_remaining(), [1]);
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        if immediate {
            // SeqCst: see "Memory orderings".
            self.state.store(IMMEDIATE, Ordering::SeqCst);
        } else {
            // SeqCst: see "Memory orderings". Failure: already shut down, nothing to change.
            let _ = self
                .state
                .compare_exchange(OPEN, GRACEFUL, Ordering::SeqCst, Ordering::SeqCst);
        }
        match &self.raw {
            Raw::Segmented(q) => q.close(),
            Raw::LockFree(q) => q.close(),
            Raw::Locked(q) => q.close(),
        }
        self.poppers.notify_all();
    }

    /// Removes and returns every value still in the queue, oldest first. Works in any state,
    /// also after an immediate shutdown; a second call returns what arrived since.
    ///
    /// ```
    /// let q = concurrency::ConcurrentQueue::new();
    /// q.push('a').unwrap();
    /// q.push('b').unwrap();
    /// assert_eq!(q.take_remaining(), ['a', 'b']);
    /// assert!(q.take_remaining().is_empty());
    /// ```
    pub fn take_remaining(&self) -> Vec<T> {
        let mut remaining = Vec::new();
        while let Popped::Item(value) = self.raw_pop() {
            remaining.push(value);
        }
        remaining
    }

    /// The number of values: exact when nothing runs concurrently, a snapshot otherwise.
    ///
    /// ```
    /// let q = concurrency::ConcurrentQueue::new();
    /// q.push(()).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        match &self.raw {
            Raw::Segmented(q) => q.len(),
            Raw::LockFree(q) => q.len(),
            Raw::Locked(q) => q.len(),
        }
    }

    /// Whether [`len`](Self::len) is zero.
    ///
    /// ```
    /// assert!(concurrency::ConcurrentQueue::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    ///
    /// ```
    /// let q = concurrency::ConcurrentQueue::<u8>::new();
    /// q.shutdown(false);
    /// assert!(q.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        // SeqCst: see "Memory orderings".
        self.state.load(Ordering::SeqCst) != OPEN
    }

    /// Whether a pop could find a value now, by the emptiness test of `try_pop` and its
    /// `SeqCst` loads (unlike [`is_empty`](Self::is_empty), a snapshot of the counters): for a
    /// waiter that hands a wake-up over to another (`crate::event_count`, searching).
    pub(crate) fn has_values(&self) -> bool {
        match &self.raw {
            Raw::Segmented(q) => q.has_values(),
            Raw::LockFree(q) => q.has_values(),
            Raw::Locked(q) => q.has_values(),
        }
    }

    /// A guard of the queue's reclaimer, for a caller about to retry `try_pop` in a spin (see
    /// [`EventCount::wait_until_holding`]). `None` for the locked mode, which has no reclaimer.
    pub(crate) fn hold_guard(&self) -> Option<R::Guard<'_>> {
        match &self.raw {
            Raw::Segmented(q) => Some(q.guard()),
            Raw::LockFree(q) => Some(q.guard()),
            Raw::Locked(_) => None,
        }
    }

    fn raw_pop(&self) -> Popped<T> {
        match &self.raw {
            Raw::Segmented(q) => q.try_pop(),
            Raw::LockFree(q) => q.try_pop(),
            Raw::Locked(q) => q.try_pop(),
        }
    }
}

/// Retries `try_pop` until it finds an item or a shutdown, sleeping on `events` while it finds
/// the queue empty; `Empty` once `deadline` (if any) passed.
/// `hold` is kept alive while it spins (see [`EventCount::wait_until_holding`]).
fn wait_for_item<T, H>(
    events: &EventCount,
    deadline: Option<Instant>,
    hold: impl FnOnce() -> H,
    mut try_pop: impl FnMut() -> Result<T, PopError>,
) -> Result<T, PopError> {
    let attempt = || match try_pop() {
        Err(PopError::Empty) => None,
        done => Some(done),
    };
    events
        .wait_until_holding(deadline, hold, attempt)
        .unwrap_or(Err(PopError::Empty))
}

impl<T: Send + 'static, R: Reclaimer> fmt::Debug for ConcurrentQueue<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentQueue")
            .field("mode", &self.mode())
            .field("len", &self.len())
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
