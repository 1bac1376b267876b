//! `StdConcurrentQueue`: Python's `queue.Queue` contract on the lock-free queue.
//!
//! # Algorithm
//! Values travel through a lock-free [`ConcurrentQueue`] (which also gives the sleeping `get`).
//! A bounded queue adds a *slot counter*: a put first reserves a slot with a CAS that never
//! takes the counter past `maxsize`, then pushes; a get pops, then releases the slot and wakes
//! one putter waiting for room. Unfinished tasks are a second counter, raised before a value
//! becomes visible and lowered by `task_done`; `join` sleeps until it reaches zero.
//!
//! # Invariants
//! 1. `slots` never exceeds `maxsize`, and values in the queue ≤ `slots`: so `qsize()` never
//!    exceeds `maxsize`, and with only putters exactly `maxsize` `put_nowait` calls succeed.
//! 2. `unfinished` = successful puts − `task_done` calls − values an immediate shutdown
//!    discarded; it is raised before the value can be got, so `task_done` never runs ahead.
//!
//! # Linearizability
//! Against a FIFO queue whose bound counts *slots*, not visible values: a put takes its slot
//! before its value becomes visible, and a get frees its slot after its value stopped being
//! visible. So while a put or get is in progress, `put_nowait` may be refused as full (and
//! `full()` say so) with fewer than `maxsize` values visible to gets. Values themselves are
//! one FIFO order, and the bound is never exceeded. The stress binary checks exactly this
//! (`stress/std_queue.rs`); against a plain bounded queue it finds the difference within
//! seconds.
//!
//! # Progress
//! `put_nowait`, `get_nowait`, `task_done`, `qsize`, `full` are lock-free; `put` on a full
//! queue, `get` on an empty one and `join` block by design (sleeping in a
//! [`EventCount`](crate::event_count), no polling).
//!
//! # Reclamation
//! That of the underlying lock-free queue (`R`, epochs by default).
//!
//! # Memory orderings
//! The counters carry no data (values are published by the queue), so their updates are
//! `Relaxed` except where noted; the event counts' fences order them against sleepers.

use super::{ConcurrentQueue, GetError, PopError, PutError, QueueMode, TaskDoneError};
use crate::event_count::EventCount;
use crate::reclaim::{DefaultReclaimer, Reclaimer};
use crate::sync::{AtomicBool, AtomicUsize, CachePadded, Ordering};
use std::fmt;
use std::time::{Duration, Instant};

/// A FIFO queue with Python's `queue.Queue` contract: optional strict bound, blocking and
/// non-blocking puts and gets with timeouts, `task_done`/`join`, and shutdown.
///
/// ```
/// use concurrency::StdConcurrentQueue;
///
/// let q = StdConcurrentQueue::new(2); // at most two values at a time
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         while let Ok(job) = q.get() {
///             println!("done {job}");
///             q.task_done().unwrap();
///         }
///     });
///     for job in 0..10 {
///         q.put(job).unwrap(); // waits while two are queued
///     }
///     q.join(); // every job was got and marked done
///     q.shutdown(false);
/// });
/// ```
pub struct StdConcurrentQueue<T, R: Reclaimer = DefaultReclaimer> {
    values: ConcurrentQueue<T, R>,
    maxsize: usize,
    /// Values in the queue plus puts that reserved a slot and have not pushed yet (bounded
    /// queues only).
    slots: CachePadded<AtomicUsize>,
    /// Successful puts not yet marked done (invariant 2).
    unfinished: CachePadded<AtomicUsize>,
    /// Set by an immediate shutdown: releases `join`.
    released: AtomicBool,
    putters: EventCount,
    joiners: EventCount,
}

impl<T: Send + 'static> StdConcurrentQueue<T> {
    /// A queue holding at most `maxsize` values; `0` means unbounded.
    ///
    /// ```
    /// let q = concurrency::StdConcurrentQueue::<u8>::new(0);
    /// assert_eq!(q.maxsize(), 0);
    /// ```
    pub fn new(maxsize: usize) -> Self {
        Self::with_reclaimer(maxsize)
    }
}

