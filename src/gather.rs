//! `ConcurrentGatheringIterator<T>`: values inserted by key from many threads, read back in key
//! order.
//!
//! # Design
//! Producers insert `(key, value)` pairs into a [`ConcurrentDict`] in any order; a reader walks
//! the keys `0, 1, 2, …` and, when the next key is missing, sleeps on an [`EventCount`] until an
//! insertion (or [`fail`](ConcurrentGatheringIterator::fail)) wakes it. Each entry holds its
//! value in a small take-once cell, so a clearing reader moves values out without `T: Clone`.
//!
//! # Invariants
//! 1. A key's cell holds a value from its insertion until a clearing reader takes it; a repeated
//!    insertion replaces the cell.
//! 2. `failed` only goes from `false` to `true`.
//! 3. Every change a waiting reader may be waiting for (an insertion, the failure) is followed
//!    by a notification of the event count, so no reader sleeps through it.
//!
//! # Progress
//! `insert` and `fail` are lock-free (the dict's insertion, then a wait-set notification that
//! takes a lock only when a reader sleeps); readers block, sleeping, by design.
//!
//! # Memory orderings
//! * `failed`: the store is `Release` and the loads `Acquire`, so a reader that sees the
//!   failure also sees every insertion the failing thread made before it.
//! * Values are published by the dict (see its module documentation); the event count's fences
//!   order each change before the check of sleeping readers.

use crate::dict::ConcurrentDict;
use crate::event_count::EventCount;
use crate::sync::{Arc, AtomicBool, Mutex, Ordering};
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::BuildHasherDefault;

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

/// The entries' hasher: fixed, because the keys are positions the producers choose, not
/// adversarial input, and a fixed hasher keeps model-checker executions replayable.
type KeyHasher = BuildHasherDefault<DefaultHasher>;

/// A value that a clearing reader can take out of a shared entry (invariant 1).
struct Cell<T>(Mutex<Option<T>>);

impl<T> Cell<T> {
    fn with<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        // Nothing panics while the lock is held except `T::clone`, which leaves the value intact.
        f(&mut self.0.lock().unwrap_or_else(|poison| poison.into_inner()))
    }
}

/// Values inserted by key from many threads, read back in key order: documented (design,
/// invariants, orderings) at the top of `src/gather.rs`.
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
pub struct ConcurrentGatheringIterator<T> {
    entries: ConcurrentDict<u64, Arc<Cell<T>>, KeyHasher>,
    failed: AtomicBool,
    readers: EventCount,
}

impl<T: Send + 'static> ConcurrentGatheringIterator<T> {
    /// An empty gatherer for about 17 concurrent producers.
    pub fn new() -> Self {
        Self::from_entries(ConcurrentDict::with_hasher(KeyHasher::default()))
    }

    /// An empty gatherer for about `scaling` concurrent producers.
    ///
    /// # Panics
    /// If `scaling` is 0.
    pub fn with_scaling(scaling: usize) -> Self {
        Self::from_entries(ConcurrentDict::with_scaling_and_hasher(
            scaling,
            KeyHasher::default(),
        ))
    }

    fn from_entries(entries: ConcurrentDict<u64, Arc<Cell<T>>, KeyHasher>) -> Self {
        Self {
            entries,
            failed: AtomicBool::new(false),
            readers: EventCount::default(),
        }
    }

    /// Inserts the value of `key`, replacing an earlier one; wakes readers waiting for it.
    pub fn insert(&self, key: u64, value: T) {
        self.entries
            .insert(key, Arc::new(Cell(Mutex::new(Some(value)))));
        self.readers.notify_all();
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
        // Release: pairs with the Acquire load in `failed`.
        self.failed.store(true, Ordering::Release);
        self.readers.notify_all();
    }

    fn failed(&self) -> bool {
        // Acquire: pairs with the Release store in `fail`.
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
    pub fn iterator(&self, max_key: u64, clear: bool) -> Gathered<'_, T>
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
    pub fn drain(&self, max_key: u64) -> Gathered<'_, T> {
        Gathered::new(self, max_key, Read::Take)
    }

    /// The value of `key`, if present, read as `read` says.
    fn read(&self, key: u64, read: Read<T>) -> Option<T> {
        match read {
            Read::Clone(clone) => self
                .entries
                .get_with(&key, |cell| cell.with(|value| value.as_ref().map(clone)))
                .flatten(),
            Read::Take => self
                .entries
                .remove(&key)
                .and_then(|cell| cell.with(Option::take)),
        }
    }
}

/// How a reader gets a value out of its entry.
enum Read<T> {
    /// Leave the entry, clone the value.
    Clone(fn(&T) -> T),
    /// Remove the entry, move the value out.
    Take,
}

impl<T> Clone for Read<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Read<T> {}

/// The iterator of [`ConcurrentGatheringIterator::iterator`] and
/// [`drain`](ConcurrentGatheringIterator::drain).
pub struct Gathered<'a, T> {
    source: &'a ConcurrentGatheringIterator<T>,
    /// The next key to yield; `None` once the iteration ended.
    next_key: Option<u64>,
    max_key: u64,
    read: Read<T>,
}

impl<'a, T> Gathered<'a, T> {
    fn new(source: &'a ConcurrentGatheringIterator<T>, max_key: u64, read: Read<T>) -> Self {
        Self {
            source,
            next_key: Some(0),
            max_key,
            read,
        }
    }
}

impl<T: Send + 'static> Iterator for Gathered<'_, T> {
    type Item = Result<T, GatherError>;

    fn next(&mut self) -> Option<Self::Item> {
        let key = self.next_key.filter(|&key| key <= self.max_key)?;
        let (source, read) = (self.source, self.read);
        let outcome = source
            .readers
            .wait_until(None, || match source.read(key, read) {
                Some(value) => Some(Ok(value)),
                None if source.failed() => Some(Err(GatherError::Failed)),
                None => None,
            })
            .expect("waiting without a deadline ends only with an outcome");
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

impl<T: Send + 'static> fmt::Debug for ConcurrentGatheringIterator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentGatheringIterator")
            .field("entries", &self.entries.len())
            .field("failed", &self.failed())
            .field("readers", &self.readers)
            .finish()
    }
}

impl<T> fmt::Debug for Gathered<'_, T> {
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
