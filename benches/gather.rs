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

use common::gathers::{value_of, ChannelReorder, Gather, LockedTree};
use common::timed_parallel;
use concurrency::ConcurrentGatheringIterator;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

const THREADS: [usize; 3] = [2, 3, 5];

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
