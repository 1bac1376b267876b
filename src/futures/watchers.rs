//! A future's state word: its state and the list of who to tell when it is done, in one atomic.
//!
//! # Layout
//! The low three bits hold the state (`PENDING`, `RUNNING`, `COMPLETING`, `FINISHED`,
//! `CANCELLED`); bit 3 is `LOCKED`; the rest is the address of the newest [`Node`] of a
//! singly linked list of watchers (nodes are 16-byte aligned). The design follows the
//! queue-based `Once` of Rust's standard library, which keeps its waiters on a list headed by
//! its state word, and adds withdrawal for waits that time out.
//!
//! # Operations and their linearization points
//! * **Register** ([`StateWord::push`]): a CAS that links a new node at the head, and fails if
//!   the state is final, in which case the registrant serves itself (runs its callback, or
//!   returns without waiting).
//! * **Finish** ([`StateWord::finish`]): a CAS that stores the final state and takes the whole
//!   list, leaving an empty one: each node registered before it is served by the finisher, each
//!   one after it sees the final state. The finisher serves its nodes outside any lock.
//! * **Withdraw** ([`StateWord::prune`]): a wait that timed out (or an awaiting future that was
//!   dropped) marks its watcher withdrawn, then tries to set `LOCKED` and unlink the withdrawn
//!   nodes, so that a future waited on many times does not collect them. Pushes only touch the
//!   head, so the holder of `LOCKED` may rewrite the links *below* the head it saw; it removes
//!   that head itself only with the CAS that clears `LOCKED`, and only if no push came since.
//!   A finisher that finds `LOCKED` set stores the final state and leaves the list: the holder
//!   of `LOCKED` sees the final state when it unlocks and serves the list itself (a hand-off,
//!   so nobody ever waits for a preempted pruner). Trying to lock fails at once if it is taken:
//!   the current holder, or the next pruner, removes the node.
//!
//! # Invariants
//! 1. Only the thread that moved the state into `COMPLETING` moves it out (to `FINISHED`);
//!    every other change of the state bits is a CAS from an expected state.
//! 2. Once the state is final, the list is owned by exactly one thread (the finisher, or the
//!    holder of `LOCKED` it handed off to), and nobody links to it again.
//! 3. A node's `next` is written by its pusher before the push, and afterwards only by the
//!    holder of `LOCKED` or the owner of a taken list; nobody else reads it.
//!
//! # Progress
//! Every operation is lock-free: `LOCKED` is never waited for (a pruner that finds it set
//! skips, a finisher hands off).
//!
//! # Memory orderings
//! A push is `Release`, paired with the `Acquire` of the finish, of the lock and of the unlock
//! that hands off: whoever takes a list sees the nodes' contents. A push that fails because the
//! future is done is `Acquire`, paired with the finish: its caller may read the outcome at once. The unlock is `Release`,
//! paired with the same `Acquire`s: the links a pruner rewrote are seen by the next owner.
//! Pushes are RMWs, so they continue those release sequences. The finish that stores
//! `FINISHED` is also `Release` (see [`FINISH`]), publishing the outcome to the `Acquire`
//! loads of the state.

use super::waiter::{Registration, WakerSlot};
use super::Future;
use crate::sync::{Arc, AtomicUsize, Ordering, UnsafeCell};
use std::marker::PhantomData;
use std::ptr;

/// Not started: can be cancelled, run, or completed.
pub(super) const PENDING: usize = 0;
/// Its task runs (or an owner called `set_running_or_notify_cancel`).
pub(super) const RUNNING: usize = 1;
/// A completer won the right to write the outcome and is writing it.
pub(super) const COMPLETING: usize = 2;
/// Done with an outcome.
pub(super) const FINISHED: usize = 3;
/// Done without an outcome.
pub(super) const CANCELLED: usize = 4;

const STATE: usize = 0b111;
const LOCKED: usize = 0b1000;
const NODE: usize = !0b1111;

/// The ordering of the CAS that stores `FINISHED`: `AcqRel`, whose `Release` publishes the
/// outcome (pairs with the `Acquire` loads of the state) and whose `Acquire` pairs with the
/// `Release` of the pushes. The mutant drops the `Release`, for loom to catch.
const FINISH: Ordering = if cfg!(concurrency_mutant = "finish_without_release") {
    Ordering::Acquire // the mutant: no Release
} else {
    Ordering::AcqRel
};

