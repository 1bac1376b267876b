//! A bounded MPMC ring of per-cell sequence stamps: Vyukov's bounded queue (1024cores.net,
//! "Bounded MPMC queue", 2010), with lap-tagged positions and a closing bit on `tail`.
//!
//! # Algorithm
//! The ring has exactly `capacity` cells. A *position* is `lap * one_lap + index`, where
//! `one_lap` is the smallest power of two above `capacity` and `index < capacity`; `head` is
//! the position of the next pop and `tail` that of the next push. A cell's *stamp* says which
//! operation it waits for: `p` means "free for the push at position `p`", `p + 1` "full, for
//! the pop at position `p`". Cell `i` starts at stamp `i`.
//!
//! A push at position `t` whose cell says `t` claims the position with a CAS of `tail` to the
//! next position, writes its value and stamps the cell `t + 1`. A pop at position `h` whose cell
//! says `h + 1` claims it with a CAS of `head`, reads the value and stamps the cell
//! `h + one_lap`: free for the push one lap later. A push whose cell still holds the value of
//! the previous lap reports the ring full if `head` is a whole lap behind `tail`; a pop whose
//! cell was not yet written at this lap reports it empty if `tail` equals `head`. Otherwise the
//! cell's previous operation claimed its position but has not stamped the cell yet, and the
//! caller waits for it.
//!
//! `close` sets [`CLOSED`] in `tail` with one RMW: every push after it fails (its CAS expects a
//! `tail` without the bit), and a pop that finds the ring empty and the bit set reports it
//! closed. Pushes that claimed a position before it still complete, so values are never lost.
//!
//! # Invariants
//! 1. `head ≤ tail ≤ head + capacity` counted in claimed positions: a push claims `t` only
//!    when its cell was stamped free by the pop of `t − one_lap`, which claimed that position
//!    before, so at most `capacity` positions are claimed and not yet popped.
//! 2. Each position is claimed by exactly one push and one pop, in that order, and the value
//!    is read once: the pop claims `h` only after seeing the stamp `h + 1` that the push of
//!    `h` wrote after writing the value.
//! 3. `tail`'s [`CLOSED`] bit is set once and never cleared; `head` never carries it.
//!
//! # Linearizability
//! Against a plain bounded FIFO queue of `capacity` values (no spurious `Full`): a push takes
//! effect at its `tail` CAS and a pop at its `head` CAS, and values leave in claim order. A
//! `Full` answer read `tail = t` and then a stamp of the previous lap and `head = t − one_lap`
//! (a lap behind): `tail` cannot have moved between the two reads (its next push needs the
//! pop of `t − one_lap` first, which would have moved `head` past that value), so at the
//! `tail` read `capacity` values were in the queue. An `Empty` answer read `head = h`, a
//! stamp not yet written at this lap, and `tail = h`: at that read, nothing was in the queue.
//!
//! # Progress
//! Blocking, in one narrow window: an operation that meets a cell whose previous operation
//! claimed its position but has not stamped it yet (two stores later) waits for that
//! operation, spinning then yielding. Every other step is lock-free: a failed CAS means
//! another operation claimed a position. This is the price of linearizability against the
//! plain bounded FIFO — an operation that skipped such a cell would have to report full or
//! empty while the queue is neither — and crossbeam's `ArrayQueue` and every bounded channel
//! compared in the report pay it too (flume and `std::sync::mpsc` hold a lock there).
//!
//! # Reclamation
//! None needed: the cells are allocated once with the ring and values live inline; the ring
//! drops the values still in it when it is dropped.
//!
//! # Memory orderings
//! * A cell's stamp store is `Release` and the stamp load that decides on it `Acquire`: the
//!   push's store publishes the value to the pop, the pop's store tells the next lap's push
//!   that the value was moved out.
//! * The `tail` and `head` CASes and the loads that decide `Full`, `Empty` or closed are
//!   `SeqCst`: they are what the wake-up layer's fence-free notify pairs with (see
//!   `crate::event_count`, "Why no wake-up is lost"). On x86-64 and AArch64 a `SeqCst` load
//!   costs what an `Acquire` load does, and a CAS what any CAS costs.
//! * The first loads of `head` and `tail` are `Relaxed`: a stale position only makes the CAS
//!   fail or the stamp disagree, and both retry with a fresh load.

use super::Popped;
use crate::sync::{spin_loop, yield_now, AtomicUsize, CachePadded, Ordering, UnsafeCell};
use std::fmt;
use std::mem::MaybeUninit;

