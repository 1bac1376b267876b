//! Concurrent `u64 → u64` maps: ours (plain and pinned), dashmap, papaya, scc, flurry,
//! `RwLock<HashMap>` and `Mutex<HashMap>`, behind one trait, each with its fast path.

use concurrency::{ConcurrentDict, PinnedDict};
use dashmap::DashMap;
use foldhash::fast::FixedState;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// Operations per session: how long a thread keeps one guard where the map has guards.
pub(crate) const BATCH: usize = 1024;

/// Every map's hasher.
pub(crate) type Hasher = FixedState;

pub(crate) fn hasher() -> Hasher {
    FixedState::with_seed(0x0123_4567_89ab_cdef)
}

/// A value carries its key in its high half and a version in its low half.
pub(crate) fn value(key: u64, version: u64) -> u64 {
    debug_assert!(key < 1 << 32);
    key << 32 | (version & 0xffff_ffff)
}

/// The key a value belongs to.
pub(crate) fn key_of(value: u64) -> u64 {
    value >> 32
}

/// A concurrent `u64 → u64` map, shared by reference.
pub(crate) trait Map: Sync {
    /// A thread's handle for one batch of operations: the map itself, or a pinned guard where
    /// the competitor has one.
    type Session<'a>: Session
    where
        Self: 'a;
    fn name() -> String;
    /// An empty map hashing with [`hasher`].
    fn new() -> Self;
    fn session(&self) -> Self::Session<'_>;
    fn len(&self) -> usize;
}

/// The operations, as one thread does them within a session.
pub(crate) trait Session {
    fn get(&self, key: u64) -> Option<u64>;
    /// Inserts or replaces; returns the previous value.
    fn insert(&self, key: u64, value: u64) -> Option<u64>;
    /// Returns the removed value.
    fn remove(&self, key: u64) -> Option<u64>;
    /// Replaces the value of a present key; `false` when the key is absent.
    fn update(&self, key: u64, value: u64) -> bool;
}

pub(crate) type Dict = ConcurrentDict<u64, u64, Hasher>;

/// Ours, every call on its own (each one pins internally).
impl Map for Dict {
    type Session<'a> = &'a Self;
    fn name() -> String {
        "ours".into()
    }
    fn new() -> Self {
        ConcurrentDict::with_hasher(hasher())
    }
    fn session(&self) -> &Self {
        self
    }
    fn len(&self) -> usize {
        Dict::len(self)
    }
}

impl Session for &Dict {
    fn get(&self, key: u64) -> Option<u64> {
        Dict::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        Dict::insert(self, key, value)
    }
    fn remove(&self, key: u64) -> Option<u64> {
        Dict::remove(self, &key)
    }
    fn update(&self, key: u64, value: u64) -> bool {
        // No in-place update: the values a reader may hold are immutable. Over a present key an
        // insert replaces the value and hands back the old one.
        Dict::insert(self, key, value).is_some()
    }
}

/// Ours through [`ConcurrentDict::pin`]: one guard per session.
pub(crate) struct Pinned(Dict);

impl Map for Pinned {
    type Session<'a> = PinnedDict<'a, u64, u64, Hasher>;
    fn name() -> String {
        "ours/pinned".into()
    }
    fn new() -> Self {
        Self(Dict::new())
    }
    fn session(&self) -> Self::Session<'_> {
        self.0.pin()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl Session for PinnedDict<'_, u64, u64, Hasher> {
    fn get(&self, key: u64) -> Option<u64> {
        PinnedDict::get(self, &key)
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        PinnedDict::insert(self, key, value)
    }
    fn remove(&self, key: u64) -> Option<u64> {
        PinnedDict::remove(self, &key)
    }
    fn update(&self, key: u64, value: u64) -> bool {
        PinnedDict::insert(self, key, value).is_some()
    }
}

impl Map for DashMap<u64, u64, Hasher> {
    type Session<'a> = &'a Self;
    fn name() -> String {
        "dashmap".into()
    }
    fn new() -> Self {
        DashMap::with_hasher(hasher())
    }
    fn session(&self) -> &Self {
        self
    }
    fn len(&self) -> usize {
        DashMap::len(self)
    }
}

impl Session for &DashMap<u64, u64, Hasher> {
    fn get(&self, key: u64) -> Option<u64> {
        DashMap::get(self, &key).map(|v| *v)
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        DashMap::insert(self, key, value)
    }
    fn remove(&self, key: u64) -> Option<u64> {
        DashMap::remove(self, &key).map(|(_, v)| v)
    }
    fn update(&self, key: u64, value: u64) -> bool {
        DashMap::get_mut(self, &key)
            .map(|mut v| *v = value)
            .is_some()
    }
}

pub(crate) type Papaya = papaya::HashMap<u64, u64, Hasher>;
pub(crate) type PapayaRef<'a> = papaya::HashMapRef<'a, u64, u64, Hasher, papaya::LocalGuard<'a>>;