/// Whether `state` is final.
pub(super) fn is_done(state: usize) -> bool {
    matches!(state, FINISHED | CANCELLED)
}

pub(super) type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;

/// Who is told when the future is done.
pub(super) enum Watcher<T> {
    Callback(Callback<T>),
    /// A blocked `result`, `exception`, `wait` or `as_completed`.
    Waiter(Registration),
    /// An awaiting `async` task.
    Waker(Arc<WakerSlot>),
}

impl<T> Watcher<T> {
    fn withdrawn(&self) -> bool {
        match self {
            Self::Callback(_) => false,
            Self::Waiter(registration) => registration.withdrawn(),
            Self::Waker(slot) => slot.withdrawn(),
        }
    }
}

/// One registration on the list.
#[repr(align(16))]
pub(super) struct Node<T> {
    /// The next older node (invariant 3).
    next: UnsafeCell<*mut Node<T>>,
    watcher: Watcher<T>,
}

/// A list of nodes this thread owns, linked through their `next`: a taken watcher list
/// (oldest first), or the nodes a pruner unlinked. Dropping it frees what is left.
pub(super) struct Taken<T> {
    first: *mut Node<T>,
}

/// Reads a node's link.
///
/// # Safety
/// `node` is alive, and the caller may read its link (invariant 3).
unsafe fn next<T>(node: *mut Node<T>) -> *mut Node<T> {
    // SAFETY: by the caller's guarantee.
    unsafe { (*node).next.with(|next| *next) }
}

/// Writes a node's link.
///
/// # Safety
/// `node` is alive, and the caller may write its link (invariant 3).
unsafe fn set_next<T>(node: *mut Node<T>, to: *mut Node<T>) {
    // SAFETY: by the caller's guarantee.
    unsafe { (*node).next.with_mut(|next| *next = to) };
}

impl<T> Taken<T> {
    const EMPTY: Self = Self {
        first: ptr::null_mut(),
    };

    /// Takes ownership of the list whose newest node is `newest`, reversing its links so that
    /// the oldest comes first.
    ///
    /// # Safety
    /// The caller owns the list (invariant 2) and sees its links.
    unsafe fn new(newest: *mut Node<T>) -> Self {
        let mut reversed = ptr::null_mut();
        let mut node = newest;
        while !node.is_null() {
            // SAFETY: the list and its links are the caller's.
            let older = unsafe { next(node) };
            // SAFETY: as above.
            unsafe { set_next(node, reversed) };
            reversed = node;
            node = older;
        }
        Self { first: reversed }
    }

    /// Adds `node`, which this thread owns, in front.
    ///
    /// # Safety
    /// `node` was boxed by a push and is owned by the caller, linked from nowhere.
    unsafe fn push_front(&mut self, node: *mut Node<T>) {
        // SAFETY: by the caller's guarantee.
        unsafe { set_next(node, self.first) };
        self.first = node;
    }

    /// Wakes every waiter, then yields the callbacks in the order they were added.
    pub(super) fn wake(self) -> Self {
        let mut node = self.first;
        while !node.is_null() {
            // SAFETY: the list is this thread's (`new`), so its nodes are alive and readable.
            match unsafe { &(*node).watcher } {
                Watcher::Callback(_) => {}
                Watcher::Waiter(registration) => registration.fire(),
                Watcher::Waker(slot) => slot.wake(),
            }
            // SAFETY: as above.
            node = unsafe { next(node) };
        }
        self
    }
}

impl<T> Iterator for Taken<T> {
    type Item = Callback<T>;

    /// Frees nodes from the front until it frees a callback's, and returns that callback.
    fn next(&mut self) -> Option<Callback<T>> {
        while !self.first.is_null() {
            // SAFETY: the list is this thread's, and each node was boxed by a push.
            let node = unsafe { Box::from_raw(self.first) };
            self.first = node.next.with(|next| {
                // SAFETY: as above.
                unsafe { *next }
            });
            if let Watcher::Callback(callback) = node.watcher {
                return Some(callback);
            }
        }
        None
    }
}

impl<T> Drop for Taken<T> {
    fn drop(&mut self) {
        self.for_each(drop);
    }
}

/// The state word: see the [module documentation](self).
pub(super) struct StateWord<T> {
    word: AtomicUsize,
    _nodes: PhantomData<Box<Node<T>>>,
}

fn head<T>(word: usize) -> *mut Node<T> {
    (word & NODE) as *mut Node<T>
}

