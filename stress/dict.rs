//! `stress dict`: every thread runs a seeded mix of `insert`, `get`, `remove`, `contains_key`
//! and `get_or_insert_with` on one `ConcurrentDict`, in windows.
//!
//! Half the operations go to a few keys all threads share (contention: racing inserts and
//! removes, checked by history), half to keys only one thread touches (checked at once
//! against that thread's ledger, a sequential `HashMap`). Every eighth window the map is
//! replaced by an empty one, so growth (bucket splitting) keeps happening under load.
//! Checked per window: each private operation's result against its ledger; the map's
//! contents and `len` against the ledgers and the shared keys' history; with `--history`, each
//! key's history against a sequential map entry; at the end, every value dropped exactly once.

use crate::harness::Report;
use crate::ledger::{Ledger, Tracked};
use crate::lincheck::Spec;
use crate::windows::{check_linearizable_per_key, Target, Window, Worker};
use concurrency::reclaim::Reclaimer;
use concurrency::ConcurrentDict;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;

const OPS_PER_WINDOW: usize = 300;
/// Keys every thread uses: `0..SHARED_KEYS`.
const SHARED_KEYS: u64 = 8;
/// Keys each thread owns: `(thread + 1) << 32 | k` for `k` in `0..PRIVATE_KEYS`.
const PRIVATE_KEYS: u64 = 256;
/// The map is replaced by an empty one every this many windows.
const WINDOWS_PER_MAP: u64 = 8;

/// What the stress needs of a map (the real one, or a broken one in tests).
pub(crate) trait StressMap: Sync {
    fn insert(&self, key: u64, value: Tracked) -> Option<u64>;
    fn get(&self, key: u64) -> Option<u64>;
    fn remove(&self, key: u64) -> Option<u64>;
    fn contains_key(&self, key: u64) -> bool;
    fn get_or_insert(&self, key: u64, value: Tracked) -> u64;
    fn len(&self) -> usize;
    fn contents(&self) -> HashMap<u64, u64>;
}

impl<R: Reclaimer> StressMap for ConcurrentDict<u64, Tracked, RandomState, R> {
    fn insert(&self, key: u64, value: Tracked) -> Option<u64> {
        ConcurrentDict::insert(self, key, value).map(|old| old.value)
    }

    fn get(&self, key: u64) -> Option<u64> {
        self.get_with(&key, |v| v.value)
    }

    fn remove(&self, key: u64) -> Option<u64> {
        ConcurrentDict::remove(self, &key).map(|old| old.value)
    }

    fn contains_key(&self, key: u64) -> bool {
        ConcurrentDict::contains_key(self, &key)
    }

    fn get_or_insert(&self, key: u64, value: Tracked) -> u64 {
        self.get_or_insert_with(key, || value).value
    }

    fn len(&self) -> usize {
        ConcurrentDict::len(self)
    }

    fn contents(&self) -> HashMap<u64, u64> {
        self.iter().map(|(k, v)| (k, v.value)).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MapOp {
    Insert(u64, u64),
    Get(u64),
    Remove(u64),
    Contains(u64),
    GetOrInsert(u64, u64),
}

impl MapOp {
    fn key(&self) -> u64 {
        match *self {
            Self::Insert(k, _)
            | Self::Get(k)
            | Self::Remove(k)
            | Self::Contains(k)
            | Self::GetOrInsert(k, _) => k,
        }
    }
}

/// What a map operation returns: a value (old, read, removed or kept) or a presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapRet {
    Value(Option<u64>),
    Present(bool),
}

/// One entry of a sequential map: the state is the key's value, if any.
pub(crate) struct Entry;

impl Spec for Entry {
    type State = Option<u64>;
    type Op = MapOp;
    type Ret = MapRet;

    fn init(&self) -> Option<u64> {
        None
    }

    fn step(&self, state: &Option<u64>, op: &MapOp) -> (Option<u64>, MapRet) {
        match *op {
            MapOp::Insert(_, v) => (Some(v), MapRet::Value(*state)),
            MapOp::Get(_) => (*state, MapRet::Value(*state)),
            MapOp::Remove(_) => (None, MapRet::Value(*state)),
            MapOp::Contains(_) => (*state, MapRet::Present(state.is_some())),
            MapOp::GetOrInsert(_, v) => {
                let kept = state.unwrap_or(v);
                (Some(kept), MapRet::Value(Some(kept)))
            }
        }
    }
}

/// The dict target: the map under test, its contents when the window started, and each
/// thread's ledger of its private keys.
pub(crate) struct DictTarget<M> {
    make: fn() -> M,
    map: M,
    start: HashMap<u64, u64>,
    ledgers: Vec<Mutex<HashMap<u64, u64>>>,
    ledger: Arc<Ledger>,
}

impl<M: StressMap> DictTarget<M> {
    pub(crate) fn new(make: fn() -> M, threads: usize, ledger: Arc<Ledger>) -> Self {
        Self {
            make,
            map: make(),
            start: HashMap::new(),
            ledgers: (0..threads).map(|_| Mutex::default()).collect(),
            ledger,
        }
    }