impl<T: Send + 'static, R: Reclaimer> StdConcurrentQueue<T, R> {
    /// A queue holding at most `maxsize` values (`0`: unbounded), reclaiming through `R`.
    ///
    /// ```
    /// use concurrency::{reclaim::HazardPointers, StdConcurrentQueue};
    /// let q = StdConcurrentQueue::<u8, HazardPointers>::with_reclaimer(4);
    /// q.put(1).unwrap();
    /// assert_eq!(q.get(), Ok(1));
    /// ```
    pub fn with_reclaimer(maxsize: usize) -> Self {
        Self {
            values: ConcurrentQueue::with_mode_and_reclaimer(QueueMode::Segmented),
            maxsize,
            slots: CachePadded::new(AtomicUsize::new(0)),
            unfinished: CachePadded::new(AtomicUsize::new(0)),
            released: AtomicBool::new(false),
            putters: EventCount::default(),
            joiners: EventCount::default(),
        }
    }

    /// Puts `value`, sleeping while the queue is full.
    ///
    /// # Errors
    /// [`PutError::ShutDown`] with the value, if the queue is or gets shut down.
    ///
    /// ```
    /// let q = concurrency::StdConcurrentQueue::new(1);
    /// q.put("a").unwrap();
    /// assert_eq!(q.qsize(), 1);
    /// ```
    pub fn put(&self, value: T) -> Result<(), PutError<T>> {
        self.put_inner(value, Some(None))
    }

    /// Like [`put`](Self::put), but gives up after `timeout` (a deadline fixed at the call).
    ///
    /// # Errors
    /// [`PutError::Full`] when the time is up; [`PutError::ShutDown`] as for `put`.
    ///
    /// ```
    /// use concurrency::{PutError, StdConcurrentQueue};
    /// use std::time::Duration;
    /// let q = StdConcurrentQueue::new(1);
    /// q.put(1).unwrap();
    /// let refused = q.put_timeout(2, Duration::from_millis(5)).unwrap_err();
    /// assert!(matches!(refused, PutError::Full(2)));
    /// ```
    pub fn put_timeout(&self, value: T, timeout: Duration) -> Result<(), PutError<T>> {
        // A timeout too large to represent waits forever.
        self.put_inner(value, Some(Instant::now().checked_add(timeout)))
    }

    /// Puts `value` only if there is room right now.
    ///
    /// # Errors
    /// [`PutError::Full`] if the queue is full; [`PutError::ShutDown`] after shutdown.
    ///
    /// ```
    /// use concurrency::{PutError, StdConcurrentQueue};
    /// let q = StdConcurrentQueue::new(2);
    /// assert!(q.put_nowait(1).is_ok() && q.put_nowait(2).is_ok());
    /// assert_eq!(q.put_nowait(3).unwrap_err().into_inner(), 3);
    /// ```
    pub fn put_nowait(&self, value: T) -> Result<(), PutError<T>> {
        self.put_inner(value, None)
    }

    /// `wait`: `None` for no waiting, `Some(deadline)` to sleep until the deadline (if any).
    fn put_inner(&self, value: T, wait: Option<Option<Instant>>) -> Result<(), PutError<T>> {
        if self.values.is_shutdown() {
            return Err(PutError::ShutDown(value));
        }
        if self.maxsize > 0 {
            let attempt = || {
                if self.values.is_shutdown() {
                    Some(false)
                } else {
                    self.try_reserve_slot().then_some(true)
                }
            };
            let reserved = match wait {
                None => attempt(),
                Some(deadline) => self.putters.wait_until(deadline, attempt),
            };
            match reserved {
                Some(true) => {}
                Some(false) => return Err(PutError::ShutDown(value)),
                None => return Err(PutError::Full(value)),
            }
        }
        // Relaxed: a counter; the value it counts is published by the push below.
        self.unfinished.fetch_add(1, Ordering::Relaxed);
        if let Err(refused) = self.values.push(value) {
            self.release_slot();
            // An early `task_done` from the user may have taken this put's count already.
            let _ = self.finish_tasks(1);
            return Err(PutError::ShutDown(refused.into_inner()));
        }
        Ok(())
    }

    /// Takes a slot if fewer than `maxsize` are taken (invariant 1).
    fn try_reserve_slot(&self) -> bool {
        // Relaxed: the slot count carries no data; the CAS keeps it within the bound.
        let mut taken = self.slots.load(Ordering::Relaxed);
        while taken < self.maxsize {
            // Relaxed, both: as above.
            match self.slots.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::Relaxed, // the slot count publishes no data
                Ordering::Relaxed, // a failure retries with the fresh count
            ) {
                Ok(_) => return true,
                Err(now) => taken = now,
            }
        }
        false
    }

    /// Gives a slot back and wakes a putter waiting for room.
    fn release_slot(&self) {
        if self.maxsize > 0 {
            // Relaxed: ordered before the sleeper check by the event count's fence.
            self.slots.fetch_sub(1, Ordering::Relaxed);
            self.putters.notify_one();
        }
    }

    /// Gets the oldest value, sleeping while the queue is empty.
    ///
    /// # Errors
    /// [`GetError::ShutDown`] after an immediate shutdown, or a graceful one once drained.
    ///
    /// ```
    /// let q = concurrency::StdConcurrentQueue::new(0);
    /// q.put(4).unwrap();
    /// assert_eq!(q.get(), Ok(4));
    /// ```
    pub fn get(&self) -> Result<T, GetError> {
        self.got(self.values.pop_until(None))
    }

    /// Like [`get`](Self::get), but gives up after `timeout` (a deadline fixed at the call).
    ///
    /// # Errors
    /// [`GetError::Empty`] when the time is up; [`GetError::ShutDown`] as for `get`.
    ///
    /// ```
    /// use concurrency::{GetError, StdConcurrentQueue};
    /// use std::time::Duration;
    /// let q = StdConcurrentQueue::<u8>::new(0);
    /// assert_eq!(q.get_timeout(Duration::from_millis(5)), Err(GetError::Empty));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        // A timeout too large to represent waits forever.
        self.got(self.values.pop_until(Instant::now().checked_add(timeout)))
    }

    /// Gets the oldest value only if there is one right now.
    ///
    /// # Errors
    /// [`GetError::Empty`] if there is none; [`GetError::ShutDown`] as for `get`.
    ///
    /// ```
    /// use concurrency::{GetError, StdConcurrentQueue};
    /// let q = StdConcurrentQueue::<u8>::new(0);
    /// assert_eq!(q.get_nowait(), Err(GetError::Empty));
    /// ```
    pub fn get_nowait(&self) -> Result<T, GetError> {
        self.got(self.values.try_pop())
    }

    fn got(&self, popped: Result<T, PopError>) -> Result<T, GetError> {
        let value = popped?;
        self.release_slot();
        Ok(value)
    }

    /// The number of values in the queue: exact when nothing runs concurrently, a snapshot
    /// otherwise, and never more than `maxsize`.
    ///
    /// ```
    /// let q = concurrency::StdConcurrentQueue::new(3);
    /// q.put(()).unwrap();
    /// assert_eq!(q.qsize(), 1);
    /// ```
    pub fn qsize(&self) -> usize {
        self.values.len()
    }

    /// Whether [`qsize`](Self::qsize) is zero.
    ///
    /// ```
    /// assert!(concurrency::StdConcurrentQueue::<u8>::new(1).empty());
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether a `put_nowait` would find no room right now (never, when unbounded).
    ///
    /// ```
    /// let q = concurrency::StdConcurrentQueue::new(1);
    /// q.put(1).unwrap();
    /// assert!(q.full());
    /// ```
    pub fn full(&self) -> bool {
        // Relaxed: a snapshot.
        self.maxsize > 0 && self.slots.load(Ordering::Relaxed) >= self.maxsize
    }

    /// The bound given at construction (`0`: unbounded).
    ///
    /// ```
    /// assert_eq!(concurrency::StdConcurrentQueue::<u8>::new(8).maxsize(), 8);
    /// ```
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// Marks one value that was got as processed, releasing [`join`](Self::join) when none is
    /// left.
    ///
    /// # Errors
    /// [`TaskDoneError`] when called more often than values were put.
    ///
    /// ```
    /// use concurrency::{StdConcurrentQueue, TaskDoneError};
    /// let q = StdConcurrentQueue::new(0);
    /// q.put(1).unwrap();
    /// q.get().unwrap();
    /// assert_eq!(q.task_done(), Ok(()));
    /// assert_eq!(q.task_done(), Err(TaskDoneError));
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        self.finish_tasks(1)
    }

    /// Lowers the unfinished count by up to `n` and wakes `join` if it reached zero.
    fn finish_tasks(&self, n: usize) -> Result<(), TaskDoneError> {
        // Relaxed: a counter; `join` is ordered by the event count's fences.
        let mut left = self.unfinished.load(Ordering::Relaxed);
        loop {
            if left == 0 {
                return Err(TaskDoneError);
            }
            let lowered = left.saturating_sub(n);
            // Relaxed, both: as above.
            match self.unfinished.compare_exchange_weak(
                left,
                lowered,
                Ordering::Relaxed, // the task count publishes no data
                Ordering::Relaxed, // a failure retries with the fresh count
            ) {
                Ok(_) if lowered == 0 => {
                    self.joiners.notify_all();
                    return Ok(());
                }
                Ok(_) => return Ok(()),
                Err(now) => left = now,
            }
        }
    }

    /// Sleeps until every value put so far was marked done with
    /// [`task_done`](Self::task_done), or the queue was shut down immediately. A graceful
    /// shutdown does not release it.
    ///
    /// ```
    /// let q = concurrency::StdConcurrentQueue::<u8>::new(0);
    /// q.join(); // nothing was put: returns at once
    /// ```
    pub fn join(&self) {
        let settled = || {
            // Acquire: pairs with the Release store in `shutdown`. Relaxed for the counter:
            // ordered by the event count's fences.
            let released = self.released.load(Ordering::Acquire);
            (released || self.unfinished.load(Ordering::Relaxed) == 0).then_some(())
        };
        self.joiners.wait_until(None, settled);
    }

    /// Shuts the queue down. Puts fail from now on and sleeping putters wake. Graceful
    /// (`immediate == false`): gets drain what is left, then fail. Immediate: gets fail at once,
    /// the values left are dropped (and count as done, like Python's), and `join` returns.
    ///
    /// ```
    /// use concurrency::{GetError, StdConcurrentQueue};
    /// let q = StdConcurrentQueue::new(0);
    /// q.put(1).unwrap();
    /// q.shutdown(true);
    /// assert_eq!(q.get(), Err(GetError::ShutDown));
    /// q.join(); // released by the immediate shutdown
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        self.values.shutdown(immediate);
        if immediate {
            // Release: pairs with the Acquire load in `join`.
            self.released.store(true, Ordering::Release);
            let discarded = self.values.take_remaining();
            for _ in &discarded {
                self.release_slot();
            }
            // Zero left already only if the user called `task_done` early: nothing to lower.
            let _ = self.finish_tasks(discarded.len());
            self.joiners.notify_all();
        }
        self.putters.notify_all();
    }
}

impl<T: Send + 'static, R: Reclaimer> fmt::Debug for StdConcurrentQueue<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdConcurrentQueue")
            .field("qsize", &self.qsize())
            .field("maxsize", &self.maxsize)
            // Relaxed: a diagnostic snapshot.
            .field("unfinished", &self.unfinished.load(Ordering::Relaxed))
            .field("shutdown", &self.values.is_shutdown())
            .finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
