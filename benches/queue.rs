//! Queues against their peers.
//!
//! [`ConcurrentQueue`] in both modes (`LockFree`, `Locked`) against crossbeam-queue's `SegQueue`,
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
//!
//! Every competitor sits behind one trait. Threads are released together by a `Barrier` and only
//! the parallel section is timed (`iter_custom`); the thread count is the `BenchmarkId`
//! parameter. Four and eight threads oversubscribe the two-core bench machine on purpose, so a
//! polling consumer spins briefly and then yields its core. Each sample checks its result, so a
//! fast wrong answer fails the bench instead of winning it.

use concurrency::{ConcurrentQueue, PopError};
mod common;

use common::timed_parallel;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_queue::SegQueue;
use std::collections::VecDeque;
use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::Duration;

const THREADS: [usize; 4] = [1, 2, 4, 8];

/// An item is `producer << SEQ_BITS | sequence number`, so a consumer can check per-producer
/// order.
const SEQ_BITS: u32 = 40;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// Waiting for a polled queue: spin a little, then give the core away.
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    fn snooze(&mut self) {
        if self.0 < 6 {
            (0..1 << self.0).for_each(|_| spin_loop());
            self.0 += 1;
        } else {
            std::thread::yield_now();
        }
    }

    fn reset(&mut self) {
        self.0 = 0;
    }
}

/// What one thread popped.
#[derive(Default, Clone, Copy)]
struct Tally {
    count: u64,
    sum: u128,
}

impl Tally {
    fn add(&mut self, v: u64) {
        self.count += 1;
        self.sum += u128::from(v);
    }

    fn total(tallies: &[Tally]) -> Tally {
        tallies.iter().fold(Tally::default(), |a, b| Tally {
            count: a.count + b.count,
            sum: a.sum + b.sum,
        })
    }

    /// The tally of every item of `producers` producers that pushed `iters` items each.
    fn expected(producers: usize, iters: u64) -> Tally {
        assert!(
            iters <= SEQ_MASK,
            "too many iterations for the item encoding"
        );
        let per_producer = u128::from(iters) * u128::from(iters - 1) / 2;
        Tally {
            count: producers as u64 * iters,
            sum: (0..producers as u64)
                .map(|p| u128::from(p << SEQ_BITS) * u128::from(iters) + per_producer)
                .sum(),
        }
    }

    fn check(tallies: &[Tally], producers: usize, iters: u64) {
        let (got, want) = (Tally::total(tallies), Tally::expected(producers, iters));
        assert_eq!(got.count, want.count, "items lost or duplicated");
        assert_eq!(got.sum, want.sum, "items lost, duplicated or corrupted");
    }
}

/// An unbounded multi-producer, multi-consumer FIFO of `u64`, shared by reference.
trait Queue: Send + Sync {
    /// Whether [`Queue::pop_wait`] exists, i.e. the competitor can sleep until an item arrives.
    const BLOCKS: bool = false;
    fn name() -> String;
    fn new() -> Self;
    fn push(&self, v: u64);
    /// Non-blocking: `None` when nothing is there right now.
    fn try_pop(&self) -> Option<u64>;
    /// Sleeps until an item arrives (only called when [`Queue::BLOCKS`]).
    fn pop_wait(&self) -> u64 {
        unreachable!("{} has no blocking pop", Self::name())
    }
}

/// [`ConcurrentQueue`] in `LockFree` mode (`LOCK_FREE = true`) or `Locked` mode.
struct Ours<const LOCK_FREE: bool>(ConcurrentQueue<u64>);

impl<const LOCK_FREE: bool> Queue for Ours<LOCK_FREE> {
    const BLOCKS: bool = true;
    fn name() -> String {
        common::ours_queue_mode(LOCK_FREE).0.into()
    }
    fn new() -> Self {
        Self(ConcurrentQueue::with_mode(
            common::ours_queue_mode(LOCK_FREE).1,
        ))
    }
    fn push(&self, v: u64) {
        self.0.push(v).expect("queue shut down");
    }
    fn try_pop(&self) -> Option<u64> {
        match self.0.try_pop() {
            Ok(v) => Some(v),
            Err(PopError::Empty) => None,
            Err(_) => panic!("queue shut down"),
        }
    }
    fn pop_wait(&self) -> u64 {
        self.0.pop().expect("queue shut down")
    }
}

impl Queue for SegQueue<u64> {
    fn name() -> String {
        "crossbeam SegQueue".into()
    }
    fn new() -> Self {
        SegQueue::new()
    }
    fn push(&self, v: u64) {
        SegQueue::push(self, v);
    }
    fn try_pop(&self) -> Option<u64> {
        SegQueue::pop(self)
    }
}

