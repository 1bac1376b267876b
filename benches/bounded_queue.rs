//! Bounded blocking queues against their peers.
//!
//! [`StdConcurrentQueue`] (Python's `queue.Queue` contract) against crossbeam-channel's and
//! flume's bounded channels, std's `sync_channel`, and a `Mutex<VecDeque>` with two `Condvar`s.
//!
//! Every queue holds at most [`CAPACITY`](common::bounded_queues::CAPACITY) items.
//!
//! * `bounded_queue/mpmc/*`: half the threads produce with a blocking put, half consume with a
//!   blocking get; each consumer takes exactly one producer's share, so nobody polls. Every item
//!   is consumed exactly once (count and sum) and each consumer sees each producer's items in
//!   order. Throughput is items moved. One thread cannot be split, so it starts at two.
//!
//! Every competitor sits behind one trait. Threads are released together by a `Barrier` and only
//! the parallel section is timed (`iter_custom`); the thread count is the `BenchmarkId`
//! parameter. Four threads oversubscribe the two-core bench machine on purpose: a full or empty
//! queue puts its waiters to sleep. Each sample checks its result, so a fast wrong answer fails
//! the bench instead of winning it.

mod common;

use common::bounded_queues::{Bounded, LockedDeque, StdSyncChannel};
use common::channels::{CrossbeamChannel, FlumeChannel};
use common::{timed_parallel, Tally, SEQ_BITS, SEQ_MASK};
use concurrency::StdConcurrentQueue;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

const THREADS: [usize; 2] = [2, 4];

/// `threads / 2` producers put `iters` items each; as many consumers get `iters` items each.
fn mpmc<Q: Bounded>(threads: usize, iters: u64) -> Duration {
    let producers = threads / 2;
    let queue = Q::new();
    let (time, tallies) = timed_parallel(producers * 2, |t, _| {
        let mut tally = Tally::default();
        if t < producers {
            let base = (t as u64) << SEQ_BITS;
            (0..iters).for_each(|i| queue.put(base | i));
            return tally;
        }
        let mut next_seq = vec![0; producers];
        for _ in 0..iters {
            let v = queue.get();
            let (producer, seq) = ((v >> SEQ_BITS) as usize, v & SEQ_MASK);
            assert!(seq >= next_seq[producer], "per-producer FIFO order broken");
            next_seq[producer] = seq + 1;
            tally.add(v);
        }
        tally
    });
    Tally::check(&tallies, producers, iters);
    time
}

fn bench_bounded<Q: Bounded>(c: &mut Criterion) {
    let mut group = c.benchmark_group("bounded_queue");
    let name = Q::name();
    for threads in THREADS {
        group.throughput(Throughput::Elements((threads / 2) as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("mpmc/{name}"), threads),
            &threads,
            |b, &threads| b.iter_custom(|iters| mpmc::<Q>(threads, iters)),
        );
    }
    group.finish();
}

criterion_group! {
    name = bounded_queue;
    config = common::short_config();
    targets =
        bench_bounded::<StdConcurrentQueue<u64>>,
        bench_bounded::<CrossbeamChannel>,
        bench_bounded::<FlumeChannel>,
        bench_bounded::<StdSyncChannel>,
        bench_bounded::<LockedDeque>,
}
criterion_main!(bounded_queue);
