//! Michael & Scott's two-lock queue (same PODC 1996 paper as the non-blocking one).
//!
//! # Algorithm
//! The same sentinel-headed list as [`MsQueue`](super::michael_scott::MsQueue), with one lock
//! for `head` and one for `tail`: producers serialize on the tail lock, consumers on the head
//! lock, and a producer never waits for a consumer. When the list holds only the sentinel both
//! sides touch its `next`, so `next` stays atomic. `close` stores the closed mark where the next
//! push would link, under the tail lock.
//!
//! # Invariants
//! 1. `head` is the sentinel; `tail` is the last node once the tail lock is free.
//! 2. A pop frees the old sentinel only after moving `head` past it, and only when its `next`
//!    was a node — so the old sentinel is not the last node, and no producer still uses it.
//!
//! # Progress
//! Blocking (two locks); a producer and a consumer never contend with each other.
//!
//! # Reclamation
//! None needed: the head lock makes the popper the only thread that can reach the old sentinel.
//!
//! # Memory orderings
//! Linking stores `next` with `SeqCst` (a `Release` store that publishes the node's value
//! across the two locks, pairing with the consumer's load), and the consumer loads it with
//! `SeqCst`: that pair is what the queue's fence-free wake-up rests on
//! (`crate::event_count`, "Why no wake-up is lost"). The locks order everything else.

use super::node::{closed, Node};
use super::Popped;
use crate::sync::{AtomicU64, CachePadded, Mutex, MutexGuard, Ordering};

pub(super) struct TwoLockQueue<T> {
    head: CachePadded<Mutex<NodePtr<T>>>,
    tail: CachePadded<Mutex<NodePtr<T>>>,
    /// The sentinel's index, written under the head lock.
    head_index: AtomicU64,
    /// The last node's index, written under the tail lock.
    tail_index: AtomicU64,
}

/// A node pointer that may move between threads with the lock that guards it.
struct NodePtr<T>(*mut Node<T>);

// SAFETY: the pointer is only followed under the lock that guards it; the values it leads to
// are `T: Send`.
unsafe impl<T: Send> Send for NodePtr<T> {}

fn lock<P>(mutex: &Mutex<P>) -> MutexGuard<'_, P> {
    // No user code runs under these locks, so a poisoned lock still guards a consistent list.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl<T: Send> TwoLockQueue<T> {
    pub(super) fn new() -> Self {
        let sentinel = Node::sentinel();
        Self {
            head: CachePadded::new(Mutex::new(NodePtr(sentinel))),
            tail: CachePadded::new(Mutex::new(NodePtr(sentinel))),
            head_index: AtomicU64::new(0),
            tail_index: AtomicU64::new(0),
        }
    }

    /// Appends `value`, or hands it back if the queue is closed.
    pub(super) fn push(&self, value: T) -> Result<(), T> {
        let node = Node::holding(value);
        let mut tail = lock(&self.tail);
        // SAFETY: the last node stays allocated while the tail lock is held (invariant 2).
        let last = unsafe { &*tail.0 };
        // Relaxed: the tail lock orders every write of the last node's `next` but a pop's.
        if last.next.load(Ordering::Relaxed) == closed() {
            drop(tail);
            // SAFETY: `node` was never published.
            return Err(unsafe { Node::unlinked_into_value(node) });
        }
        let index = last.index + 1;
        // SAFETY: `node` is not published yet: this thread has it to itself.
        unsafe { (*node).index = index };
        // SeqCst: publishes the node (Release, pairs with the load in `try_pop`), and is the
        // store the fence-free wake-up pairs with (see "Memory orderings").
        last.next.store(node, Ordering::SeqCst);
        tail.0 = node;
        // Relaxed: `len` is a snapshot.
        self.tail_index.store(index, Ordering::Relaxed);
        Ok(())
    }

    /// Whether a pop could find a value now: `try_pop`'s emptiness test, without popping.
    pub(super) fn has_values(&self) -> bool {
        let head = lock(&self.head);
        // SAFETY: the sentinel is only freed under the head lock, which this thread holds.
        // SeqCst: the emptiness re-check of `try_pop`.
        let next = unsafe { &*head.0 }.next.load(Ordering::SeqCst);
        !next.is_null() && next != closed()
    }

    /// Removes the oldest value, if any.
    pub(super) fn try_pop(&self) -> Popped<T> {
        let mut head = lock(&self.head);
        let sentinel = head.0;
        // SAFETY: the sentinel is only freed under the head lock, which this thread holds.
        // SeqCst: pairs with the store in `push`, publishing the successor's value, and is the
        // emptiness re-check of the wake-up (see "Memory orderings").
        let next = unsafe { &*sentinel }.next.load(Ordering::SeqCst);
        if next.is_null() {
            return Popped::Empty;
        }
        if next == closed() {
            return Popped::Closed;
        }
        // SAFETY: `next` is linked, so its value is initialized and published (Acquire above),
        // and only the holder of the head lock takes values.
        let value = unsafe { (*next).take_value() };
        head.0 = next;
        // SAFETY: `next` is linked and now the sentinel, allocated under the head lock.
        // Relaxed: `len` is a snapshot.
        self.head_index
            .store(unsafe { (*next).index }, Ordering::Relaxed);
        drop(head);
        // SAFETY: invariant 2: the old sentinel is unreachable from `head` and is not the last
        // node, so no thread can reach it any more; it came from `Box::into_raw`.
        drop(unsafe { Box::from_raw(sentinel) });
        Popped::Item(value)
    }

    /// Closes the list: every later push fails. Idempotent.
    pub(super) fn close(&self) {
        let tail = lock(&self.tail);
        // SAFETY: the last node stays allocated while the tail lock is held (invariant 2).
        let last = unsafe { &*tail.0 };
        // Relaxed: the tail lock orders pushes and closes; pops read the mark through Acquire.
        if last.next.load(Ordering::Relaxed).is_null() {
            last.next.store(closed(), Ordering::Relaxed);
        }
    }

    /// The number of values: a snapshot that may be stale under concurrent updates.
    pub(super) fn len(&self) -> usize {
        // Relaxed: a snapshot; tail first so that a moving queue under-counts.
        let last = self.tail_index.load(Ordering::Relaxed);
        // Relaxed: as above.
        let first = self.head_index.load(Ordering::Relaxed);
        last.saturating_sub(first) as usize
    }
}

impl<T> Drop for TwoLockQueue<T> {
    fn drop(&mut self) {
        let head = self
            .head
            .get_mut()
            .unwrap_or_else(|poison| poison.into_inner())
            .0;
        // SAFETY: exclusive ownership; `head` is the sentinel and every later node holds its
        // value.
        unsafe { super::node::free_list(head) };
    }
}
