//! `ConcurrentDict` against its peers.
//!
//! [`ConcurrentDict`], called plainly (`ours`) and through a [`PinnedDict`] (`ours/pinned`),
//! against dashmap, papaya, scc's `HashMap`, flurry, `RwLock<HashMap>` and `Mutex<HashMap>`.
//! Keys and values are `u64`, and every map hashes with the same seeded foldhash `FixedState`,
//! so the maps differ and the hash function does not.
//!
//! * `dict/read_heavy/*`: 98% get, 1% insert, 1% remove on a map prefilled with 2^16 entries.
//! * `dict/exchange/*`: 10% get, 40% insert, 40% remove, 10% update on a map prefilled with
//!   2^16 entries: its size holds while its entries churn.
//! * `dict/rapid_grow/*`: 5% get, 80% insert, 5% remove, 10% update from an empty map: growing
//!   under load.
//! * `dict/hot_keys/*`: 95% get, 5% update of 2^16 keys, all present, drawn from a Zipf(0.99)
//!   distribution, so every thread hammers the same few keys.
//!
//! A get looks up a present key, an insert adds a new one, a remove or an update takes a present
//! one; an update replaces the value in place where the map can (ours cannot: it inserts over
//! the key and must get the old value back). In the first three workloads each thread owns its
//! keys (`key % threads == thread`), so it knows the exact answer of every operation, and
//! afterwards the map must hold exactly the entries expected. In `hot_keys` the keys are shared
//! and a value carries its key in its high half, so a get checks that it read its key's value.
//! A fast wrong answer fails the bench instead of winning it.
//!
//! Every competitor sits behind one trait. A thread works in sessions of [`BATCH`](common::maps::BATCH) operations:
//! ours through one `pin()` guard (`ours/pinned`), papaya and flurry through one pinned guard
//! (their fast path), the others through the map itself. A session does not outlive its batch,
//! so deferred reclamation runs, and is paid for, inside the timed section. The operation streams
//! come from a seeded SplitMix64 per thread and are built before the clock starts, the same
//! streams for every map. Threads are released together by a `Barrier` and only the parallel
//! section is timed (`iter_custom`); the thread count is the `BenchmarkId` parameter and the
//! throughput is operations across all threads. One criterion iteration is a whole session per
//! thread: each sample builds and prefills a fresh map (untimed), and criterion sizes its samples
//! from wall time, so with one operation per iteration a short run measured a few dozen
//! operations on a map just built (0.34 M gets/s with 0.9 s samples against 1.6 M with 3 s,
//! for ours; the sharded maps barely moved). Four threads oversubscribe the two-core bench
//! machine on purpose: there a preempted lock holder stalls every thread that needs its lock.

mod common;

use common::maps::{
    key_of, value, Dict, Flurry, Hasher, Map, Papaya, Pinned, Scc, Session, StdMap, BATCH,
};
use common::timed_parallel;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dashmap::DashMap;
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::Duration;

const THREADS: [usize; 3] = [1, 2, 4];

/// Entries in a prefilled map, and the number of shared keys in `hot_keys`.
const PREFILL: u64 = 1 << 16;

