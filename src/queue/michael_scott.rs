//! Michael & Scott's non-blocking queue ("Simple, fast, and practical non-blocking and blocking
//! concurrent queue algorithms", PODC 1996), with a closing mark for shutdown.
//!
//! # Algorithm
//! A singly linked list from `head` (a sentinel whose value is gone) to `tail`. `push` links a
//! new node after the last one with a CAS on its `next` and then swings `tail` to it; `pop`
//! swings `head` to the sentinel's successor and takes that node's value, the successor
//! becoming the new sentinel. Whoever finds `tail` lagging behind the last node swings it first
//! (helping), so no thread waits on a stalled one. `close` CASes [`closed`] into the last
//! node's `next` where a push would link: afterwards no push can succeed, and a pop that
//! reaches the mark knows the queue is shut and drained.
//!
//! # Invariants
//! 1. `head` and `tail` are never null; `tail` is the last node or its predecessor (it lags by
//!    at most one link), and `head` never passes `tail`.
//! 2. A node's `next` goes from null to a node, or from null to the closed mark, exactly once,
//!    and never changes after.
//! 3. Exactly one pop wins each node (by its `head` CAS) and takes its value; the old sentinel
//!    is retired by that winner, after it left `head`.
//! 4. `index` grows by one per link, so `tail.index - head.index` is the number of items.
//!
//! # Progress
//! Lock-free: a failed CAS means another operation made progress.
//!
//! # Reclamation
//! Old sentinels are retired through `R` (epochs by default). Slot 0 protects `head`/`tail`,
//! slot 1 the successor; the successor is protected with [`Guard::protect_if`], validated by
//! `head` still being the node it was read from, because that node may itself be unlinked. The
//! check proves more than an equal address would: a protected `head` cannot be freed and reused,
//! so while it is still `head` its successor was never popped, let alone freed.
//!
//! # Memory orderings
//! * Linking CAS on `next`: success `Release` publishes the new node's value and index; pairs
//!   with the `Acquire` loads of `next` in `push`, `pop` and `len`. It is `SeqCst`, and the
//!   pop's load of the sentinel's `next` is a `SeqCst` load: that pair is what the queue's
//!   fence-free wake-up rests on (`crate::event_count`, "Why no wake-up is lost").
//! * CASes on `head`/`tail` that install a node: `Release`, so a thread that `Acquire`-loads the
//!   pointer sees the node's contents even when the swing was a helper's (helpers read the
//!   node through an `Acquire` load of `next`, so the edge is transitive).
//! * Failed CASes are `Relaxed`: the loop re-reads everything it uses through `Acquire` loads.

use super::node::{closed, Node};
use super::Popped;
use crate::reclaim::{DropBox, Guard, Reclaimer};
use crate::sync::{AtomicPtr, CachePadded, Ordering};
use std::marker::PhantomData;
use std::ptr;

/// Ordering of the CAS that links a new node. Release publishes the node (value, index); pairs
/// with the Acquire loads of `next`. SeqCst because it is also the RMW the queue's fence-free
/// wake-up pairs with (see "Memory orderings"); on x86-64 a locked CAS costs the same either
/// way. `cfg(concurrency_mutant = "link_without_release")` drops it so that the loom suite can
/// show it catches the missing edge.
const LINK: Ordering = if cfg!(concurrency_mutant = "link_without_release") {
    Ordering::Relaxed // the mutant: no Release
} else {
    Ordering::SeqCst // pairs with the Acquire loads of `next`, and with the wake-up (above)
};

pub(super) struct MsQueue<T, R: Reclaimer> {
    head: CachePadded<AtomicPtr<Node<T>>>,
    tail: CachePadded<AtomicPtr<Node<T>>>,
    reclaimer: R,
    owns: PhantomData<Box<Node<T>>>,
}

// SAFETY: values move between threads through the queue (`T: Send`) but are never shared: each
// is taken by exactly one pop (invariant 3), so `T: Sync` is not needed.
unsafe impl<T: Send, R: Reclaimer> Send for MsQueue<T, R> {}
// SAFETY: as above; every shared access goes through atomics and the reclamation protocol.
unsafe impl<T: Send, R: Reclaimer> Sync for MsQueue<T, R> {}

