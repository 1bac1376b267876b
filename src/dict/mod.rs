//! `ConcurrentDict`: a lock-free hash map that grows without stopping anyone.
//!
//! # Algorithm
//! Shalev & Shavit's split-ordered list (JACM 2006) over a Harris–Michael lock-free list: see
//! `split_ordered.rs` for the algorithm, its invariants and memory orderings. Buckets are
//! shortcuts into one sorted list, initialized lazily from their parent bucket; the table
//! doubles by load factor without moving any entry, and the bucket directory grows by
//! segments allocated on demand (`directory.rs`), never by a stop-the-world copy.
//!
//! # Guarantees
//! * Lock-free: no operation waits for another; reads never block, a resize stops nobody.
//! * Linearizable `get`, `insert`, `remove`, `get_or_insert_with`, `contains_key`: each takes
//!   effect atomically at one instant between its call and its return.
//! * `remove`: of concurrent removes of one key exactly one gets `Some`.
//! * `get_or_insert_with`: one winner; losers get the winner's value and their `make` value is
//!   dropped; `make` is not called when the key is present.
//! * `len` is a sum of striped counters: exact when quiescent, a snapshot otherwise.
//! * `iter`, `as_dict`, `clear`, `Debug`: weakly consistent, safe during updates; every key
//!   present for the whole call is seen exactly once.
//! * Values are returned as clones (`V: Clone`): a value cannot be moved out while a reader may
//!   still hold `&V`. `get_with` reads in place.
//!
//! # Reclamation
//! Removed and replaced entries are retired through `R` (epochs by default); nothing is
//! freed while a reader may hold it.

mod counter;
mod directory;
mod node;
mod split_ordered;

use crate::reclaim::{DefaultReclaimer, Reclaimer};
use split_ordered::SplitOrdered;
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};

/// The expected number of concurrently writing threads when none is given (as in the original).
const DEFAULT_SCALING: usize = 17;

/// A lock-free concurrent hash map: its algorithm, invariants and orderings are documented at the top of `src/dict/mod.rs`.
///
/// ```
/// use concurrency::ConcurrentDict;
///
/// let words = ConcurrentDict::new();
/// std::thread::scope(|s| {
///     for text in ["a b a", "b c", "a"] {
///         let words = &words;
///         s.spawn(move || {
///             for word in text.split(' ') {
///                 // Atomic read-modify-write per key: count by replacing under get_or_insert.
///                 let counter = words.get_or_insert_with(word.to_string(), || {
///                     std::sync::Arc::new(concurrency::AtomicInt64::new(0))
///                 });
///                 counter.incr();
///             }
///         });
///     }
/// });
/// assert_eq!(words.get("a").unwrap().get(), 3);
/// assert_eq!(words.len(), 3);
/// ```
pub struct ConcurrentDict<K, V, S = RandomState, R: Reclaimer = DefaultReclaimer> {
    table: SplitOrdered<K, V, S, R>,
}

/// A [`ConcurrentDict`] with one reclamation guard reused across many operations (see
/// [`ConcurrentDict::pin`]). Holding it delays reclamation, so keep it for a batch, not forever.
pub struct PinnedDict<'a, K, V, S = RandomState, R: Reclaimer = DefaultReclaimer> {
    dict: &'a ConcurrentDict<K, V, S, R>,
    /// In a cell so that the methods take `&self`; a call made from inside another (from a
    /// `get_with` closure) finds it borrowed and takes a guard of its own.
    guard: RefCell<R::Guard<'a>>,
}

impl<K, V> ConcurrentDict<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// An empty map for about 17 concurrent writers.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::<u32, u32>::new();
    /// assert!(d.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_scaling(DEFAULT_SCALING)
    }

    /// An empty map sized for `scaling` concurrently writing threads (counter stripes and
    /// initial buckets).
    ///
    /// # Panics
    /// If `scaling` is 0.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::<u32, u32>::with_scaling(4);
    /// d.insert(1, 2);
    /// assert_eq!(d.get(&1), Some(2));
    /// ```
    pub fn with_scaling(scaling: usize) -> Self {
        Self::with_scaling_and_hasher(scaling, RandomState::new())
    }

    /// An empty map with room for about `capacity` entries before its first doubling.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::<u32, u32>::with_capacity(1000);
    /// d.insert(1, 1);
    /// assert_eq!(d.len(), 1);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, RandomState::new())
    }
}