/// The exponent of the `hot_keys` Zipf distribution.
const ZIPF_EXPONENT: f64 = 0.99;

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast and good enough to draw workloads.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` by multiply-and-shift; the bias, below `n / 2^64`, does not matter here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The cumulative distribution of Zipf(`ZIPF_EXPONENT`) over ranks `0..PREFILL`.
fn zipf_cdf() -> &'static [f64] {
    static CDF: OnceLock<Vec<f64>> = OnceLock::new();
    CDF.get_or_init(|| {
        let mut sum = 0.0;
        let mut cdf: Vec<f64> = (1..=PREFILL)
            .map(|rank| {
                sum += (rank as f64).powf(-ZIPF_EXPONENT);
                sum
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= sum);
        cdf
    })
}

/// A rank drawn from [`zipf_cdf`] by inversion: 0 is the most frequent.
fn zipf(rng: &mut Rng, cdf: &[f64]) -> u64 {
    let u = rng.unit();
    cdf.partition_point(|&c| c <= u).min(cdf.len() - 1) as u64
}

/// Percentages of each operation; they add up to 100.
#[derive(Clone, Copy)]
struct Mix {
    get: u64,
    insert: u64,
    remove: u64,
    update: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get,
    Insert,
    Remove,
    Update,
}

impl Mix {
    fn pick(&self, rng: &mut Rng) -> Kind {
        assert_eq!(self.get + self.insert + self.remove + self.update, 100);
        match rng.below(100) {
            r if r < self.get => Kind::Get,
            r if r < self.get + self.insert => Kind::Insert,
            r if r < self.get + self.insert + self.remove => Kind::Remove,
            _ => Kind::Update,
        }
    }
}

#[derive(Clone, Copy)]
enum Keys {
    /// Each thread owns its keys; the map starts with this many entries.
    Owned { prefill: u64 },
    /// `PREFILL` keys shared by every thread, all present throughout, drawn from Zipf.
    Hot,
}

struct Workload {
    name: &'static str,
    mix: Mix,
    keys: Keys,
}

const WORKLOADS: [Workload; 4] = [
    Workload {
        name: "read_heavy",
        mix: Mix {
            get: 98,
            insert: 1,
            remove: 1,
            update: 0,
        },
        keys: Keys::Owned { prefill: PREFILL },
    },
    Workload {
        name: "exchange",
        mix: Mix {
            get: 10,
            insert: 40,
            remove: 40,
            update: 10,
        },
        keys: Keys::Owned { prefill: PREFILL },
    },
    Workload {
        name: "rapid_grow",
        mix: Mix {
            get: 5,
            insert: 80,
            remove: 5,
            update: 10,
        },
        keys: Keys::Owned { prefill: 0 },
    },
    Workload {
        name: "hot_keys",
        mix: Mix {
            get: 95,
            insert: 0,
            remove: 0,
            update: 5,
        },
        keys: Keys::Hot,
    },
];

/// One operation with the answer it must get.
#[derive(Clone, Copy)]
enum Op {
    /// Look up an owned key: the answer is known exactly.
    Get(u64, Option<u64>),
    /// Look up a shared key, present throughout: its value must carry the key.
    GetShared(u64),
    /// Insert a key that is absent.
    Insert(u64, u64),
    /// Remove an owned key: the answer is known exactly.
    Remove(u64, Option<u64>),
    /// Replace the value of a present key.
    Update(u64, u64),
}

fn apply(session: &impl Session, op: Op) {
    match op {
        Op::Get(key, want) => assert_eq!(session.get(key), want, "get({key})"),
        Op::GetShared(key) => {
            let owner = session.get(key).map(key_of);
            assert_eq!(owner, Some(key), "get({key}) of a hot key");
        }
        Op::Insert(key, value) => {
            assert_eq!(
                session.insert(key, value),
                None,
                "insert({key}) of a new key"
            );
        }
        Op::Remove(key, want) => assert_eq!(session.remove(key), want, "remove({key})"),
        Op::Update(key, value) => assert!(session.update(key, value), "update({key}) missed"),
    }
}

/// Applies `ops` in sessions of [`BATCH`](common::maps::BATCH) operations.
fn run<M: Map>(map: &M, ops: &[Op]) {
    for batch in ops.chunks(BATCH) {
        let session = map.session();
        batch.iter().for_each(|&op| apply(&session, op));
    }
}

/// Runs `f(thread)` for `threads` threads in parallel, to build their streams before timing.
fn per_thread<T: Send>(threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || f(t))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// One thread's share of an owned-keys workload, simulated in advance.
struct OwnedStream {
    /// Entries inserted before the clock starts.
    prefill: Vec<(u64, u64)>,
    ops: Vec<Op>,
    /// The entries present afterwards.
    present: Vec<(u64, u64)>,
}

impl OwnedStream {
    fn new(mix: Mix, prefill: u64, threads: usize, t: usize, iters: u64, seed: u64) -> Self {
        let (threads, t) = (threads as u64, t as u64);
        let key = |i: u64| i * threads + t;
        let mut next = prefill / threads; // the next fresh key index
        assert!(
            key(next + iters) < 1 << 32,
            "too many iterations for the value encoding"
        );
        let mut present: Vec<(u64, u64)> = (0..next).map(|i| (key(i), value(key(i), 0))).collect();
        let initial = present.clone();
        let mut rng = Rng::new(seed);
        let mut version = 0;
        let ops = (0..iters)
            .map(|_| {
                let kind = mix.pick(&mut rng);
                if present.is_empty() && kind != Kind::Insert {
                    // Nothing to read, remove or update yet: miss on a fresh key instead.
                    return match kind {
                        Kind::Remove => Op::Remove(key(next), None),
                        _ => Op::Get(key(next), None),
                    };
                }
                version += 1;
                match kind {
                    Kind::Get => {
                        let (k, v) = present[rng.index(present.len())];
                        Op::Get(k, Some(v))
                    }
                    Kind::Insert => {
                        let k = key(next);
                        next += 1;
                        present.push((k, value(k, version)));
                        Op::Insert(k, value(k, version))
                    }
                    Kind::Remove => {
                        let (k, v) = present.swap_remove(rng.index(present.len()));
                        Op::Remove(k, Some(v))
                    }
                    Kind::Update => {
                        let i = rng.index(present.len());
                        let entry = &mut present[i];
                        entry.1 = value(entry.0, version);
                        Op::Update(entry.0, entry.1)
                    }
                }
            })
            .collect();
        Self {
            prefill: initial,
            ops,
            present,
        }
    }
}

/// Inserts `entries`, all new, in sessions of [`BATCH`](common::maps::BATCH).
fn fill<M: Map>(map: &M, entries: &[(u64, u64)]) {
    let ops: Vec<Op> = entries.iter().map(|&(k, v)| Op::Insert(k, v)).collect();
    run(map, &ops);
}

/// One sample of an owned-keys workload on a fresh map.
fn owned<M: Map>(mix: Mix, prefill: u64, threads: usize, iters: u64, seed: u64) -> Duration {
    let streams = per_thread(threads, |t| {
        OwnedStream::new(mix, prefill, threads, t, iters, seed ^ t as u64)
    });
    let map = M::new();
    streams.iter().for_each(|s| fill(&map, &s.prefill));
    let (time, _) = timed_parallel(threads, |t, _| run(&map, &streams[t].ops));
    let expected: usize = streams.iter().map(|s| s.present.len()).sum();
    assert_eq!(map.len(), expected, "entries lost or duplicated");
    for s in &streams {
        let lookups: Vec<Op> = s
            .present
            .iter()
            .map(|&(k, v)| Op::Get(k, Some(v)))
            .collect();
        run(&map, &lookups);
    }
    time
}

/// A map holding every hot key, reused by every sample of `hot_keys` (they keep it full).
fn hot_map<M: Map>() -> M {
    let map = M::new();
    let entries: Vec<(u64, u64)> = (0..PREFILL).map(|k| (k, value(k, 0))).collect();
    fill(&map, &entries);
    map
}

/// One sample of `hot_keys`.
fn hot<M: Map>(map: &M, mix: Mix, threads: usize, iters: u64, seed: u64) -> Duration {
    let cdf = zipf_cdf();
    let streams = per_thread(threads, |t| {
        let mut rng = Rng::new(seed ^ t as u64);
        (0..iters)
            .map(|i| {
                let key = zipf(&mut rng, cdf);
                match mix.pick(&mut rng) {
                    Kind::Get => Op::GetShared(key),
                    Kind::Update => Op::Update(key, value(key, i)),
                    Kind::Insert | Kind::Remove => {
                        unreachable!("hot keys are never added or removed")
                    }
                }
            })
            .collect::<Vec<Op>>()
    });
    let (time, _) = timed_parallel(threads, |t, _| run(map, &streams[t]));
    assert_eq!(map.len(), PREFILL as usize, "hot keys lost or duplicated");
    run(map, &(0..PREFILL).map(Op::GetShared).collect::<Vec<_>>());
    time
}

fn bench_dict<M: Map>(c: &mut Criterion) {
    let mut group = c.benchmark_group("dict");
    let name = M::name();
    for (w, workload) in WORKLOADS.iter().enumerate() {
        for threads in THREADS {
            let seed = (w as u64) << 32 | (threads as u64) << 16;
            // One criterion iteration is one session of `BATCH` operations per thread.
            let per_iteration = BATCH as u64;
            group.throughput(Throughput::Elements(threads as u64 * per_iteration));
            let id = BenchmarkId::new(format!("{}/{name}", workload.name), threads);
            group.bench_with_input(id, &threads, |b, &threads| match workload.keys {
                Keys::Owned { prefill } => b.iter_custom(|iters| {
                    owned::<M>(workload.mix, prefill, threads, iters * per_iteration, seed)
                }),
                Keys::Hot => {
                    let map = hot_map::<M>();
                    b.iter_custom(|iters| {
                        hot(&map, workload.mix, threads, iters * per_iteration, seed)
                    })
                }
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = dict;
    config = common::short_config();
    targets =
        bench_dict::<Dict>,
        bench_dict::<Pinned>,
        bench_dict::<DashMap<u64, u64, Hasher>>,
        bench_dict::<Papaya>,
        bench_dict::<Scc>,
        bench_dict::<Flurry>,
        bench_dict::<RwLock<StdMap>>,
        bench_dict::<Mutex<StdMap>>,
}
criterion_main!(dict);
