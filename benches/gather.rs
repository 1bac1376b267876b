//! `ConcurrentGatheringIterator` against the ways Rust code usually puts results from many
//! threads back in order.
//!
//! * `gather/ordered/*`: producer threads insert the values of keys `0..n` (thread `t` the keys
//!   `k` with `k % producers == t`, each in increasing order) while one reader takes them back in
//!   key order, sleeping while the next key is missing. The parameter counts every thread, the
//!   reader included, so one producer runs at two. Throughput is values delivered in order.
//!
//! Competitors: ours (`insert` + `drain`), a `Mutex<BTreeMap>` with a `Condvar` (the reader
//! waits for its next key), and crossbeam-channel with a reorder buffer on the reader's side (a
//! `BinaryHeap` holding what arrived early). Every competitor sits behind one trait. Threads are
//! released together by a `Barrier` and only the parallel section is timed (`iter_custom`); the
//! reader checks every value against its key, so a fast wrong answer fails the bench.

mod common;

use common::timed_parallel;
use concurrency::ConcurrentGatheringIterator;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

const THREADS: [usize; 3] = [2, 3, 5];

/// The value a producer gives `key`, so the reader can check it.
fn value_of(key: u64) -> u64 {
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Values inserted by key from any thread and read back in key order by one reader.
trait Gather: Sync {
    fn name() -> &'static str;
    fn new() -> Self;
    fn insert(&self, key: u64, value: u64);
    /// Reads keys `0..n` in order, calling `each(key, value)`.
    fn read_in_order(&self, n: u64, each: impl FnMut(u64, u64));
}

impl Gather for ConcurrentGatheringIterator<u64> {
    fn name() -> &'static str {
        "ours"
    }
    fn new() -> Self {
        ConcurrentGatheringIterator::new()
    }
    fn insert(&self, key: u64, value: u64) {
        ConcurrentGatheringIterator::insert(self, key, value);
    }
    fn read_in_order(&self, n: u64, mut each: impl FnMut(u64, u64)) {
        let mut key = 0;
        for value in self.drain(n - 1) {
            each(key, value.expect("no producer fails"));
            key += 1;
        }
        assert_eq!(key, n, "values missing");
    }
}

/// A `BTreeMap` under a `Mutex`; the reader sleeps on the `Condvar` until its next key is
/// there, and a producer signals only when the reader sleeps.
struct LockedTree {
    state: Mutex<Tree>,
    arrived: Condvar,
}

#[derive(Default)]
struct Tree {
    values: BTreeMap<u64, u64>,
    reader_asleep: bool,
}

impl Gather for LockedTree {
    fn name() -> &'static str {
        "Mutex<BTreeMap>+Condvar"
    }
    fn new() -> Self {
        Self {
            state: Mutex::default(),
            arrived: Condvar::new(),
        }
    }
    fn insert(&self, key: u64, value: u64) {
        let mut state = self.state.lock().unwrap();
        state.values.insert(key, value);
        let wake = state.reader_asleep;
        drop(state);
        if wake {
            self.arrived.notify_one();
        }
    }
    fn read_in_order(&self, n: u64, mut each: impl FnMut(u64, u64)) {
        let mut state = self.state.lock().unwrap();
        for key in 0..n {
            let value = loop {
                if let Some(value) = state.values.remove(&key) {
                    break value;
                }
                state.reader_asleep = true;
                state = self.arrived.wait(state).unwrap();
                state.reader_asleep = false;
            };
            each(key, value);
        }
    }
}

/// A crossbeam channel of `(key, value)`; the reader keeps early arrivals in a min-heap.
struct ChannelReorder {
    tx: crossbeam_channel::Sender<(u64, u64)>,
    rx: crossbeam_channel::Receiver<(u64, u64)>,
}

impl Gather for ChannelReorder {
    fn name() -> &'static str {
        "crossbeam-channel+BinaryHeap"
    }
    fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { tx, rx }
    }
    fn insert(&self, key: u64, value: u64) {
        self.tx.send((key, value)).expect("channel disconnected");
    }
    fn read_in_order(&self, n: u64, mut each: impl FnMut(u64, u64)) {
        let mut early = BinaryHeap::new();
        for key in 0..n {
            let value = loop {
                if let Some(&Reverse((k, v))) = early.peek() {
                    if k == key {
                        early.pop();
                        break v;
                    }
                }
                let (k, v) = self.rx.recv().expect("channel disconnected");
                if k == key {
                    break v;
                }
                early.push(Reverse((k, v)));
            };
            each(key, value);
        }
    }
}

/// `threads - 1` producers insert keys `0..n`; thread 0 reads them in order.
fn ordered<G: Gather>(threads: usize, n: u64) -> Duration {
    let producers = threads as u64 - 1;
    let gather = G::new();
    let (time, _) = timed_parallel(threads, |t, _| {
        if t == 0 {
            let mut expected_key = 0;
            gather.read_in_order(n, |key, value| {
                assert_eq!(key, expected_key, "key order broken");
                assert_eq!(value, value_of(key), "wrong value for key {key}");
                expected_key += 1;
            });
            assert_eq!(expected_key, n, "values missing");
        } else {
            let producer = t as u64 - 1;
            (producer..n)
                .step_by(producers as usize)
                .for_each(|key| gather.insert(key, value_of(key)));
        }
    });
    time
}

fn bench_gather<G: Gather>(c: &mut Criterion) {
    let mut group = c.benchmark_group("gather");
    group.throughput(Throughput::Elements(1));
    for threads in THREADS {
        group.bench_with_input(
            BenchmarkId::new(format!("ordered/{}", G::name()), threads),
            &threads,
            |b, &threads| b.iter_custom(|iters| ordered::<G>(threads, iters.max(1))),
        );
    }
    group.finish();
}

criterion_group! {
    name = gather;
    config = common::short_config();
    targets =
        bench_gather::<ConcurrentGatheringIterator<u64>>,
        bench_gather::<LockedTree>,
        bench_gather::<ChannelReorder>,
}
criterion_main!(gather);