impl<T: Send + 'static, R: Reclaimer> MsQueue<T, R> {
    pub(super) fn new() -> Self {
        let sentinel = Node::sentinel();
        Self {
            head: CachePadded::new(AtomicPtr::new(sentinel)),
            tail: CachePadded::new(AtomicPtr::new(sentinel)),
            reclaimer: R::default(),
            owns: PhantomData,
        }
    }

    /// Appends `value`, or hands it back if the queue is closed.
    pub(super) fn push(&self, value: T) -> Result<(), T> {
        // The guard first: under loom, taking one synchronizes with other threads' guards, and
        // the node must be made after that for the model to check the link's Release alone.
        let mut guard = self.reclaimer.guard();
        let node = Node::holding(value);
        loop {
            let tail = guard.protect(0, &self.tail);
            // SAFETY: `tail` is protected, and never null (invariant 1).
            let last = unsafe { &*tail };
            // Acquire: pairs with the Release of the linking CAS, for the helping swing below.
            let next = last.next.load(Ordering::Acquire);
            if next == closed() {
                // SAFETY: `node` was never published.
                return Err(unsafe { Node::unlinked_into_value(node) });
            }
            if !next.is_null() {
                // Release: see "Memory orderings". Failure Relaxed: someone else swung it.
                let _ = self
                    .tail
                    // Release pairs with the Acquire protect of `tail`; failure: helped.
                    .compare_exchange(tail, next, Ordering::Release, Ordering::Relaxed);
                continue;
            }
            // SAFETY: `node` is not published yet: this thread has it to itself.
            unsafe { (*node).index = last.index + 1 };
            // Failure Relaxed: the loop starts over from a protected load.
            let linked = last
                .next
                // LINK: see its doc; Relaxed failure restarts from a protected load.
                .compare_exchange(ptr::null_mut(), node, LINK, Ordering::Relaxed);
            if linked.is_ok() {
                crate::sync::stall_point("michael_scott::push::linked");
                // Release: as for helping above. Failure Relaxed: a helper swung it already.
                let _ = self
                    .tail
                    // Release pairs with the Acquire protect of `tail`; failure: helped.
                    .compare_exchange(tail, node, Ordering::Release, Ordering::Relaxed);
                return Ok(());
            }
        }
    }

    /// A guard of the queue's reclaimer (see `ConcurrentQueue::hold_guard`).
    pub(super) fn guard(&self) -> R::Guard<'_> {
        self.reclaimer.guard()
    }

    /// Whether a pop could find a value now: `try_pop`'s emptiness test (its `SeqCst` load of
    /// the sentinel's `next`), without popping.
    pub(super) fn has_values(&self) -> bool {
        let mut guard = self.reclaimer.guard();
        let head = guard.protect(0, &self.head);
        // SAFETY: `head` is protected, and never null (invariant 1).
        let sentinel = unsafe { &*head };
        // SeqCst: the emptiness re-check of `try_pop`.
        let next = sentinel.next.load(Ordering::SeqCst);
        !next.is_null() && next != closed()
    }

    /// Removes the oldest value, if any.
    pub(super) fn try_pop(&self) -> Popped<T> {
        let mut guard = self.reclaimer.guard();
        loop {
            let head = guard.protect(0, &self.head);
            // SAFETY: `head` is protected, and never null (invariant 1).
            let sentinel = unsafe { &*head };
            // SeqCst: pairs with the linking CAS, so the successor's value and index are visible
            // once it is ours (Acquire), and is the emptiness re-check of the wake-up.
            let next = sentinel.next.load(Ordering::SeqCst);
            if next.is_null() {
                return Popped::Empty;
            }
            if next == closed() {
                return Popped::Closed;
            }
            // Relaxed: only compared; the Acquire load of `next` above synchronizes.
            let still_head = || self.head.load(Ordering::Relaxed) == head;
            if !guard.protect_if(1, next, still_head) {
                continue;
            }
            // Relaxed: only compared, to keep `head` from passing `tail` (invariant 1).
            let tail = self.tail.load(Ordering::Relaxed);
            if tail == head {
                // Release: see "Memory orderings". Failure Relaxed: a helper swung it already.
                let _ = self
                    .tail
                    // Release pairs with the Acquire protect of `tail`; failure: helped.
                    .compare_exchange(tail, next, Ordering::Release, Ordering::Relaxed);
            }
            // Release: installs the new sentinel for readers of `head` (see "Memory orderings").
            // Failure Relaxed: another pop won this node; start over.
            let won = self
                .head
                // Release pairs with the Acquire protect of `head`; failure: start over.
                .compare_exchange(head, next, Ordering::Release, Ordering::Relaxed);
            if won.is_ok() {
                // SAFETY: this pop won `next` (invariant 3), whose value is initialized and was
                // published by the Acquire load above; `next` is protected in slot 1.
                let value = unsafe { (*next).take_value() };
                // SAFETY: `head` left `self.head` through this thread's CAS and nothing else
                // points to it; it came from `Box::into_raw` and is retired once (invariant 3).
                unsafe { guard.retire::<Node<T>, DropBox>(head) };
                return Popped::Item(value);
            }
        }
    }

    /// Closes the list: every later push fails. Idempotent.
    pub(super) fn close(&self) {
        let mut guard = self.reclaimer.guard();
        loop {
            let tail = guard.protect(0, &self.tail);
            // SAFETY: protected and non-null.
            let last = unsafe { &*tail };
            // Acquire: pairs with the linking CAS, for the helping swing.
            let next = last.next.load(Ordering::Acquire);
            if next == closed() {
                return;
            }
            if !next.is_null() {
                // Release: as in `push`. Failure Relaxed: a helper swung it already.
                let _ = self
                    .tail
                    // Release pairs with the Acquire protect of `tail`; failure: helped.
                    .compare_exchange(tail, next, Ordering::Release, Ordering::Relaxed);
                continue;
            }
            // Relaxed: the mark publishes no data; pushes and pops read it through `next`.
            let marked = last.next.compare_exchange(
                ptr::null_mut(),
                closed(),
                Ordering::Relaxed, // the mark publishes no data (see above)
                Ordering::Relaxed, // a failure re-reads through `protect`
            );
            if marked.is_ok() {
                return;
            }
        }
    }

    /// The number of values, exact when nothing runs concurrently; never more than the values
    /// that were in the queue at some moment during the call.
    pub(super) fn len(&self) -> usize {
        let mut guard = self.reclaimer.guard();
        // Tail first: a stale tail can only under-count, a stale head could over-count.
        let tail = guard.protect(0, &self.tail);
        // SAFETY: protected and non-null.
        let last_index = unsafe { &*tail }.index;
        let head = guard.protect(1, &self.head);
        // SAFETY: protected and non-null.
        let first_index = unsafe { &*head }.index;
        last_index.saturating_sub(first_index) as usize
    }
}

impl<T, R: Reclaimer> Drop for MsQueue<T, R> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` is exclusive; whatever handed the queue here synchronized it.
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: exclusive ownership; `head` is the sentinel and every later node holds its
        // value (invariant 3: only popped nodes lost theirs, and they were before `head`).
        unsafe { super::node::free_list(head) };
    }
}
