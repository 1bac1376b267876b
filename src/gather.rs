//! `ConcurrentGatheringIterator<T>`: values inserted by key from many threads, read back in key
//! order.
//!
//! # Layout
//! Keys are dense sequence numbers, so a key *is* its position: no hashing, no map. The slots
//! live in leaves of `LEAF_SLOTS` consecutive keys (256; 2 under loom, 4 under Miri and
//! shuttle), found through a radix tree of interior nodes of `FANOUT` children (256 likewise),
//! as in a page table or Linux's XArray. The root covers keys below
//! 2^(8 + 8·height); a key above that grows the tree at the root (a new root whose child 0 is
//! the old one, installed with one CAS), so small keys pay one or two pointer loads and a large
//! key only the nodes on its own path. Nodes are created on first use with a CAS from null; the
//! loser frees its unpublished node. A value lives inline in its slot: no allocation per entry.
//!
//! # Memory
//! A leaf holds `256 × (8 + size_of::<T>())` bytes (rounded to `T`'s alignment; 4 KiB for
//! `u64`), an interior node 2 KiB. Keys `0..n` cost about `n/256` leaves and `n/65 536`
//! interior nodes. A sparse or huge key costs its path and nothing between: the key 2^40 grows
//! the tree to height 5 and costs 5 interior nodes and one leaf (≈ 14 KiB for `u64`), and no key
//! can cost more than 7 interior nodes and one leaf (the height that covers every `u64`). So no
//! insertion needs an error or a fallback: memory is bounded by the keys present times the
//! height, never by the largest key. (Afterwards every lookup descends the taller tree: one
//! more load per level.)
//!
//! # Slots
//! A slot's state is `EMPTY`, `FULL` or `BUSY`. Every access to a value is made by the one
//! thread that moved the slot to `BUSY` with a CAS: an insertion (`EMPTY`/`FULL` → `BUSY`,
//! write or replace, `FULL`), a clearing reader (`FULL` → `BUSY`, move out, `EMPTY`) or a
//! cloning reader (`FULL` → `BUSY`, clone, `FULL` — restored by a drop guard if `T::clone`
//! panics). A replaced value is dropped by the inserter after the slot is released, so no user
//! code runs while a slot is `BUSY` except `T::clone`. A reader that finds `BUSY` waits for the
//! holder (spin, then yield); one that finds `EMPTY` sleeps on the [`EventCount`].
//!
//! # Clearing and reclamation
//! A clearing reader that takes the last key of a leaf *sweeps* it: it sets the leaf's
//! `closing` flag (a CAS, so one sweep at a time) and then loads every slot's state. An
//! insertion, after its `SeqCst` store of `FULL`, loads `closing`; if it is set, the insertion
//! takes back whatever value the slot still holds (its own, or one stored after it) and stores
//! it again once the leaf is reopened or unlinked. This is Dekker's pattern over `SeqCst`
//! operations: either the sweep sees the value, or the insertion sees the flag. A sweep that
//! sees a slot that is not empty (a key inserted again after it was read, or a key above
//! `max_key`) clears the flag and the leaf stays. A sweep that sees every slot empty leaves the
//! flag set for good: no value is in the leaf, and none stays there, so the reader stores null
//! in the leaf's link and retires the leaf through the reclaimer `R` (epochs by default, see
//! [`crate::reclaim`]). Every access to a leaf is made under a guard, with the leaf protected in
//! slot 0, so a leaf is freed only once no reader or inserter can still touch it; a later
//! insertion of one of its keys creates a fresh leaf. Interior nodes are never unlinked (they
//! cost under 1 % of the leaves for dense keys); they and the leaves left are freed, with the
//! values in them, when the gatherer drops. A sweep costs one CAS and `LEAF_SLOTS` loads per
//! leaf, not a CAS per slot.
//!
//! # Invariants
//! 1. A slot's value is accessed only by the thread that moved the slot to `BUSY`, or through
//!    `&mut` when dropping; it is initialized exactly when the slot is `FULL` (or `BUSY` from
//!    `FULL`, until the holder's release).
//! 2. A leaf is linked at most once, from null, and unlinked only by the sweep that set its
//!    `closing` for good after seeing every slot empty; from then on every value stored in it
//!    is taken back by its inserter or taken by a reader, so a retired leaf holds none once
//!    the guards that could reach it are gone.
//! 3. Interior nodes are never unlinked before the gatherer drops; a node covers the same keys
//!    for ever (growth adds nodes above the root).
//! 4. `failed` only goes from `false` to `true`.
//! 5. Every change a sleeping reader may wait for (a value stored, a node linked on its path,
//!    the failure) is a `SeqCst` write followed by the notifier's `SeqCst` load of the event
//!    count's waiter count, so no reader sleeps through it.
//!
//! # Progress
//! Readers block, sleeping, by design. `insert` and `fail` never sleep; an insertion waits
//! (spinning, then yielding) only for a thread that holds its slot — another insertion or a
//! reader of the same key, whose turn is a move, a `T::clone`, or a sweep of the leaf (at most
//! `LEAF_SLOTS` CASes) — so it is lock-free except against a same-key `T::clone` or a preempted
//! holder, like a per-key lock held for a few instructions.
//!
//! # Memory orderings
//! * A slot's CAS to `BUSY` is `Acquire` and every release of it (`FULL` by an insertion,
//!   `EMPTY` by a taker, `FULL` after a clone) is `Release` or `SeqCst`: each holder's accesses
//!   to the value happen before the next holder's.
//! * The sweep's CAS of `closing` and its loads of the states, and an insertion's store of
//!   `FULL` and its load of `closing`, are `SeqCst`: Dekker's pattern needs the single total
//!   order (a store→load edge no weaker ordering gives). loom models `SeqCst` accesses as
//!   `AcqRel`, so under loom both sides add a `SeqCst` fence, which it does model. The sweep's
//!   loads are also `Acquire`, so every access a last holder made to a value happens before
//!   the leaf's disposal.
//! * An insertion's store of `FULL` and the CASes that link nodes are `SeqCst`: they publish
//!   (Release; readers load links and states with `Acquire`) and they are the changes the
//!   fence-free wake-up pairs with ([`EventCount::notify_all_after_seqcst`]). The reader's
//!   re-check after announcing itself may use `Acquire` loads: the announcement's `SeqCst`
//!   fence precedes them, so they see every `SeqCst` change that precedes the fence in the
//!   single total order (C++20 `[atomics.order]` p4), and a change after the fence precedes the
//!   notifier's load of the waiter count, which then sees the announcement.
//! * `failed`: stored `SeqCst` (the wake-up, as above) and loaded `Acquire` when the slot is
//!   empty; a reader that sees the failure looks at the slot once more, and then sees every
//!   insertion that happened before the failure, so it yields those keys first.
//! * Leaves are protected and retired through `R`, whose own orderings make a retired leaf's
//!   disposal happen after every access made under a guard that could reach it.

