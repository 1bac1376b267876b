//! What a map costs in memory: live heap bytes per entry after inserting 1 M `u64 → u64` entries,
//! and per remaining entry after removing 90% of them. Not a criterion bench (there is nothing to
//! iterate): run `cargo bench --bench dict_memory` and read the table. Under `cargo test` it runs
//! a short version to check that it works.
//!
//! A counting `#[global_allocator]` around `std::alloc::System` keeps the number of live bytes, so
//! everything a map allocates is counted: nodes, tables, striped counters, locks, and the garbage
//! its reclamation has not yet freed. After the removals every remaining key is looked up once,
//! which checks the contents and gives deferred reclamation the chances a working program would
//! give it. The last column is what is still live after the map is dropped: garbage that a global
//! reclamation scheme frees later (or a leak).
//!
//! The maps are those of `benches/dict.rs` (ours once: pinning does not change what it stores),
//! each hashing with the same seeded foldhash `FixedState`; one thread does everything.

use concurrency::ConcurrentDict;
use dashmap::DashMap;
use foldhash::fast::FixedState;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::{Mutex, RwLock};

/// `System`, counting the bytes it has handed out and not yet been given back.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counting has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, hence from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Relaxed)
}

type Hasher = FixedState;

fn hasher() -> Hasher {
    FixedState::with_seed(0x0123_4567_89ab_cdef)
}

/// A `u64 → u64` map used from one thread.
trait Map {
    fn name() -> &'static str;
    /// An empty map hashing with [`hasher`].
    fn new() -> Self;
    /// Inserts a key; `true` when it was new.
    fn insert(&self, key: u64, value: u64) -> bool;
    /// Removes a key; `true` when it was there.
    fn remove(&self, key: u64) -> bool;
    fn get(&self, key: u64) -> Option<u64>;
    fn len(&self) -> usize;
}

impl Map for ConcurrentDict<u64, u64, Hasher> {
    fn name() -> &'static str {
        "ours"
    }
    fn new() -> Self {
        ConcurrentDict::with_hasher(hasher())
    }
    fn insert(&self, key: u64, value: u64) -> bool {
        ConcurrentDict::insert(self, key, value).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        ConcurrentDict::remove(self, &key).is_some()
    }
    fn get(&self, key: u64) -> Option<u64> {
        ConcurrentDict::get(self, &key)
    }
    fn len(&self) -> usize {
        ConcurrentDict::len(self)
    }
}

impl Map for DashMap<u64, u64, Hasher> {
    fn name() -> &'static str {
        "dashmap"
    }
    fn new() -> Self {
        DashMap::with_hasher(hasher())
    }
    fn insert(&self, key: u64, value: u64) -> bool {
        DashMap::insert(self, key, value).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        DashMap::remove(self, &key).is_some()
    }
    fn get(&self, key: u64) -> Option<u64> {
        DashMap::get(self, &key).map(|v| *v)
    }
    fn len(&self) -> usize {
        DashMap::len(self)
    }
}

impl Map for papaya::HashMap<u64, u64, Hasher> {
    fn name() -> &'static str {
        "papaya"
    }
    fn new() -> Self {
        papaya::HashMap::with_hasher(hasher())
    }
    fn insert(&self, key: u64, value: u64) -> bool {
        self.pin().insert(key, value).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        self.pin().remove(&key).is_some()
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.pin().get(&key).copied()
    }
    fn len(&self) -> usize {
        papaya::HashMap::len(self)
    }
}

impl Map for scc::HashMap<u64, u64, Hasher> {
    fn name() -> &'static str {
        "scc"
    }
    fn new() -> Self {
        scc::HashMap::with_hasher(hasher())
    }
    fn insert(&self, key: u64, value: u64) -> bool {
        self.upsert_sync(key, value).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        self.remove_sync(&key).is_some()
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.read_sync(&key, |_, v| *v)
    }
    fn len(&self) -> usize {
        scc::HashMap::len(self)
    }
}