/// Set in `tail` by [`Ring::close`] (invariant 3).
const CLOSED: usize = 1 << (usize::BITS - 1);

/// The ordering of a push's stamp store, which publishes its value; the mutant
/// `stamp_without_release` weakens it, for the loom suite to catch.
const STAMP: Ordering = if cfg!(concurrency_mutant = "stamp_without_release") {
    Ordering::Relaxed
} else {
    // Release: pairs with the Acquire stamp load in `try_pop`.
    Ordering::Release
};

/// Rounds of doubling `spin_loop`s before a waiting operation yields its processor.
const SPIN_ROUNDS: u32 = 6;

/// One cell: its stamp and its value, initialized exactly while the stamp says full.
struct Cell<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Why a push was refused; the value comes back.
pub(super) enum Refused<T> {
    Full(T),
    Closed(T),
}

/// A bounded MPMC FIFO ring: see the [module documentation](self).
pub(super) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    cells: Box<[Cell<T>]>,
    /// The smallest power of two above the capacity: the distance of one lap.
    one_lap: usize,
}

// SAFETY: values move between threads through the cells (so `T: Send`), and a value is only
// ever accessed by the one push or pop that claimed its position (invariant 2), never shared.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send`: `&Ring` only moves values in and out, never lends `&T`.
unsafe impl<T: Send> Sync for Ring<T> {}

/// Waits for another thread's store: doubling spins, then yields.
struct Backoff(u32);

impl Backoff {
    fn wait(&mut self) {
        if self.0 < SPIN_ROUNDS {
            for _ in 0..1u32 << self.0 {
                spin_loop();
            }
            self.0 += 1;
        } else {
            yield_now();
        }
    }
}