mod slot;
mod trie;

use crate::event_count::EventCount;
use crate::reclaim::{DefaultReclaimer, Reclaimer};
use crate::sync::{AtomicBool, Ordering};
use slot::Read;
use std::fmt;
use trie::Trie;

/// Why a gathering reader stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GatherError {
    /// A producer called [`fail`](ConcurrentGatheringIterator::fail) while the reader waited
    /// for a missing key.
    Failed,
}

impl fmt::Display for GatherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a producer failed before the awaited key was inserted")
    }
}

impl std::error::Error for GatherError {}

/// Values inserted by key from many threads, read back in key order: documented (design,
/// invariants, orderings) at the top of `src/gather.rs`.
///
/// An insertion happens before the read that returns its value; `fail` happens before the
/// `Err(GatherError::Failed)` it causes, so every key inserted before the failure (in
/// happens-before) is yielded first.
///
/// ```
/// use concurrency::ConcurrentGatheringIterator;
/// use std::thread;
///
/// let gather = ConcurrentGatheringIterator::new();
/// thread::scope(|s| {
///     for worker in 0..4u64 {
///         let gather = &gather;
///         s.spawn(move || {
///             for key in (worker..20).step_by(4) {
///                 gather.insert(key, key * key);
///             }
///         });
///     }
///     let squares: Vec<u64> = gather.drain(19).map(Result::unwrap).collect();
///     assert_eq!(squares, (0..20).map(|k| k * k).collect::<Vec<_>>());
/// });
/// ```
pub struct ConcurrentGatheringIterator<T, R: Reclaimer = DefaultReclaimer> {
    entries: Trie<T>,
    failed: AtomicBool,
    readers: EventCount,
    reclaimer: R,
}

