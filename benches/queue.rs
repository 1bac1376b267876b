//! Queues against their peers.
//!
//! [`ConcurrentQueue`] in every mode (`Segmented`, `LockFree`, `Locked`) against crossbeam-queue's `SegQueue`,
//! the `concurrent-queue` crate, crossbeam-channel, std `mpsc`, flume (every one unbounded) and a
//! `Mutex<VecDeque>` with a `Condvar`.
//!
//! * `queue/spsc/*`: one producer, one consumer polling with a non-blocking pop; the consumer
//!   checks FIFO order. Always two threads.
//! * `queue/spsc_blocking/*`: the same, but the consumer sleeps in a blocking pop (`pop`, `recv`,
//!   a condvar wait). Only the competitors that have one run it.
//! * `queue/mpmc/*`: half the threads produce, half consume; every item is consumed exactly once
//!   (count and sum) and each consumer sees each producer's items in order. Throughput is items
//!   moved. One thread cannot be split, so it starts at two.
//! * `queue/pairs/*`: every thread alternately pushes and pops; nothing is lost or duplicated.
//!   Throughput is push/pop pairs.
//! * `queue/pipeline/*`: four producers and four consumers that sleep in a blocking pop (eight
//!   threads on two cores: the wake-up path under oversubscription). Each producer ends with a
//!   stop item, and each consumer stops at the first stop item it pops: in a FIFO queue every
//!   item precedes its producer's stop item, so the last stop item leaves nothing behind. Every
//!   item is checked as in `mpmc`. Only the competitors with a blocking pop run it.
//!
//! Every competitor sits behind one trait. Threads are released together by a `Barrier` and only
//! the parallel section is timed (`iter_custom`); the thread count is the `BenchmarkId`
//! parameter. Four and eight threads oversubscribe the two-core bench machine on purpose, so a
//! polling consumer spins briefly and then yields its core. Each sample checks its result, so a
//! fast wrong answer fails the bench instead of winning it.

mod common;

use common::channels::{CrossbeamChannel, FlumeChannel};
use common::queues::{LockedDeque, Ours, Queue, StdMpsc};
use common::{timed_parallel, Backoff, Tally, SEQ_BITS, SEQ_MASK};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_queue::SegQueue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const THREADS: [usize; 4] = [1, 2, 4, 8];

/// One producer pushes `0..iters`; one consumer pops them, polling or (`blocking`) sleeping, and
/// checks their order.
fn spsc<Q: Queue>(iters: u64, blocking: bool) -> Duration {
    let queue = Q::new();
    let (time, _) = timed_parallel(2, |t, failed| {
        if t == 0 {
            (0..iters).for_each(|i| queue.push(i));
            return;
        }
        let mut backoff = Backoff::default();
        let mut next = 0;
        while next < iters {
            let popped = if blocking {
                Some(queue.pop_wait())
            } else {
                queue.try_pop()
            };
            match popped {
                Some(v) => {
                    assert_eq!(v, next, "FIFO order broken");
                    next += 1;
                    backoff.reset();
                }
                None if failed.load(Ordering::Relaxed) => return,
                None => backoff.snooze(),
            }
        }
    });
    assert_eq!(queue.try_pop(), None, "item duplicated");
    time
}

/// `threads / 2` producers push `iters` items each; the other threads consume until every item
/// is gone.
fn mpmc<Q: Queue>(threads: usize, iters: u64) -> Duration {
    let producers = threads / 2;
    let total = producers as u64 * iters;
    let queue = Q::new();
    // Items consumed so far. Consumers add their share when they find the queue empty, not per
    // item, so the count does not become a second contended hot spot.
    let consumed = AtomicU64::new(0);
    let (time, tallies) = timed_parallel(threads, |t, failed| {
        let mut tally = Tally::default();
        if t < producers {
            let base = (t as u64) << SEQ_BITS;
            (0..iters).for_each(|i| queue.push(base | i));
            return tally;
        }
        // The lowest sequence number each producer may still deliver to this consumer.
        let mut next_seq = vec![0; producers];
        let mut unreported = 0;
        let mut backoff = Backoff::default();
        loop {
            if let Some(v) = queue.try_pop() {
                let (producer, seq) = ((v >> SEQ_BITS) as usize, v & SEQ_MASK);
                assert!(seq >= next_seq[producer], "per-producer FIFO order broken");
                next_seq[producer] = seq + 1;
                tally.add(v);
                unreported += 1;
                backoff.reset();
                continue;
            }
            let seen = if unreported > 0 {
                consumed.fetch_add(unreported, Ordering::Relaxed) + unreported
            } else {
                consumed.load(Ordering::Relaxed)
            };
            unreported = 0;
            if seen >= total || failed.load(Ordering::Relaxed) {
                return tally;
            }
            backoff.snooze();
        }
    });
    Tally::check(&tallies, producers, iters);
    assert_eq!(queue.try_pop(), None, "item duplicated");
    time
}