impl<K, V, S, R> ConcurrentDict<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaimer,
{
    /// An empty map hashing with `hasher`.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let d = concurrency::ConcurrentDict::<u8, u8, _>::with_hasher(RandomState::new());
    /// d.insert(1, 1);
    /// assert!(d.contains_key(&1));
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_scaling_and_hasher(DEFAULT_SCALING, hasher)
    }

    /// An empty map for `scaling` concurrent writers, hashing with `hasher`.
    ///
    /// # Panics
    /// If `scaling` is 0.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let d = concurrency::ConcurrentDict::<u8, u8, _>::with_scaling_and_hasher(2, RandomState::new());
    /// assert_eq!(d.insert(1, 1), None);
    /// ```
    pub fn with_scaling_and_hasher(scaling: usize, hasher: S) -> Self {
        Self::with_table(scaling, 0, hasher)
    }

    /// An empty map with room for about `capacity` entries before its first doubling, hashing
    /// with `hasher`.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let d = concurrency::ConcurrentDict::<u8, u8, _>::with_capacity_and_hasher(64, RandomState::new());
    /// assert_eq!(d.insert(1, 1), None);
    /// ```
    pub fn with_capacity_and_hasher(capacity: usize, hasher: S) -> Self {
        Self::with_table(DEFAULT_SCALING, capacity, hasher)
    }

    fn with_table(scaling: usize, capacity: usize, hasher: S) -> Self {
        assert!(scaling > 0, "ConcurrentDict: scaling must be at least 1");
        let buckets = scaling.max(capacity / split_ordered::LOAD_FACTOR);
        Self {
            table: SplitOrdered::new(buckets, scaling, hasher),
        }
    }

    /// A guard reused across many operations: saves the per-call reclamation setup.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// let pinned = d.pin();
    /// for i in 0..100 {
    ///     pinned.insert(i, i * i);
    /// }
    /// assert_eq!(pinned.get(&7), Some(49));
    /// ```
    pub fn pin(&self) -> PinnedDict<'_, K, V, S, R> {
        PinnedDict {
            dict: self,
            guard: RefCell::new(self.table.reclaimer.guard()),
        }
    }

    /// Inserts or replaces the value of `key`; returns the previous value.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// assert_eq!(d.insert("k", 1), None);
    /// assert_eq!(d.insert("k", 2), Some(1));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V>
    where
        V: Clone,
    {
        self.table
            .insert(&mut self.table.reclaimer.guard(), key, value)
    }

    /// A clone of the value of `key`.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(String::from("k"), 1);
    /// assert_eq!(d.get("k"), Some(1)); // look up String keys by &str
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_with(key, V::clone)
    }

    /// Calls `f` on the value of `key` in place, without cloning it.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, vec![1, 2, 3]);
    /// assert_eq!(d.get_with(&1, |v| v.len()), Some(3));
    /// ```
    pub fn get_with<Q, T>(&self, key: &Q, f: impl FnOnce(&V) -> T) -> Option<T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.table
            .get_with(&mut self.table.reclaimer.guard(), key, f)
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, ());
    /// assert!(d.contains_key(&1) && !d.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_with(key, |_| ()).is_some()
    }

    /// Removes `key`; returns its value. Of concurrent removes of one key, exactly one gets it.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, 'a');
    /// assert_eq!(d.remove(&1), Some('a'));
    /// assert_eq!(d.remove(&1), None);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.table.remove(&mut self.table.reclaimer.guard(), key)
    }

    /// Python's `setdefault`: the value of `key`, inserting `make()` first if it is absent.
    /// Atomic: of racing calls one inserts, the others get its value (their `make` result, if
    /// they made one, is dropped); `make` is not called when the key is present.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// assert_eq!(d.get_or_insert_with(1, || 10), 10);
    /// assert_eq!(d.get_or_insert_with(1, || unreachable!()), 10);
    /// ```
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> V
    where
        V: Clone,
    {
        let mut guard = self.table.reclaimer.guard();
        self.table.get_or_insert_with(&mut guard, key, make)
    }

    /// The number of entries: exact when nothing runs concurrently, a snapshot otherwise.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, 1);
    /// d.insert(2, 2);
    /// assert_eq!(d.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether [`len`](Self::len) is zero.
    ///
    /// ```
    /// assert!(concurrency::ConcurrentDict::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry present when it passes (weakly consistent).
    ///
    /// ```
    /// let d: concurrency::ConcurrentDict<_, _> = (0..10).map(|i| (i, i)).collect();
    /// d.clear();
    /// assert!(d.is_empty());
    /// ```
    pub fn clear(&self)
    where
        K: Clone,
        V: Clone,
    {
        let pinned = self.pin();
        let mut keys = Vec::new();
        pinned.with_guard(|guard| self.table.for_each(guard, |key, _| keys.push(key.clone())));
        for key in keys {
            pinned.remove(&key);
        }
    }

    /// A weakly consistent snapshot as a std `HashMap`.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, "one");
    /// assert_eq!(d.as_dict()[&1], "one");
    /// ```
    pub fn as_dict(&self) -> HashMap<K, V>
    where
        K: Clone,
        V: Clone,
    {
        self.iter().collect()
    }

    /// The entries, weakly consistent: every key present for the whole iteration is seen
    /// exactly once. (The entries are gathered when the iterator is made.)
    ///
    /// ```
    /// let d: concurrency::ConcurrentDict<_, _> = [(1, 'a'), (2, 'b')].into_iter().collect();
    /// let mut entries: Vec<_> = d.iter().collect();
    /// entries.sort();
    /// assert_eq!(entries, [(1, 'a'), (2, 'b')]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (K, V)>
    where
        K: Clone,
        V: Clone,
    {
        let mut guard = self.table.reclaimer.guard();
        let mut entries = Vec::new();
        self.table.for_each(&mut guard, |key, value| {
            entries.push((key.clone(), value.clone()));
        });
        entries.into_iter()
    }
}

