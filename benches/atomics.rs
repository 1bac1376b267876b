//! Atomics against their peers.
//!
//! * `int64/*`: [`AtomicInt64`] against std's `AtomicI64` (`incr`, `add`, and the CAS-loop `mul`).
//! * `flag/*`: [`AtomicFlag`] against std's `AtomicBool`: `get` (every thread reads a set flag,
//!   and every read must see it set) and `set` (every thread writes, then the last write must be
//!   read back).
//! * `reference/*`: [`AtomicReference`] on epochs and on hazard pointers against `arc-swap`
//!   (`load_full`, `load`, `swap`, `compare_and_swap`) and `RwLock<Arc<T>>`.
//!
//! Every competitor sits behind one trait per family. Threads are released together by a
//! `Barrier` and only the parallel section is timed (`iter_custom`); the thread count is the
//! `BenchmarkId` parameter and the throughput is operations across all threads. Each sample
//! checks its result, so a fast wrong answer fails the bench instead of winning it.

mod common;

use arc_swap::ArcSwap;
use common::counters::{Counter, Flag};
use common::references::{Payload, SharedRef};
use common::timed_parallel;
use concurrency::reclaim::{Epoch, HazardPointers};
use concurrency::{AtomicFlag, AtomicInt64, AtomicReference};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, RwLock};
use std::time::Duration;

const THREADS: [usize; 2] = [1, 2];

/// Runs `op(thread, iters)` on `threads` threads released together; returns the wall time of
/// the parallel section alone.
fn timed(threads: usize, iters: u64, op: impl Fn(usize, u64) + Sync) -> Duration {
    timed_parallel(threads, |t, _| op(t, iters)).0
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

fn bench_flag<F: Flag>(c: &mut Criterion) {
    let mut group = c.benchmark_group("flag");
    for threads in THREADS {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("get/{}", F::NAME), threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let flag = F::default();
                    flag.set(true);
                    let (time, seen) = timed_parallel(threads, |_, _| {
                        (0..iters).filter(|_| black_box(&flag).get()).count() as u64
                    });
                    assert_eq!(
                        seen.iter().sum::<u64>(),
                        threads as u64 * iters,
                        "unset read"
                    );
                    time
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("set/{}", F::NAME), threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let flag = F::default();
                    let time = timed(threads, iters, |t, n| {
                        (0..n).for_each(|i| black_box(&flag).set((i + t as u64) % 2 == 0))
                    });
                    flag.set(true);
                    assert!(flag.get(), "the last write is not read back");
                    time
                })
            },
        );
    }
    group.finish();
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
        bench_flag::<AtomicFlag>,
        bench_flag::<AtomicBool>,
        bench_reference::<AtomicReference<Payload, Epoch>>,
        bench_reference::<AtomicReference<Payload, HazardPointers>>,
        bench_reference::<ArcSwap<Payload>>,
        bench_reference::<RwLock<Arc<Payload>>>,
}
criterion_main!(atomics);