impl Map for flurry::HashMap<u64, u64, Hasher> {
    fn name() -> &'static str {
        "flurry"
    }
    fn new() -> Self {
        flurry::HashMap::with_hasher(hasher())
    }
    fn insert(&self, key: u64, value: u64) -> bool {
        self.pin().insert(key, value).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        self.pin().remove(&key).is_some()
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.pin().get(&key).copied()
    }
    fn len(&self) -> usize {
        flurry::HashMap::len(self)
    }
}

type StdMap = HashMap<u64, u64, Hasher>;

impl Map for RwLock<StdMap> {
    fn name() -> &'static str {
        "RwLock<HashMap>"
    }
    fn new() -> Self {
        RwLock::new(HashMap::with_hasher(hasher()))
    }
    fn insert(&self, key: u64, value: u64) -> bool {
        self.write().unwrap().insert(key, value).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        self.write().unwrap().remove(&key).is_some()
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.read().unwrap().get(&key).copied()
    }
    fn len(&self) -> usize {
        self.read().unwrap().len()
    }
}

impl Map for Mutex<StdMap> {
    fn name() -> &'static str {
        "Mutex<HashMap>"
    }
    fn new() -> Self {
        Mutex::new(HashMap::with_hasher(hasher()))
    }
    fn insert(&self, key: u64, value: u64) -> bool {
        self.lock().unwrap().insert(key, value).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        self.lock().unwrap().remove(&key).is_some()
    }
    fn get(&self, key: u64) -> Option<u64> {
        self.lock().unwrap().get(&key).copied()
    }
    fn len(&self) -> usize {
        self.lock().unwrap().len()
    }
}

/// Live bytes per entry, formatted with the total.
fn per_entry(bytes: isize, entries: u64) -> String {
    format!(
        "{:.1} B ({:.1} MiB)",
        bytes as f64 / entries as f64,
        bytes as f64 / (1 << 20) as f64
    )
}

/// Fills a fresh map with `n` entries, removes 90% of them and prints a table row.
fn row<M: Map>(n: u64) {
    let value = |k: u64| k ^ 0xdead_beef;
    let base = live();
    let map = M::new();
    (0..n).for_each(|k| assert!(map.insert(k, value(k)), "insert({k}) of a new key"));
    assert_eq!(map.len(), n as usize, "entries lost or duplicated");
    let full = live() - base;

    (0..n)
        .filter(|k| k % 10 != 0)
        .for_each(|k| assert!(map.remove(k), "remove({k}) missed"));
    (0..n)
        .step_by(10)
        .for_each(|k| assert_eq!(map.get(k), Some(value(k)), "entry {k} lost"));
    let kept = n.div_ceil(10);
    assert_eq!(map.len(), kept as usize, "entries lost or duplicated");
    let thinned = live() - base;

    drop(map);
    let after_drop = live() - base;
    println!(
        "| {} | {} | {} | {after_drop} B |",
        M::name(),
        per_entry(full, n),
        per_entry(thinned, kept),
    );
}

fn main() {
    // `cargo test --benches` passes no `--bench`: run a short version that only checks it works.
    let full = std::env::args().any(|a| a == "--bench");
    let n: u64 = if full { 1_000_000 } else { 10_000 };
    println!(
        "live heap bytes per entry: {n} entries inserted, then 90% removed (per remaining entry)"
    );
    println!("| map | {n} entries | after removing 90% | live after drop |");
    println!("|---|---|---|---|");
    row::<ConcurrentDict<u64, u64, Hasher>>(n);
    row::<DashMap<u64, u64, Hasher>>(n);
    row::<papaya::HashMap<u64, u64, Hasher>>(n);
    row::<scc::HashMap<u64, u64, Hasher>>(n);
    row::<flurry::HashMap<u64, u64, Hasher>>(n);
    row::<RwLock<StdMap>>(n);
    row::<Mutex<StdMap>>(n);
}