impl<'a, K, V, S, R> PinnedDict<'a, K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaimer,
{
    /// Runs `f` with the pinned guard, or with a fresh one if a call further up the stack
    /// holds it.
    fn with_guard<T>(&self, f: impl FnOnce(&mut R::Guard<'a>) -> T) -> T {
        match self.guard.try_borrow_mut() {
            Ok(mut guard) => f(&mut guard),
            Err(_) => f(&mut self.dict.table.reclaimer.guard()),
        }
    }

    /// [`ConcurrentDict::insert`] through this guard.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// assert_eq!(d.pin().insert(1, 1), None);
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V>
    where
        V: Clone,
    {
        self.with_guard(|guard| self.dict.table.insert(guard, key, value))
    }

    /// [`ConcurrentDict::get`] through this guard.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, 1);
    /// assert_eq!(d.pin().get(&1), Some(1));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_with(key, V::clone)
    }

    /// [`ConcurrentDict::get_with`] through this guard.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, String::from("one"));
    /// assert_eq!(d.pin().get_with(&1, |v| v.len()), Some(3));
    /// ```
    pub fn get_with<Q, T>(&self, key: &Q, f: impl FnOnce(&V) -> T) -> Option<T>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.with_guard(|guard| self.dict.table.get_with(guard, key, f))
    }

    /// [`ConcurrentDict::contains_key`] through this guard.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, 1);
    /// assert!(d.pin().contains_key(&1));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_with(key, |_| ()).is_some()
    }

    /// [`ConcurrentDict::remove`] through this guard.
    ///
    /// ```
    /// let d = concurrency::ConcurrentDict::new();
    /// d.insert(1, 1);
    /// assert_eq!(d.pin().remove(&1), Some(1));
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.with_guard(|guard| self.dict.table.remove(guard, key))
    }
}

/// For any default-constructible hasher, as std's `HashMap`.
impl<K, V, S, R> Default for ConcurrentDict<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Default,
    R: Reclaimer,
{
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, V, S, R> FromIterator<(K, V)> for ConcurrentDict<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Default,
    R: Reclaimer,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut dict = Self::default();
        dict.extend(entries);
        dict
    }
}

impl<K, V, S, R> Extend<(K, V)> for ConcurrentDict<K, V, S, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaimer,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        let pinned = self.pin();
        for (key, value) in entries {
            pinned.insert(key, value);
        }
    }
}

impl<K, V, S, R> fmt::Debug for ConcurrentDict<K, V, S, R>
where
    K: Hash + Eq + Clone + fmt::Debug + Send + Sync + 'static,
    V: Clone + fmt::Debug + Send + Sync + 'static,
    S: BuildHasher,
    R: Reclaimer,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S, R: Reclaimer> fmt::Debug for PinnedDict<'_, K, V, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedDict").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
