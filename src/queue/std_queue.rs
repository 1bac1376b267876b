//! `StdConcurrentQueue`: Python's `queue.Queue` contract on the crate's queues.
//!
//! # Algorithm
//! A bounded queue of up to [`MAX_RING_SLOTS`] values is a ring of exactly `maxsize` cells
//! with per-cell sequence stamps (Vyukov's bounded MPMC queue, in `ring.rs`): the ring *is*
//! the bound. An unbounded queue, or one whose bound is too large to allocate up front, keeps
//! its values in the segmented [`ConcurrentQueue`], with a slot counter for a bound
//! (`std_queue/linked.rs`).
//!
//! Tasks are counted as `puts − done`: `done` counts `task_done` calls and the values an
//! immediate shutdown discarded; `puts`, the successful puts, is the ring's `tail` turned into
//! a count (so a put and a get on the ring touch no counter at all), or the linked storage's
//! counter, raised before the value becomes visible. `task_done` raises `done` only while
//! it is below `puts`; `join` sleeps until it is not.
//!
//! Getters, putters and joiners sleep on [`EventCount`](crate::event_count)s. A successful put
//! claims its position (or pushes) with a `SeqCst` RMW and a get frees its cell (or slot) with
//! one, every sleeper's re-check reads those locations with `SeqCst` loads, and `task_done`
//! raises `done` with a `SeqCst` CAS: so each notify is one load while nobody sleeps.
//!
//! # Invariants
//! 1. Values in the queue never exceed `maxsize`: the ring has `maxsize` cells, and the slot
//!    counter never exceeds the bound and is taken before a value is pushed.
//! 2. `done ≤ puts`, and a put counts in `puts` before its value can be got, so `task_done`
//!    never runs ahead of the values put.
//!
//! # Linearizability
//! * The ring (every bound up to [`MAX_RING_SLOTS`]): against a plain bounded FIFO queue of
//!   `maxsize` values, including `put_nowait`'s `Full` and `get_nowait`'s `Empty` (the proof is
//!   in `ring.rs`): with only putters, exactly `maxsize` `put_nowait`s succeed, and a refused
//!   one found `maxsize` values in the queue. The stress binary checks this against the plain
//!   bounded FIFO (`stress/std_queue.rs`).
//! * The linked storage with a bound: against a FIFO whose bound counts *slots*: a put takes
//!   its slot before its value becomes visible and a get frees its slot after its value
//!   stopped being visible, so while one of them is in progress `put_nowait` may be refused as
//!   full with fewer than `maxsize` values visible. Values form one FIFO order and the bound is
//!   never exceeded.
//!
//! # Progress
//! On the ring, `put_nowait` and `get_nowait` wait only for an operation that claimed the same
//! cell and has not finished with it (two stores): see `ring.rs`, which explains why a
//! linearizable bounded FIFO pays that. On the linked storage they are lock-free. `task_done`,
//! `qsize`, `full` are lock-free; `put` on a full queue, `get` on an empty one and `join` block
//! by design, sleeping (no polling).
//!
//! # Reclamation
//! None for the ring (values inline, cells allocated once); that of the segmented queue (`R`,
//! epochs by default) for the linked storage.
//!
//! # Memory orderings
//! Values are published by the storage. The task counts carry no data; their `SeqCst` reads
//! and CAS are what the joiners' fence-free notify pairs with.

mod linked;

use self::linked::{Linked, Reservation};
use super::ring::{Refused, Ring};
use super::{wait_for_item, GetError, PopError, Popped, PutError, TaskDoneError};
use crate::event_count::EventCount;
use crate::reclaim::{DefaultReclaimer, Reclaimer};
use crate::sync::{AtomicBool, AtomicUsize, CachePadded, Ordering};
use std::fmt;
use std::time::{Duration, Instant};

/// The largest bound kept in a ring, allocated up front (a cell is `size_of::<T>()` plus 8
/// bytes, rounded to `T`'s alignment): 65,536 cells, 1 MiB for 8-byte values. A larger bound
/// keeps the values in the segmented queue, which allocates as they arrive.
const MAX_RING_SLOTS: usize = 1 << 16;