impl<T> StateWord<T> {
    pub(super) fn new() -> Self {
        Self {
            word: AtomicUsize::new(PENDING),
            _nodes: PhantomData,
        }
    }

    /// The state. `Acquire`: pairs with the `Release` of [`FINISH`], so a caller that sees
    /// `FINISHED` may read the outcome.
    pub(super) fn state(&self) -> usize {
        self.word.load(Ordering::Acquire) & STATE
    }

    /// Moves the state from `from` to `to` (neither final), keeping the list: `Err(now)` if it
    /// is not `from`. `Relaxed`: the transition elects a thread and publishes nothing.
    pub(super) fn transition(&self, from: usize, to: usize) -> Result<(), usize> {
        // Guess no watchers rather than load first: the CAS reads the word anyway (and loom,
        // which tracks only an object's last access, misses the races of a load-then-CAS).
        let mut word = from;
        loop {
            if word & STATE != from {
                return Err(word & STATE);
            }
            // Relaxed, both: as above; a failure only re-reads the word.
            match self.word.compare_exchange_weak(
                word,
                word & !STATE | to,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => word = now,
            }
        }
    }

    /// Moves the state from `from` to the final `to` and takes the list, unless a pruner holds
    /// it, which then serves it. `Err(now)` if the state is not `from`.
    pub(super) fn finish(&self, from: usize, to: usize) -> Result<Taken<T>, usize> {
        debug_assert!(is_done(to));
        // Guess, as in `transition`.
        let mut word = from;
        loop {
            if word & STATE != from {
                return Err(word & STATE);
            }
            let locked = word & LOCKED != 0;
            let new = if locked { word & !STATE | to } else { to };
            // FINISH (AcqRel) on success: see its documentation. Relaxed on failure: only
            // re-reads the word.
            match self
                .word
                .compare_exchange_weak(word, new, FINISH, Ordering::Relaxed)
            {
                Ok(_) if locked => return Ok(Taken::EMPTY),
                // SAFETY: the CAS took the list (invariant 2), and its Acquire saw the pushes.
                Ok(_) => return Ok(unsafe { Taken::new(head(word)) }),
                Err(now) => word = now,
            }
        }
    }

    /// Registers `watcher`; gives it back if the state is final already.
    pub(super) fn push(&self, watcher: Watcher<T>) -> Result<(), Watcher<T>> {
        let node = Box::into_raw(Box::new(Node {
            next: UnsafeCell::new(ptr::null_mut()),
            watcher,
        }));
        // Guess, as in `transition`: a pending future without watchers.
        let mut word = PENDING;
        loop {
            if is_done(word & STATE) {
                // SAFETY: the node was never published; this thread still owns it.
                return Err(unsafe { Box::from_raw(node) }.watcher);
            }
            // SAFETY: unpublished, so this thread alone accesses the node.
            unsafe { set_next(node, head(word)) };
            // Release on success: publishes the node to whoever takes or locks the list (pairs
            // with the Acquire of `finish`, `prune` and the hand-off in `unlock`). Acquire on
            // failure: pairs with the Release of `FINISH`, since a registrant that finds the
            // future done reads its outcome at once (an await's poll does).
            match self.word.compare_exchange_weak(
                word,
                node as usize | word & !NODE,
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => word = now,
            }
        }
    }

