//! Atomics against their peers.
//!
//! * `int64/*`: [`AtomicInt64`] against std's `AtomicI64` (`incr`, `add`, and the CAS-loop `mul`).
//! * `reference/*`: [`AtomicReference`] on epochs and on hazard pointers against `arc-swap`
//!   (`load_full`, `load`, `swap`, `compare_and_swap`) and `RwLock<Arc<T>>`.
//!
//! Every competitor sits behind one trait per family. Threads are released together by a
//! `Barrier` and only the parallel section is timed (`iter_custom`); the thread count is the
//! `BenchmarkId` parameter and the throughput is operations across all threads. Each sample
//! checks its result, so a fast wrong answer fails the bench instead of winning it.

mod common;

use arc_swap::ArcSwap;
use common::timed_parallel;
use concurrency::reclaim::{Epoch, HazardPointers, Reclaimer};
use concurrency::{AtomicInt64, AtomicReference};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::sync::{Arc, RwLock};
use std::time::Duration;

const THREADS: [usize; 2] = [1, 2];

/// Runs `op(thread, iters)` on `threads` threads released together; returns the wall time of
/// the parallel section alone.
fn timed(threads: usize, iters: u64, op: impl Fn(usize, u64) + Sync) -> Duration {
    timed_parallel(threads, |t, _| op(t, iters)).0
}

/// A shared 64-bit integer.
trait Counter: Default + Sync {
    const NAME: &'static str;
    fn incr(&self);
    fn add(&self, v: i64);
    fn mul(&self, v: i64);
    fn get(&self) -> i64;
}

impl Counter for AtomicInt64 {
    const NAME: &'static str = "AtomicInt64";
    fn incr(&self) {
        AtomicInt64::incr(self);
    }
    fn add(&self, v: i64) {
        AtomicInt64::add(self, v);
    }
    fn mul(&self, v: i64) {
        AtomicInt64::mul(self, v);
    }
    fn get(&self) -> i64 {
        AtomicInt64::get(self)
    }
}

impl Counter for AtomicI64 {
    const NAME: &'static str = "std AtomicI64";
    fn incr(&self) {
        self.fetch_add(1, SeqCst);
    }
    fn add(&self, v: i64) {
        self.fetch_add(v, SeqCst);
    }
    fn mul(&self, v: i64) {
        let _ = self.fetch_update(SeqCst, SeqCst, |x| Some(x.wrapping_mul(v)));
    }
    fn get(&self) -> i64 {
        self.load(SeqCst)
    }
}

fn bench_counter<C: Counter>(c: &mut Criterion) {
    let mut group = c.benchmark_group("int64");
    for threads in THREADS {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("incr/{}", C::NAME), threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let counter = C::default();
                    let time = timed(threads, iters, |_, n| (0..n).for_each(|_| counter.incr()));
                    assert_eq!(
                        counter.get(),
                        (threads as u64 * iters) as i64,
                        "lost increments"
                    );
                    time
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("add/{}", C::NAME), threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let counter = C::default();
                    let time = timed(threads, iters, |_, n| {
                        (0..n).for_each(|_| counter.add(black_box(3)))
                    });
                    assert_eq!(
                        counter.get(),
                        3 * (threads as u64 * iters) as i64,
                        "lost additions"
                    );
                    time
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("mul/{}", C::NAME), threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let counter = C::default();
                    counter.add(1);
                    let time = timed(threads, iters, |_, n| {
                        (0..n).for_each(|_| counter.mul(black_box(-1)))
                    });
                    let expected = if (threads as u64 * iters) % 2 == 0 {
                        1
                    } else {
                        -1
                    };
                    assert_eq!(counter.get(), expected, "lost multiplications");
                    time
                })
            },
        );
    }
    group.finish();
}

/// The value every reference competitor holds: a checksum lets readers detect a torn or freed
/// read.
#[derive(Debug)]
struct Payload {
    id: u64,
    check: u64,
}

impl Payload {
    fn new(id: u64) -> Self {
        Self { id, check: !id }
    }

    fn verify(&self) -> u64 {
        assert_eq!(self.check, !self.id, "torn read");
        self.id
    }
}

/// A shared, atomically replaceable `Arc<Payload>`.
trait SharedRef: Sync {
    fn name() -> String;
    fn make(v: Payload) -> Self;
    /// An owned `Arc` of the current value (`get` / `load_full` / clone under a read lock).
    fn get_full(&self) -> u64;
    /// A borrowed read without reference-count traffic, where the competitor has one.
    fn borrow_read(&self) -> u64;
    fn swap(&self, v: Payload);
    /// One successful compare-and-swap, retried until it wins.
    fn cas(&self, id: u64);
}