/// Four producers push `iters` items each and then a stop item; four consumers pop, sleeping
/// while the queue is empty, until each has popped one stop item.
fn pipeline<Q: Queue>(iters: u64) -> Duration {
    const PRODUCERS: usize = 4;
    const STOP: u64 = u64::MAX;
    let queue = Q::new();
    let (time, tallies) = timed_parallel(2 * PRODUCERS, |t, _| {
        let mut tally = Tally::default();
        if t < PRODUCERS {
            let base = (t as u64) << SEQ_BITS;
            (0..iters).for_each(|i| queue.push(base | i));
            queue.push(STOP);
            return tally;
        }
        let mut next_seq = [0; PRODUCERS];
        loop {
            let v = queue.pop_wait();
            if v == STOP {
                return tally;
            }
            let (producer, seq) = ((v >> SEQ_BITS) as usize, v & SEQ_MASK);
            assert!(seq >= next_seq[producer], "per-producer FIFO order broken");
            next_seq[producer] = seq + 1;
            tally.add(v);
        }
    });
    Tally::check(&tallies, PRODUCERS, iters);
    assert_eq!(queue.try_pop(), None, "item duplicated");
    time
}

/// Every thread pushes one item and then pops one, `iters` times.
fn pairs<Q: Queue>(threads: usize, iters: u64) -> Duration {
    let queue = Q::new();
    let (time, tallies) = timed_parallel(threads, |t, failed| {
        let mut tally = Tally::default();
        let base = (t as u64) << SEQ_BITS;
        for i in 0..iters {
            queue.push(base | i);
            // Every thread pushes before it pops, so an item is there; a queue that is not
            // linearizable may still miss it for a moment.
            let mut backoff = Backoff::default();
            loop {
                match queue.try_pop() {
                    Some(v) => break tally.add(v),
                    None if failed.load(Ordering::Relaxed) => return tally,
                    None => backoff.snooze(),
                }
            }
        }
        tally
    });
    Tally::check(&tallies, threads, iters);
    assert_eq!(queue.try_pop(), None, "item duplicated");
    time
}

fn bench_queue<Q: Queue>(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue");
    let name = Q::name();
    group.throughput(Throughput::Elements(1));
    group.bench_with_input(BenchmarkId::new(format!("spsc/{name}"), 2), &2, |b, _| {
        b.iter_custom(|iters| spsc::<Q>(iters, false))
    });
    if Q::BLOCKS {
        group.bench_with_input(
            BenchmarkId::new(format!("spsc_blocking/{name}"), 2),
            &2,
            |b, _| b.iter_custom(|iters| spsc::<Q>(iters, true)),
        );
    }
    for threads in THREADS.into_iter().filter(|&t| t >= 2) {
        group.throughput(Throughput::Elements((threads / 2) as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("mpmc/{name}"), threads),
            &threads,
            |b, &threads| b.iter_custom(|iters| mpmc::<Q>(threads, iters)),
        );
    }
    if Q::BLOCKS {
        group.throughput(Throughput::Elements(4));
        group.bench_with_input(
            BenchmarkId::new(format!("pipeline/{name}"), 8),
            &8,
            |b, _| b.iter_custom(pipeline::<Q>),
        );
    }
    for threads in THREADS {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("pairs/{name}"), threads),
            &threads,
            |b, &threads| b.iter_custom(|iters| pairs::<Q>(threads, iters)),
        );
    }
    group.finish();
}

criterion_group! {
    name = queue;
    config = common::short_config();
    targets =
        bench_queue::<Ours<{ common::SEGMENTED }>>,
        bench_queue::<Ours<{ common::LOCK_FREE }>>,
        bench_queue::<Ours<{ common::LOCKED }>>,
        bench_queue::<SegQueue<u64>>,
        bench_queue::<concurrent_queue::ConcurrentQueue<u64>>,
        bench_queue::<CrossbeamChannel>,
        bench_queue::<StdMpsc>,
        bench_queue::<FlumeChannel>,
        bench_queue::<LockedDeque>,
}
criterion_main!(queue);