/// papaya through `pin()`: one guard per session, the fast path its documentation recommends.
impl Map for Papaya {
    type Session<'a> = PapayaRef<'a>;
    fn name() -> String {
        "papaya".into()
    }
    fn new() -> Self {
        papaya::HashMap::with_hasher(hasher())
    }
    fn session(&self) -> PapayaRef<'_> {
        self.pin()
    }
    fn len(&self) -> usize {
        Papaya::len(self)
    }
}

impl Session for PapayaRef<'_> {
    fn get(&self, key: u64) -> Option<u64> {
        PapayaRef::get(self, &key).copied()
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        PapayaRef::insert(self, key, value).copied()
    }
    fn remove(&self, key: u64) -> Option<u64> {
        PapayaRef::remove(self, &key).copied()
    }
    fn update(&self, key: u64, value: u64) -> bool {
        PapayaRef::update(self, key, |_| value).is_some()
    }
}

pub(crate) type Scc = scc::HashMap<u64, u64, Hasher>;

impl Map for Scc {
    type Session<'a> = &'a Self;
    fn name() -> String {
        "scc".into()
    }
    fn new() -> Self {
        scc::HashMap::with_hasher(hasher())
    }
    fn session(&self) -> &Self {
        self
    }
    fn len(&self) -> usize {
        Scc::len(self)
    }
}

impl Session for &Scc {
    fn get(&self, key: u64) -> Option<u64> {
        Scc::read_sync(self, &key, |_, v| *v)
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        // `upsert`, not `insert`, which refuses a present key: the same semantics as the others.
        Scc::upsert_sync(self, key, value)
    }
    fn remove(&self, key: u64) -> Option<u64> {
        Scc::remove_sync(self, &key).map(|(_, v)| v)
    }
    fn update(&self, key: u64, value: u64) -> bool {
        Scc::update_sync(self, &key, |_, v| *v = value).is_some()
    }
}

pub(crate) type Flurry = flurry::HashMap<u64, u64, Hasher>;
pub(crate) type FlurryRef<'a> = flurry::HashMapRef<'a, u64, u64, Hasher>;

/// flurry through `pin()`: one guard per session, as its documentation advises.
impl Map for Flurry {
    type Session<'a> = FlurryRef<'a>;
    fn name() -> String {
        "flurry".into()
    }
    fn new() -> Self {
        flurry::HashMap::with_hasher(hasher())
    }
    fn session(&self) -> FlurryRef<'_> {
        self.pin()
    }
    fn len(&self) -> usize {
        Flurry::len(self)
    }
}

impl Session for FlurryRef<'_> {
    fn get(&self, key: u64) -> Option<u64> {
        FlurryRef::get(self, &key).copied()
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        FlurryRef::insert(self, key, value).copied()
    }
    fn remove(&self, key: u64) -> Option<u64> {
        FlurryRef::remove(self, &key).copied()
    }
    fn update(&self, key: u64, value: u64) -> bool {
        FlurryRef::compute_if_present(self, &key, |_, _| Some(value)).is_some()
    }
}

pub(crate) type StdMap = HashMap<u64, u64, Hasher>;

impl Map for RwLock<StdMap> {
    type Session<'a> = &'a Self;
    fn name() -> String {
        "RwLock<HashMap>".into()
    }
    fn new() -> Self {
        RwLock::new(HashMap::with_hasher(hasher()))
    }
    fn session(&self) -> &Self {
        self
    }
    fn len(&self) -> usize {
        self.read().unwrap().len()
    }
}

impl Session for &RwLock<StdMap> {
    fn get(&self, key: u64) -> Option<u64> {
        self.read().unwrap().get(&key).copied()
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        self.write().unwrap().insert(key, value)
    }
    fn remove(&self, key: u64) -> Option<u64> {
        self.write().unwrap().remove(&key)
    }
    fn update(&self, key: u64, value: u64) -> bool {
        self.write()
            .unwrap()
            .get_mut(&key)
            .map(|v| *v = value)
            .is_some()
    }
}

impl Map for Mutex<StdMap> {
    type Session<'a> = &'a Self;
    fn name() -> String {
        "Mutex<HashMap>".into()
    }
    fn new() -> Self {
        Mutex::new(HashMap::with_hasher(hasher()))
    }
    fn session(&self) -> &Self {
        self
    }
    fn len(&self) -> usize {
        self.lock().unwrap().len()
    }
}

impl Session for &Mutex<StdMap> {
    fn get(&self, key: u64) -> Option<u64> {
        self.lock().unwrap().get(&key).copied()
    }
    fn insert(&self, key: u64, value: u64) -> Option<u64> {
        self.lock().unwrap().insert(key, value)
    }
    fn remove(&self, key: u64) -> Option<u64> {
        self.lock().unwrap().remove(&key)
    }
    fn update(&self, key: u64, value: u64) -> bool {
        self.lock()
            .unwrap()
            .get_mut(&key)
            .map(|v| *v = value)
            .is_some()
    }
}