impl<R: Reclaimer> SharedRef for AtomicReference<Payload, R> {
    fn name() -> String {
        format!("ours/{}", R::NAME)
    }
    fn make(v: Payload) -> Self {
        Self::with_reclaimer(v)
    }
    fn get_full(&self) -> u64 {
        self.get().verify()
    }
    fn borrow_read(&self) -> u64 {
        self.load().verify()
    }
    fn swap(&self, v: Payload) {
        self.set(v);
    }
    fn cas(&self, id: u64) {
        let fresh = Arc::new(Payload::new(id));
        loop {
            let seen = self.get();
            if self.compare_exchange(&seen, Arc::clone(&fresh)) {
                return;
            }
        }
    }
}

impl SharedRef for ArcSwap<Payload> {
    fn name() -> String {
        "arc-swap".into()
    }
    fn make(v: Payload) -> Self {
        ArcSwap::from_pointee(v)
    }
    fn get_full(&self) -> u64 {
        self.load_full().verify()
    }
    fn borrow_read(&self) -> u64 {
        self.load().verify()
    }
    fn swap(&self, v: Payload) {
        self.store(Arc::new(v));
    }
    fn cas(&self, id: u64) {
        let fresh = Arc::new(Payload::new(id));
        loop {
            let seen = self.load_full();
            let previous = self.compare_and_swap(&seen, Arc::clone(&fresh));
            if Arc::ptr_eq(&previous, &seen) {
                return;
            }
        }
    }
}

impl SharedRef for RwLock<Arc<Payload>> {
    fn name() -> String {
        "RwLock<Arc>".into()
    }
    fn make(v: Payload) -> Self {
        RwLock::new(Arc::new(v))
    }
    fn get_full(&self) -> u64 {
        Arc::clone(&self.read().unwrap()).verify()
    }
    fn borrow_read(&self) -> u64 {
        self.read().unwrap().verify()
    }
    fn swap(&self, v: Payload) {
        *self.write().unwrap() = Arc::new(v);
    }
    fn cas(&self, id: u64) {
        // Under the write lock a compare-and-swap always wins at its first try.
        *self.write().unwrap() = Arc::new(Payload::new(id));
    }
}

fn bench_reference<S: SharedRef>(c: &mut Criterion) {
    let mut group = c.benchmark_group("reference");
    let name = S::name();
    for threads in THREADS {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("get/{name}"), threads),
            &threads,
            |b, &threads| {
                let shared = S::make(Payload::new(7));
                b.iter_custom(|iters| {
                    timed(threads, iters, |_, n| {
                        (0..n).for_each(|_| assert_eq!(shared.get_full(), 7));
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("load/{name}"), threads),
            &threads,
            |b, &threads| {
                let shared = S::make(Payload::new(7));
                b.iter_custom(|iters| {
                    timed(threads, iters, |_, n| {
                        (0..n).for_each(|_| assert_eq!(shared.borrow_read(), 7));
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("swap/{name}"), threads),
            &threads,
            |b, &threads| {
                let shared = S::make(Payload::new(0));
                b.iter_custom(|iters| {
                    timed(threads, iters, |t, n| {
                        (0..n).for_each(|i| shared.swap(Payload::new(i + t as u64)));
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("cas/{name}"), threads),
            &threads,
            |b, &threads| {
                let shared = S::make(Payload::new(0));
                b.iter_custom(|iters| {
                    timed(threads, iters, |_, n| (0..n).for_each(|i| shared.cas(i)))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("read_mostly/{name}"), threads),
            &threads,
            |b, &threads| {
                // Thread 0 writes one time in 64; everyone else only reads.
                let shared = S::make(Payload::new(0));
                b.iter_custom(|iters| {
                    timed(threads, iters, |t, n| {
                        for i in 0..n {
                            if t == 0 && i % 64 == 0 {
                                shared.swap(Payload::new(i));
                            } else {
                                black_box(shared.get_full());
                            }
                        }
                    })
                })
            },
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = atomics;
    config = config();
    targets =
        bench_counter::<AtomicInt64>,
        bench_counter::<AtomicI64>,
        bench_reference::<AtomicReference<Payload, Epoch>>,
        bench_reference::<AtomicReference<Payload, HazardPointers>>,
        bench_reference::<ArcSwap<Payload>>,
        bench_reference::<RwLock<Arc<Payload>>>,
}
criterion_main!(atomics);