// SAFETY: values move between threads (`T: Send`) but are never shared: a slot's value is
// touched only by the thread that holds the slot BUSY, or through `&mut` when dropping
// (invariant 1), so `T: Sync` is not needed.
unsafe impl<T: Send, R: Reclaimer> Send for ConcurrentGatheringIterator<T, R> {}
// SAFETY: as above; every shared access goes through the slots' states, the trie's links and
// the reclaimer.
unsafe impl<T: Send, R: Reclaimer> Sync for ConcurrentGatheringIterator<T, R> {}

impl<T: Send + 'static> ConcurrentGatheringIterator<T> {
    /// An empty gatherer; allocates nothing until the first insertion.
    pub fn new() -> Self {
        Self::with_reclaimer()
    }

    /// An empty gatherer for about `scaling` concurrent producers. The toolkit sizes its
    /// dictionary's shards by `scaling`; slots indexed by key have no shards, so every valid
    /// `scaling` gives the same gatherer as [`new`](Self::new).
    ///
    /// # Panics
    /// If `scaling` is 0, as `ConcurrentDict::with_scaling` does (the API contract).
    ///
    /// ```
    /// let gather = concurrency::ConcurrentGatheringIterator::with_scaling(4);
    /// gather.insert(0, 'a');
    /// assert_eq!(gather.drain(0).next(), Some(Ok('a')));
    /// ```
    pub fn with_scaling(scaling: usize) -> Self {
        assert!(
            scaling > 0,
            "ConcurrentGatheringIterator: scaling must be at least 1"
        );
        Self::new()
    }
}

impl<T: Send + 'static, R: Reclaimer> ConcurrentGatheringIterator<T, R> {
    /// An empty gatherer whose drained leaves are reclaimed through `R`.
    ///
    /// ```
    /// use concurrency::{reclaim::HazardPointers, ConcurrentGatheringIterator};
    /// let gather = ConcurrentGatheringIterator::<_, HazardPointers>::with_reclaimer();
    /// gather.insert(0, "a");
    /// assert_eq!(gather.drain(0).next(), Some(Ok("a")));
    /// ```
    pub fn with_reclaimer() -> Self {
        Self {
            entries: Trie::new(),
            failed: AtomicBool::new(false),
            readers: EventCount::default(),
            reclaimer: R::default(),
        }
    }

    /// Inserts the value of `key`, replacing an earlier one (which is dropped); wakes readers
    /// waiting for it. Any key is accepted: a large one costs the interior nodes on its path
    /// (see "Memory" in the module documentation), never an array up to it.
    pub fn insert(&self, key: u64, value: T) {
        let replaced = self.entries.insert(&mut self.reclaimer.guard(), key, value);
        self.readers.notify_all_after_seqcst();
        drop(replaced);
    }

    /// Records that a producer gave up: readers waiting for a missing key get
    /// [`GatherError::Failed`]; keys already present are still yielded.
    ///
    /// ```
    /// use concurrency::{ConcurrentGatheringIterator, GatherError};
    /// let gather = ConcurrentGatheringIterator::new();
    /// gather.insert(0, "a");
    /// gather.fail();
    /// let read: Vec<_> = gather.drain(5).collect();
    /// assert_eq!(read, [Ok("a"), Err(GatherError::Failed)]);
    /// ```
    pub fn fail(&self) {
        // SeqCst: the change the fence-free wake-up pairs with ("Memory orderings"); its
        // Release half pairs with the Acquire load in `failed`.
        self.failed.store(true, Ordering::SeqCst);
        self.readers.notify_all_after_seqcst();
    }

    fn failed(&self) -> bool {
        // Acquire: pairs with the SeqCst store in `fail`, so the insertions that happened
        // before the failure are visible to the second look in `attempt`.
        self.failed.load(Ordering::Acquire)
    }

    /// Yields the values of keys `0..=max_key` in key order, sleeping while the next key is
    /// missing; with `clear`, each entry is removed once read. Keys above `max_key` are left
    /// alone.
    ///
    /// ```
    /// let gather = concurrency::ConcurrentGatheringIterator::new();
    /// for key in [2, 0, 1, 3] {
    ///     gather.insert(key, key.to_string());
    /// }
    /// let first: Vec<_> = gather.iterator(1, false).map(Result::unwrap).collect();
    /// assert_eq!(first, ["0", "1"]);
    /// let again: Vec<_> = gather.iterator(3, true).map(Result::unwrap).collect();
    /// assert_eq!(again, ["0", "1", "2", "3"]);
    /// ```
    pub fn iterator(&self, max_key: u64, clear: bool) -> Gathered<'_, T, R>
    where
        T: Clone,
    {
        let read = if clear {
            Read::Take
        } else {
            Read::Clone(T::clone)
        };
        Gathered::new(self, max_key, read)
    }

    /// [`iterator`](Self::iterator) with `clear`, moving the values out: no `T: Clone` needed.
    pub fn drain(&self, max_key: u64) -> Gathered<'_, T, R> {
        Gathered::new(self, max_key, Read::Take)
    }

    /// One attempt of a reader at `key`: the value, the failure, or `None` to wait.
    fn attempt(&self, key: u64, read: Read<T>) -> Option<Result<T, GatherError>> {
        let mut guard = self.reclaimer.guard();
        if let Some(value) = self.entries.get(&mut guard, key, read) {
            return Some(Ok(value));
        }
        if !self.failed() {
            return None;
        }
        // Look once more: the insertions that happened before the failure are visible now.
        let value = self.entries.get(&mut guard, key, read);
        Some(value.ok_or(GatherError::Failed))
    }

    /// How many keys hold a value (a snapshot).
    fn entries(&self) -> usize {
        self.entries.count(&mut self.reclaimer.guard())
    }
}