    /// Unlinks withdrawn watchers if no other pruner is at work; returns the list if a finisher
    /// handed it off meanwhile: the caller must then serve it.
    pub(super) fn prune(&self) -> Option<Taken<T>> {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if is_done(word & STATE) || word & LOCKED != 0 || head::<T>(word).is_null() {
                return None;
            }
            // Acquire: pairs with the Release of the pushes and of the last unlock, so the
            // nodes and their links are visible. Relaxed on failure: only re-reads the word.
            match self.word.compare_exchange_weak(
                word,
                word | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        let top = head::<T>(word);
        // SAFETY: this thread holds LOCKED, so the links below `top` are its own (invariant 3).
        let garbage = unsafe { unlink_withdrawn_below(top) };
        let handed_off = self.unlock(word | LOCKED);
        drop(garbage);
        handed_off
    }

    /// Clears `LOCKED`, which `locked` (the word the lock stored) holds, removing the head it
    /// saw too if that is withdrawn and still the head; returns the list if a finisher handed
    /// it off.
    fn unlock(&self, locked: usize) -> Option<Taken<T>> {
        let top = head::<T>(locked);
        // SAFETY: LOCKED is held, so `top` is alive: only its holder frees a node of a live list.
        let top_withdrawn = unsafe { (*top).watcher.withdrawn() };
        // Guess, as in `transition`: nothing changed since the lock.
        let mut word = locked;
        loop {
            if is_done(word & STATE) {
                // The finisher stored the final state and left the list: it is this thread's
                // now, and nobody else writes the word any more (invariant 2).
                // Acquire: pairs with the Release of the finish and of the pushes since the
                // lock (the word it reads, the finisher's, ends their release sequences), so
                // the outcome and the nodes are visible. A load, not a fence: ThreadSanitizer
                // does not model fences.
                let word = self.word.load(Ordering::Acquire);
                // Release: a thread that reads this final state with Acquire then sees the
                // outcome too (through this thread, which saw it by the load).
                self.word.store(word & STATE, Ordering::Release);
                // The mutant `prune_dropping_the_hand_off` leaves the handed-off list unserved,
                // for the loom suite to show that its models reach the hand-off.
                if cfg!(concurrency_mutant = "prune_dropping_the_hand_off") {
                    return None;
                }
                // SAFETY: the list is this thread's (above), its links seen (the load).
                return Some(unsafe { Taken::new(head(word)) });
            }
            let removes_top = top_withdrawn && head::<T>(word) == top;
            let new = if removes_top {
                // SAFETY: LOCKED is held: `top`'s link is this thread's to read.
                let below = unsafe { next(top) };
                below as usize | word & STATE
            } else {
                word & !LOCKED
            };
            // Release: publishes the rewritten links to the next owner (pairs with the
            // Acquire of `finish`, `prune` and the hand-off). Relaxed on failure: re-reads.
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if removes_top {
                        // SAFETY: unlinked by the CAS, which no push can have linked to
                        // (the head was still `top`); this thread owns it now.
                        drop(unsafe { Box::from_raw(top) });
                    }
                    return None;
                }
                Err(now) => word = now,
            }
        }
    }

    /// How many nodes the list holds, for tests that check withdrawals unlink theirs; `None`
    /// while a pruner holds the list.
    #[cfg(all(test, not(any(loom, shuttle))))]
    pub(super) fn len(&self) -> Option<usize> {
        let word = self.word.load(Ordering::Acquire);
        if word & LOCKED != 0 || is_done(word & STATE) {
            return (word & LOCKED == 0).then_some(0);
        }
        let mut count = 0;
        let mut node = head::<T>(word);
        while !node.is_null() {
            count += 1;
            // SAFETY: tests call this with no operation running on the future, so the nodes
            // stay alive and their links unchanged.
            node = unsafe { next(node) };
        }
        Some(count)
    }
}

impl<T> Drop for StateWord<T> {
    /// Frees the watchers of a future dropped before it was done (their callbacks never run).
    fn drop(&mut self) {
        // Relaxed: the last reference's release already synchronized with every other.
        let word = self.word.swap(PENDING, Ordering::Relaxed);
        // SAFETY: the word is being dropped, so the list is this thread's alone.
        drop(unsafe { Taken::<T>::new(head(word)) });
    }
}

/// Unlinks the withdrawn nodes strictly below `top` and returns them.
///
/// # Safety
/// The caller holds `LOCKED` and saw `top` as the head when it took it.
unsafe fn unlink_withdrawn_below<T>(top: *mut Node<T>) -> Taken<T> {
    let mut garbage = Taken::EMPTY;
    let mut kept = top;
    // SAFETY: `top` is alive and its link is the caller's (invariant 3): only the holder of
    // LOCKED frees nodes of a live list.
    let mut node = unsafe { next(kept) };
    while !node.is_null() {
        // SAFETY: `node` is below `top`, so alive and its link the caller's, as above.
        let below = unsafe { next(node) };
        // SAFETY: as above; the watcher is only read.
        if unsafe { (*node).watcher.withdrawn() } {
            // SAFETY: `kept` is `top` or a node below it, alive, its link the caller's.
            unsafe { set_next(kept, below) };
            // SAFETY: unlinked just now, and nobody else reaches below the head: the node is
            // this thread's, linked from nowhere.
            unsafe { garbage.push_front(node) };
        } else {
            kept = node;
        }
        node = below;
    }
    garbage
}
