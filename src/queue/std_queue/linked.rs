//! The storage of an unbounded `StdConcurrentQueue`, and of one whose bound is too large for a
//! ring allocated up front: the segmented [`ConcurrentQueue`], with a *slot counter* for a
//! bound.
//!
//! A put first reserves a slot with a CAS that never takes the counter past the bound, then
//! pushes; a get pops, then gives its slot back. So the counter never exceeds the bound, and
//! values in the queue never exceed the counter. The price is the weaker linearizability the
//! queue's module doc states for this storage: while a put or get is between its two steps, a
//! `put_nowait` may be refused as full with fewer than `bound` values visible to gets.
//!
//! It also counts the puts for the queue's task count: a push raises the count before its
//! value becomes visible, so a put counts before its value can be got (the queue's
//! invariant 2).

use super::super::{ConcurrentQueue, PopError, Popped, QueueMode};
use crate::reclaim::Reclaimer;
use crate::sync::{AtomicUsize, CachePadded, Ordering};

/// What [`Linked::reserve`] found.
pub(super) enum Reservation {
    Taken,
    Full,
    Closed,
}

/// Values in a segmented queue, with an optional bound on slots.
pub(super) struct Linked<T, R: Reclaimer> {
    values: ConcurrentQueue<T, R>,
    /// `0`: unbounded, and `slots` is unused.
    bound: usize,
    /// Values in the queue plus puts that reserved a slot and have not pushed yet.
    slots: CachePadded<AtomicUsize>,
    /// Pushes begun: the successful ones, and any a shutdown refused after counting it.
    puts: CachePadded<AtomicUsize>,
}

impl<T: Send + 'static, R: Reclaimer> Linked<T, R> {
    /// Storage for at most `bound` values (`0`: unbounded).
    pub(super) fn new(bound: usize) -> Self {
        Self {
            values: ConcurrentQueue::with_mode_and_reclaimer(QueueMode::Segmented),
            bound,
            slots: CachePadded::new(AtomicUsize::new(0)),
            puts: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Takes a slot if fewer than the bound are taken and the queue is open.
    pub(super) fn reserve(&self) -> Reservation {
        if self.values.is_shutdown() {
            return Reservation::Closed;
        }
        if self.bound == 0 {
            return Reservation::Taken;
        }
        // Relaxed: a first guess for the CAS, which checks it.
        let mut taken = self.slots.load(Ordering::Relaxed);
        while taken < self.bound {
            // Relaxed, both: the count publishes no data, and the CAS keeps it within the
            // bound; a failure retries with the fresh count.
            match self.slots.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Reservation::Taken,
                Err(now) => taken = now,
            }
        }
        Reservation::Full
    }

    /// Counts the put, then pushes a value whose slot was reserved; after a shutdown, gives
    /// the slot back and returns the value, still counted (the caller finishes its task).
    pub(super) fn push(&self, value: T) -> Result<(), T> {
        // SeqCst: the count `pushed` reads with a SeqCst load for the queue's `task_done` and
        // `join`, as the ring's `tail`.
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.values.push(value).map_err(|refused| {
            self.release();
            refused.into_inner()
        })
    }

    /// Gives a slot back. `SeqCst`: the RMW the putters' fence-free notify pairs with, and
    /// [`has_room_or_closed`](Self::has_room_or_closed) re-checks with a `SeqCst` load.
    fn release(&self) {
        if self.bound > 0 {
            self.slots.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Whether a put would find a slot, or the queue shut down, right now.
    pub(super) fn has_room_or_closed(&self) -> bool {
        // SeqCst: the re-check the putters' fence-free notify pairs with (see `release`).
        self.bound == 0
            || self.values.is_shutdown()
            || self.slots.load(Ordering::SeqCst) < self.bound
    }

    /// Removes the oldest value and gives its slot back.
    pub(super) fn try_pop(&self) -> Popped<T> {
        match self.values.try_pop() {
            Ok(value) => {
                self.release();
                Popped::Item(value)
            }
            Err(PopError::Empty) => Popped::Empty,
            Err(PopError::ShutDown) => Popped::Closed,
        }
    }

    /// Shuts the values down (see [`ConcurrentQueue::shutdown`]).
    pub(super) fn close(&self, immediate: bool) {
        self.values.shutdown(immediate);
    }

    pub(super) fn is_closed(&self) -> bool {
        self.values.is_shutdown()
    }

    /// Removes every value left, giving their slots back.
    pub(super) fn take_remaining(&self) -> Vec<T> {
        let remaining = self.values.take_remaining();
        for _ in &remaining {
            self.release();
        }
        remaining
    }

    /// Pushes begun so far (see `puts`): the queue's count of puts.
    pub(super) fn pushed(&self) -> usize {
        // SeqCst: as the ring's `pushed`: read after a `SeqCst` RMW on the task count by
        // `task_done`, and by `join`'s re-check, which the fence-free notify of the joiners
        // pairs with.
        self.puts.load(Ordering::SeqCst)
    }

    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether every slot is taken right now (never, when unbounded).
    pub(super) fn is_full(&self) -> bool {
        // Relaxed: a snapshot.
        self.bound > 0 && self.slots.load(Ordering::Relaxed) >= self.bound
    }
}