impl Queue for concurrent_queue::ConcurrentQueue<u64> {
    fn name() -> String {
        "concurrent-queue".into()
    }
    fn new() -> Self {
        concurrent_queue::ConcurrentQueue::unbounded()
    }
    fn push(&self, v: u64) {
        concurrent_queue::ConcurrentQueue::push(self, v).expect("queue closed");
    }
    fn try_pop(&self) -> Option<u64> {
        concurrent_queue::ConcurrentQueue::pop(self).ok()
    }
}

/// crossbeam-channel's unbounded channel. Both halves are `Sync`, so every thread shares the one
/// pair, as with the queues.
struct CrossbeamChannel {
    tx: crossbeam_channel::Sender<u64>,
    rx: crossbeam_channel::Receiver<u64>,
}

impl Queue for CrossbeamChannel {
    const BLOCKS: bool = true;
    fn name() -> String {
        "crossbeam-channel".into()
    }
    fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { tx, rx }
    }
    fn push(&self, v: u64) {
        self.tx.send(v).expect("channel disconnected");
    }
    fn try_pop(&self) -> Option<u64> {
        self.rx.try_recv().ok()
    }
    fn pop_wait(&self) -> u64 {
        self.rx.recv().expect("channel disconnected")
    }
}

/// std's `mpsc` channel. The `Sender` is `Sync` and shared by every producer. The `Receiver` is
/// neither `Sync` nor `Clone` (the channel has one consumer by design), so consumers share it
/// through a `Mutex` held for one `try_recv` at a time. With one consumer (`spsc`) that lock is
/// never contended; in `mpmc` and `pairs` it is the price of using this channel as an MPMC queue,
/// and it is measured.
struct StdMpsc {
    tx: mpsc::Sender<u64>,
    rx: Mutex<mpsc::Receiver<u64>>,
}

impl Queue for StdMpsc {
    const BLOCKS: bool = true;
    fn name() -> String {
        "std mpsc".into()
    }
    fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx,
            rx: Mutex::new(rx),
        }
    }
    fn push(&self, v: u64) {
        self.tx.send(v).expect("channel disconnected");
    }
    fn try_pop(&self) -> Option<u64> {
        self.rx.lock().unwrap().try_recv().ok()
    }
    fn pop_wait(&self) -> u64 {
        // Only `spsc_blocking` waits, and it has one consumer: nobody else needs the lock.
        self.rx
            .lock()
            .unwrap()
            .recv()
            .expect("channel disconnected")
    }
}

/// flume's unbounded channel (default features off: no async, no select). Both halves are
/// `Sync`, so every thread shares the one pair.
struct Flume {
    tx: flume::Sender<u64>,
    rx: flume::Receiver<u64>,
}

impl Queue for Flume {
    const BLOCKS: bool = true;
    fn name() -> String {
        "flume".into()
    }
    fn new() -> Self {
        let (tx, rx) = flume::unbounded();
        Self { tx, rx }
    }
    fn push(&self, v: u64) {
        self.tx.send(v).expect("channel disconnected");
    }
    fn try_pop(&self) -> Option<u64> {
        self.rx.try_recv().ok()
    }
    fn pop_wait(&self) -> u64 {
        self.rx.recv().expect("channel disconnected")
    }
}

/// The textbook blocking queue: a `VecDeque` under one `Mutex`, and a `Condvar` for the blocking
/// pop. A push signals only when a popper sleeps (a count kept under the lock): std's futex
/// condvar enters the kernel on every `notify_one`, waiter or not, which would bill this
/// competitor for wake-ups nobody needs.
struct LockedDeque {
    state: Mutex<Deque>,
    ready: Condvar,
}

struct Deque {
    items: VecDeque<u64>,
    sleepers: usize,
}

impl Queue for LockedDeque {
    const BLOCKS: bool = true;
    fn name() -> String {
        "Mutex<VecDeque>+Condvar".into()
    }
    fn new() -> Self {
        Self {
            state: Mutex::new(Deque {
                items: VecDeque::new(),
                sleepers: 0,
            }),
            ready: Condvar::new(),
        }
    }
    fn push(&self, v: u64) {
        let mut state = self.state.lock().unwrap();
        state.items.push_back(v);
        let wake = state.sleepers > 0;
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }
    fn try_pop(&self) -> Option<u64> {
        self.state.lock().unwrap().items.pop_front()
    }
    fn pop_wait(&self) -> u64 {
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(v) = state.items.pop_front() {
                return v;
            }
            state.sleepers += 1;
            state = self.ready.wait(state).unwrap();
            state.sleepers -= 1;
        }
    }
}

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
        bench_queue::<Ours<true>>,
        bench_queue::<Ours<false>>,
        bench_queue::<SegQueue<u64>>,
        bench_queue::<concurrent_queue::ConcurrentQueue<u64>>,
        bench_queue::<CrossbeamChannel>,
        bench_queue::<StdMpsc>,
        bench_queue::<Flume>,
        bench_queue::<LockedDeque>,
}
criterion_main!(queue);