/// Where the values are.
#[allow(
    clippy::large_enum_variant,
    reason = "one per queue, never moved once built: a box would cost a pointer chase per operation"
)]
enum Storage<T, R: Reclaimer> {
    Ring(Ring<T>),
    Linked(Linked<T, R>),
}

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
    storage: Storage<T, R>,
    maxsize: usize,
    /// `task_done` calls plus values an immediate shutdown discarded (invariant 2).
    done: CachePadded<AtomicUsize>,
    /// Set by an immediate shutdown: gets fail and `join` returns.
    released: AtomicBool,
    getters: EventCount,
    putters: EventCount,
    joiners: EventCount,
}

impl<T: Send + 'static> StdConcurrentQueue<T> {
    /// A queue holding at most `maxsize` values; `0` means unbounded. A bound of up to 65,536
    /// is a ring of `maxsize` cells allocated here; a larger one allocates as values arrive.
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
        let storage = if (1..=MAX_RING_SLOTS).contains(&maxsize) {
            Storage::Ring(Ring::new(maxsize))
        } else {
            Storage::Linked(Linked::new(maxsize))
        };
        Self {
            storage,
            maxsize,
            done: CachePadded::new(AtomicUsize::new(0)),
            released: AtomicBool::new(false),
            getters: EventCount::default(),
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
    #[inline]
    fn put_inner(&self, value: T, wait: Option<Option<Instant>>) -> Result<(), PutError<T>> {
        match self.try_put(value) {
            Ok(()) => Ok(()),
            Err(Refused::Closed(refused)) => Err(PutError::ShutDown(refused)),
            Err(Refused::Full(refused)) => match wait {
                None => Err(PutError::Full(refused)),
                Some(deadline) => self.wait_for_room(refused, deadline),
            },
        }
    }

    /// The slow path of `put_inner`, out of line: the queue was full.
    #[cold]
    #[inline(never)]
    fn wait_for_room(&self, mut value: T, deadline: Option<Instant>) -> Result<(), PutError<T>> {
        loop {
            let room = || self.has_room_or_closed().then_some(());
            if self.putters.wait_until(deadline, room).is_none() {
                return Err(PutError::Full(value));
            }
            match self.try_put(value) {
                Ok(()) => return Ok(()),
                Err(Refused::Closed(refused)) => return Err(PutError::ShutDown(refused)),
                Err(Refused::Full(refused)) => value = refused,
            }
        }
    }

    /// Puts `value` if there is room, and wakes a getter.
    #[inline]
    fn try_put(&self, value: T) -> Result<(), Refused<T>> {
        match &self.storage {
            Storage::Ring(ring) => ring.try_push(value)?,
            Storage::Linked(linked) => {
                match linked.reserve() {
                    Reservation::Taken => {}
                    Reservation::Full => return Err(Refused::Full(value)),
                    Reservation::Closed => return Err(Refused::Closed(value)),
                }
                if let Err(refused) = linked.push(value) {
                    // An early `task_done` from the user may have taken this put's count.
                    let _ = self.finish_tasks(1);
                    return Err(Refused::Closed(refused));
                }
            }
        }
        // Both storages made the value visible with a SeqCst RMW, and getters re-check with
        // SeqCst loads (module doc).
        self.getters.notify_one_after_seqcst();
        Ok(())
    }

    fn has_room_or_closed(&self) -> bool {
        match &self.storage {
            Storage::Ring(ring) => ring.has_room_or_closed(),
            Storage::Linked(linked) => linked.has_room_or_closed(),
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
        self.get_until(None)
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
        self.get_until(Instant::now().checked_add(timeout))
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
        self.try_get().map_err(GetError::from)
    }

    #[inline]
    fn get_until(&self, deadline: Option<Instant>) -> Result<T, GetError> {
        match self.try_get() {
            Err(PopError::Empty) => self.wait_for_value(deadline),
            done => done.map_err(GetError::from),
        }
    }

    /// The slow path of `get_until`, out of line: the queue was empty.
    #[cold]
    #[inline(never)]
    fn wait_for_value(&self, deadline: Option<Instant>) -> Result<T, GetError> {
        wait_for_item(&self.getters, deadline, || (), || self.try_get()).map_err(GetError::from)
    }

    /// Gets the oldest value if there is one, and wakes a putter.
    #[inline]
    fn try_get(&self) -> Result<T, PopError> {
        // SeqCst: the shutdown state, rare, is totally ordered with everything else.
        if self.released.load(Ordering::SeqCst) {
            return Err(PopError::ShutDown);
        }
        let popped = match &self.storage {
            Storage::Ring(ring) => ring.try_pop(),
            Storage::Linked(linked) => linked.try_pop(),
        };
        match popped {
            Popped::Item(value) => {
                // Both storages freed the room with a SeqCst RMW, and putters re-check with
                // SeqCst loads (module doc).
                self.putters.notify_one_after_seqcst();
                Ok(value)
            }
            Popped::Empty => Err(PopError::Empty),
            Popped::Closed => Err(PopError::ShutDown),
        }
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
        match &self.storage {
            Storage::Ring(ring) => ring.len(),
            Storage::Linked(linked) => linked.len(),
        }
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
        match &self.storage {
            Storage::Ring(ring) => ring.len() >= self.maxsize,
            Storage::Linked(linked) => linked.is_full(),
        }
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

    /// Puts counted so far (invariant 2).
    fn puts(&self) -> usize {
        match &self.storage {
            Storage::Ring(ring) => ring.pushed(),
            Storage::Linked(linked) => linked.pushed(),
        }
    }

    /// Marks up to `n` unfinished tasks done and wakes `join` if none is left; `Err` if none
    /// was unfinished.
    fn finish_tasks(&self, n: usize) -> Result<(), TaskDoneError> {
        // Relaxed: a first guess for the CAS, which checks it.
        let mut done = self.done.load(Ordering::Relaxed);
        loop {
            let puts = self.puts();
            if done >= puts {
                return Err(TaskDoneError);
            }
            let finished = done.saturating_add(n).min(puts);
            // SeqCst on success: the RMW the joiners' fence-free notify pairs with (`join`
            // re-checks with SeqCst loads). Relaxed on failure: retried with the fresh count.
            match self.done.compare_exchange_weak(
                done,
                finished,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if finished == puts {
                        self.joiners.notify_all_after_seqcst();
                    }
                    return Ok(());
                }
                Err(now) => done = now,
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
            // SeqCst, all: the re-check the joiners' fence-free notify pairs with. `done`
            // before `puts`: both only grow, so `done ≥ puts` seen in this order held at the
            // second read.
            let released = self.released.load(Ordering::SeqCst);
            (released || self.done.load(Ordering::SeqCst) >= self.puts()).then_some(())
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
        if immediate {
            // SeqCst: see "Memory orderings" of `try_get`.
            self.released.store(true, Ordering::SeqCst);
        }
        let discarded = match &self.storage {
            Storage::Ring(ring) => {
                ring.close();
                let mut discarded = Vec::new();
                if immediate {
                    while let Popped::Item(value) = ring.try_pop() {
                        discarded.push(value);
                    }
                }
                discarded
            }
            Storage::Linked(linked) => {
                linked.close(immediate);
                if immediate {
                    linked.take_remaining()
                } else {
                    Vec::new()
                }
            }
        };
        if immediate {
            // Zero left already only if the user called `task_done` early: nothing to lower.
            let _ = self.finish_tasks(discarded.len());
            self.joiners.notify_all();
        }
        self.getters.notify_all();
        self.putters.notify_all();
        // Last, after every waiter was told: a value's drop may panic.
        drop(discarded);
    }

    fn is_shutdown(&self) -> bool {
        match &self.storage {
            Storage::Ring(ring) => ring.is_closed(),
            Storage::Linked(linked) => linked.is_closed(),
        }
    }
}

impl<T: Send + 'static, R: Reclaimer> fmt::Debug for StdConcurrentQueue<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdConcurrentQueue")
            .field("qsize", &self.qsize())
            .field("maxsize", &self.maxsize)
            // Relaxed: a diagnostic snapshot.
            .field(
                "unfinished",
                &self
                    .puts()
                    .saturating_sub(self.done.load(Ordering::Relaxed)),
            )
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