impl<T> Ring<T> {
    /// A ring of `capacity` cells. `capacity` must be in `1..=usize::MAX / 4`, which the caller
    /// checks.
    pub(super) fn new(capacity: usize) -> Self {
        debug_assert!(capacity > 0 && capacity <= usize::MAX / 4);
        let one_lap = (capacity + 1).next_power_of_two();
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            cells: (0..capacity)
                .map(|index| Cell {
                    stamp: AtomicUsize::new(index),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
            one_lap,
        }
    }

    fn capacity(&self) -> usize {
        self.cells.len()
    }

    /// The cell of `position` and the position after it.
    #[inline]
    fn locate(&self, position: usize) -> (&Cell<T>, usize) {
        let index = position & (self.one_lap - 1);
        let next = if index + 1 < self.capacity() {
            position + 1
        } else {
            (position & !(self.one_lap - 1)) + self.one_lap
        };
        debug_assert!(index < self.capacity());
        // SAFETY: every position has an index below the capacity: positions start at 0 and
        // step by one within a lap, to the next lap's index 0 after `capacity - 1`.
        (unsafe { self.cells.get_unchecked(index) }, next)
    }

    /// How many positions come before `position`.
    fn count(&self, position: usize) -> usize {
        (position / self.one_lap) * self.capacity() + (position & (self.one_lap - 1))
    }

    /// Appends `value` unless the ring is full or closed.
    #[inline]
    pub(super) fn try_push(&self, value: T) -> Result<(), Refused<T>> {
        let mut backoff = Backoff(0);
        // Relaxed: a stale position fails the CAS or the stamp check, which retry.
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & CLOSED != 0 {
                return Err(Refused::Closed(value));
            }
            let (cell, next) = self.locate(tail);
            // Acquire: pairs with the Release stamp store in `try_pop`, after it moved the
            // previous lap's value out.
            let stamp = cell.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // SeqCst: the RMW the getters' fence-free notify pairs with (module doc).
                // Relaxed on failure: the fresh position is retried.
                match self.tail.compare_exchange_weak(
                    tail,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS claimed `tail`, so this thread is the cell's only
                        // writer (invariant 2), and its stamp said the value was moved out.
                        cell.value.with_mut(|slot| unsafe { (*slot).write(value) });
                        // STAMP (Release): pairs with the Acquire stamp load in `try_pop`.
                        cell.stamp.store(tail + 1, STAMP);
                        return Ok(());
                    }
                    Err(now) => tail = now,
                }
                continue;
            }
            if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The previous lap's value is still here. SeqCst: the re-check the putters'
                // fence-free notify pairs with.
                let head = self.head.load(Ordering::SeqCst);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(Refused::Full(value));
                }
            }
            // Another push claimed this position, or the pop of the previous lap did and has
            // not stamped the cell yet.
            backoff.wait();
            // Relaxed: as above.
            tail = self.tail.load(Ordering::Relaxed);
        }
    }

    /// Removes the oldest value, or says the ring is empty (and whether it is closed).
    #[inline]
    pub(super) fn try_pop(&self) -> Popped<T> {
        let mut backoff = Backoff(0);
        // Relaxed: a stale position fails the CAS or the stamp check, which retry.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let (cell, next) = self.locate(head);
            // Acquire: pairs with the Release stamp store in `try_push`, publishing the value.
            let stamp = cell.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                // SeqCst: the RMW the putters' fence-free notify pairs with (module doc).
                // Relaxed on failure: the fresh position is retried.
                match self.head.compare_exchange_weak(
                    head,
                    next,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: the CAS claimed `head`, so this thread is the cell's only
                        // reader (invariant 2), and the stamp (seen with Acquire) says its push
                        // wrote the value.
                        let value = cell
                            .value
                            .with(|slot| unsafe { (*slot).assume_init_read() });
                        // Release: pairs with the Acquire stamp load in `try_push`.
                        cell.stamp.store(head + self.one_lap, Ordering::Release);
                        return Popped::Item(value);
                    }
                    Err(now) => head = now,
                }
                continue;
            }
            if stamp == head {
                // Not written at this lap. SeqCst: the re-check the getters' fence-free
                // notify pairs with.
                let tail = self.tail.load(Ordering::SeqCst);
                if tail & !CLOSED == head {
                    return if tail & CLOSED == 0 {
                        Popped::Empty
                    } else {
                        Popped::Closed
                    };
                }
            }
            // A push claimed this position and has not stamped the cell yet, or another pop
            // claimed it.
            backoff.wait();
            // Relaxed: as above.
            head = self.head.load(Ordering::Relaxed);
        }
    }

    /// Whether a push would find room, or the ring closed, right now. Reads what `try_push`
    /// decides `Full` on, with the same `SeqCst` loads, so a putter can sleep on it.
    pub(super) fn has_room_or_closed(&self) -> bool {
        // SeqCst: the re-checks the putters' fence-free notify pairs with.
        let tail = self.tail.load(Ordering::SeqCst);
        // SeqCst: as above.
        let head = self.head.load(Ordering::SeqCst);
        tail & CLOSED != 0 || head.wrapping_add(self.one_lap) != tail
    }

    /// Closes the ring: every later push fails. Idempotent.
    pub(super) fn close(&self) {
        // SeqCst: totally ordered with the pushes' CASes, and the getters' re-check sees it.
        self.tail.fetch_or(CLOSED, Ordering::SeqCst);
    }

    /// Whether [`close`](Self::close) was called.
    pub(super) fn is_closed(&self) -> bool {
        // SeqCst: as the loads in `try_pop`.
        self.tail.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// How many pushes succeeded so far: exact, since a push succeeds at its claim.
    pub(super) fn pushed(&self) -> usize {
        // SeqCst: read after a `SeqCst` RMW on the task count by `task_done`, and by `join`'s
        // re-check, which the fence-free notify of the joiners pairs with.
        self.count(self.tail.load(Ordering::SeqCst) & !CLOSED)
    }

    /// The number of values: exact when nothing runs concurrently, a snapshot otherwise,
    /// never more than the capacity.
    pub(super) fn len(&self) -> usize {
        // Relaxed, both: a snapshot; `head` first, so that the difference is not negative
        // unless `head` raced ahead of a stale `tail` (then zero).
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed) & !CLOSED;
        (self.count(tail).saturating_sub(self.count(head))).min(self.capacity())
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        /// The values from `position` to `tail`, still to drop.
        struct Remaining<'a, T> {
            ring: &'a Ring<T>,
            position: usize,
            tail: usize,
        }
        impl<T> Remaining<'_, T> {
            fn drop_all(&mut self) {
                while self.position != self.tail {
                    let (cell, next) = self.ring.locate(self.position);
                    self.position = next;
                    // SAFETY: positions from `head` to `tail` hold values (invariant 1; every
                    // claimed push completed, as `drop` has `&mut self`), each dropped once:
                    // `position` moved past this one first.
                    cell.value
                        .with_mut(|slot| unsafe { (*slot).assume_init_drop() });
                }
            }
        }
        impl<T> Drop for Remaining<'_, T> {
            /// Runs when a value's drop panicked: the others are still dropped.
            fn drop(&mut self) {
                self.drop_all();
            }
        }
        // Relaxed, both: `&mut self` orders every earlier access.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed) & !CLOSED;
        Remaining {
            ring: self,
            position: head,
            tail,
        }
        .drop_all();
    }
}

impl<T> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