    /// Runs `op` on the map for `worker`; returns what it returned and what the sequential
    /// map starting from `before` returns.
    fn apply(
        &self,
        worker: &mut Worker<'_, MapOp, MapRet>,
        op: MapOp,
        before: Option<u64>,
    ) -> (MapRet, MapRet) {
        let (map, ledger) = (&self.map, &self.ledger);
        let expected = Entry.step(&before, &op).1;
        let got = match op {
            MapOp::Insert(k, v) => {
                worker.call(0, op, || MapRet::Value(map.insert(k, ledger.track(v))))
            }
            MapOp::Get(k) => worker.call(1, op, || MapRet::Value(map.get(k))),
            MapOp::Remove(k) => worker.call(2, op, || MapRet::Value(map.remove(k))),
            MapOp::Contains(k) => worker.call(3, op, || MapRet::Present(map.contains_key(k))),
            MapOp::GetOrInsert(k, v) => worker.call(4, op, || {
                MapRet::Value(Some(map.get_or_insert(k, ledger.track(v))))
            }),
        };
        (got, expected)
    }
}

fn random_op(worker: &mut Worker<'_, MapOp, MapRet>, key: u64) -> MapOp {
    match worker.rng.next() % 10 {
        0..=2 => MapOp::Insert(key, worker.unique()),
        3..=5 => MapOp::Get(key),
        6..=7 => MapOp::Remove(key),
        8 => MapOp::Contains(key),
        _ => MapOp::GetOrInsert(key, worker.unique()),
    }
}

impl<M: StressMap> Target for DictTarget<M> {
    type Op = MapOp;
    type Ret = MapRet;
    /// Private operations whose result differed from the ledger's.
    type Trace = Vec<String>;

    const KINDS: &'static [&'static str] =
        &["insert", "get", "remove", "contains_key", "get_or_insert"];

    fn work(&self, worker: &mut Worker<'_, MapOp, MapRet>) -> Vec<String> {
        let mut ledger = self.ledgers[worker.thread].lock().unwrap();
        let mut mismatches = Vec::new();
        for _ in 0..OPS_PER_WINDOW {
            if worker.rng.chance(50) {
                let key = worker.rng.next() % SHARED_KEYS;
                let op = random_op(worker, key);
                self.apply(worker, op, None);
                continue;
            }
            let key = ((worker.thread as u64 + 1) << 32) | (worker.rng.next() % PRIVATE_KEYS);
            let op = random_op(worker, key);
            let before = ledger.get(&key).copied();
            let (got, expected) = self.apply(worker, op.clone(), before);
            if got != expected {
                mismatches.push(format!(
                    "thread {}: {op:?} returned {got:?}, its ledger says {expected:?}",
                    worker.thread
                ));
            }
            match Entry.step(&before, &op).0 {
                Some(v) => ledger.insert(key, v),
                None => ledger.remove(&key),
            };
        }
        mismatches
    }

    fn check(
        &mut self,
        report: &mut Report,
        main: &mut Worker<'_, MapOp, MapRet>,
        mut window: Window<Self>,
    ) {
        // Reading every shared key at the end ties the window's history to what the map holds.
        for key in 0..SHARED_KEYS {
            self.apply(main, MapOp::Get(key), None);
        }
        window.history.append(&mut main.take_history());
        let mismatches: Vec<&String> = window.traces.iter().flatten().collect();
        report.check(mismatches.is_empty(), || {
            format!("private keys disagree with their ledgers: {mismatches:#?}")
        });
        let contents = self.map.contents();
        let len = self.map.len();
        report.check(len == contents.len(), || {
            format!(
                "len() is {len} but iteration finds {} entries",
                contents.len()
            )
        });
        for (t, ledger) in self.ledgers.iter().enumerate() {
            let ledger = ledger.lock().unwrap();
            let owner = (t as u64 + 1) << 32;
            let held: HashMap<u64, u64> = contents
                .iter()
                .filter(|(k, _)| **k >> 32 == owner >> 32)
                .map(|(k, v)| (*k, *v))
                .collect();
            report.check(held == *ledger, || {
                format!("thread {t}'s keys in the map differ from its ledger")
            });
        }
        if !window.history.is_empty() {
            let start = &self.start;
            check_linearizable_per_key(report, &Entry, &window.history, MapOp::key, |k| {
                start.get(k).copied()
            });
        }
        self.start = contents;
        if window.index % WINDOWS_PER_MAP == WINDOWS_PER_MAP - 1 {
            self.map = (self.make)();
            self.start.clear();
            self.ledgers.iter().for_each(|l| l.lock().unwrap().clear());
        }
    }
}