/// The iterator of [`ConcurrentGatheringIterator::iterator`] and
/// [`drain`](ConcurrentGatheringIterator::drain).
pub struct Gathered<'a, T, R: Reclaimer = DefaultReclaimer> {
    source: &'a ConcurrentGatheringIterator<T, R>,
    /// The next key to yield; `None` once the iteration ended.
    next_key: Option<u64>,
    max_key: u64,
    read: Read<T>,
}

impl<'a, T, R: Reclaimer> Gathered<'a, T, R> {
    fn new(source: &'a ConcurrentGatheringIterator<T, R>, max_key: u64, read: Read<T>) -> Self {
        Self {
            source,
            next_key: Some(0),
            max_key,
            read,
        }
    }
}

impl<T: Send + 'static, R: Reclaimer> Iterator for Gathered<'_, T, R> {
    type Item = Result<T, GatherError>;

    fn next(&mut self) -> Option<Self::Item> {
        let key = self.next_key.filter(|&key| key <= self.max_key)?;
        let (source, read) = (self.source, self.read);
        // The first attempt outside the waiting machinery: a present key costs no more.
        let outcome = source.attempt(key, read).unwrap_or_else(|| {
            source
                .readers
                .wait_until(None, || source.attempt(key, read))
                .expect("waiting without a deadline ends only with an outcome")
        });
        self.next_key = match outcome {
            Ok(_) => key.checked_add(1),
            Err(_) => None,
        };
        Some(outcome)
    }
}

impl<T: Send + 'static> Default for ConcurrentGatheringIterator<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static, R: Reclaimer> fmt::Debug for ConcurrentGatheringIterator<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentGatheringIterator")
            .field("entries", &self.entries())
            .field("failed", &self.failed())
            .field("readers", &self.readers)
            .finish()
    }
}

impl<T, R: Reclaimer> fmt::Debug for Gathered<'_, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gathered")
            .field("next_key", &self.next_key)
            .field("max_key", &self.max_key)
            .field("clear", &matches!(self.read, Read::Take))
            .finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
