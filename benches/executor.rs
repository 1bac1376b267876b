//! `ThreadPoolExecutor` against other ways to run closures on a few threads.
//!
//! Competitors, every one with the same number of worker threads ([`WORKERS`]):
//! ours (`submit` + `result`, and `map`), rayon (`ThreadPool::spawn` with a channel back, and
//! `par_iter` for the map), the `threadpool` crate (`execute` with a channel back), tokio's
//! `spawn_blocking` (blocking pool of a current-thread runtime), and `std::thread::scope` (no
//! pool: the threads are spawned for each batch and pull task numbers from a shared counter).
//!
//! * `executor/submit/*`: [`SUBMITTED`] empty tasks, submitted all at once, then every result
//!   collected; time per task.
//! * `executor/map/*`: [`MAPPED`] tasks of about a microsecond of arithmetic each, results in
//!   input order; time per task.
//! * `executor/latency/*`: one task on an idle pool, from submission to its result in hand.
//! * printed once: CPU time an idle pool burns in one second (after running a batch, so its
//!   workers exist).
//!
//! Every batch checks the sum of its results, so a competitor that drops work fails the bench.

mod common;

use common::{cpu_ticks, short_config, TICK};
use concurrency::futures::ThreadPoolExecutor;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Worker threads of every pool: the bench machine's two cores.
const WORKERS: usize = 2;

/// Tasks per `submit` batch (the 1 M, scaled to keep a run within minutes here).
const SUBMITTED: u64 = 100_000;

/// Tasks per `map` batch.
const MAPPED: u64 = 100_000;

/// About a microsecond of arithmetic that the optimizer cannot remove.
fn work(x: u64) -> u64 {
    let mut acc = x;
    for i in 0..300 {
        acc = black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc % 1000
}

/// What every competitor can do.
trait Pool {
    fn name() -> &'static str;
    fn new() -> Self;
    /// Runs `f(i)` for `i in 0..n`, all submitted before any result is awaited; the sum.
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64;
    /// The results of `f(i)` for `i in 0..n`, in order, summed as they arrive in order.
    fn map(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        self.run_all(n, f)
    }
    /// Runs one task and returns its result.
    fn round_trip(&self, x: u64) -> u64;
}

struct Ours(ThreadPoolExecutor);

impl Pool for Ours {
    fn name() -> &'static str {
        "ours"
    }
    fn new() -> Self {
        Self(
            ThreadPoolExecutor::builder()
                .max_workers(WORKERS)
                .build()
                .unwrap(),
        )
    }
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        let futures: Vec<_> = (0..n)
            .map(|i| self.0.submit(move || f(i)).unwrap())
            .collect();
        futures.iter().map(|fut| fut.result(None).unwrap()).sum()
    }
    fn map(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        self.0.map(f, 0..n, None).unwrap().map(Result::unwrap).sum()
    }
    fn round_trip(&self, x: u64) -> u64 {
        self.0.submit(move || x + 1).unwrap().result(None).unwrap()
    }
}

struct Rayon(rayon::ThreadPool);

impl Pool for Rayon {
    fn name() -> &'static str {
        "rayon"
    }
    fn new() -> Self {
        Self(
            rayon::ThreadPoolBuilder::new()
                .num_threads(WORKERS)
                .build()
                .unwrap(),
        )
    }
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        let (tx, rx) = mpsc::channel();
        for i in 0..n {
            let tx = tx.clone();
            self.0.spawn(move || tx.send(f(i)).unwrap());
        }
        drop(tx);
        rx.iter().sum()
    }
    fn map(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        self.0
            .install(|| (0..n).into_par_iter().map(f).collect::<Vec<_>>())
            .into_iter()
            .sum()
    }
    fn round_trip(&self, x: u64) -> u64 {
        let (tx, rx) = mpsc::channel();
        self.0.spawn(move || tx.send(x + 1).unwrap());
        rx.recv().unwrap()
    }
}

struct ThreadpoolCrate(threadpool::ThreadPool);

impl Pool for ThreadpoolCrate {
    fn name() -> &'static str {
        "threadpool"
    }
    fn new() -> Self {
        Self(threadpool::ThreadPool::new(WORKERS))
    }
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        let (tx, rx) = mpsc::channel();
        for i in 0..n {
            let tx = tx.clone();
            self.0.execute(move || tx.send(f(i)).unwrap());
        }
        drop(tx);
        rx.iter().sum()
    }
    fn round_trip(&self, x: u64) -> u64 {
        let (tx, rx) = mpsc::channel();
        self.0.execute(move || tx.send(x + 1).unwrap());
        rx.recv().unwrap()
    }
}

struct TokioBlocking(tokio::runtime::Runtime);

impl Pool for TokioBlocking {
    fn name() -> &'static str {
        "tokio spawn_blocking"
    }
    fn new() -> Self {
        Self(
            tokio::runtime::Builder::new_current_thread()
                .max_blocking_threads(WORKERS)
                .build()
                .unwrap(),
        )
    }
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        self.0.block_on(async {
            let handles: Vec<_> = (0..n)
                .map(|i| tokio::task::spawn_blocking(move || f(i)))
                .collect();
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        })
    }
    fn round_trip(&self, x: u64) -> u64 {
        self.0
            .block_on(async move { tokio::task::spawn_blocking(move || x + 1).await })
            .unwrap()
    }
}

/// No pool: scoped threads spawned per batch.
struct Scope;

impl Pool for Scope {
    fn name() -> &'static str {
        "std::thread::scope"
    }
    fn new() -> Self {
        Self
    }
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        let next = AtomicU64::new(0);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|_| {
                    s.spawn(|| {
                        let mut sum = 0;
                        loop {
                            let i = next.fetch_add(1, Relaxed);
                            if i >= n {
                                return sum;
                            }
                            sum += f(i);
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        })
    }
    fn round_trip(&self, x: u64) -> u64 {
        std::thread::scope(|s| s.spawn(move || x + 1).join().unwrap())
    }
}

fn expected(n: u64, f: fn(u64) -> u64) -> u64 {
    (0..n).map(f).sum()
}

fn bench_pool<P: Pool>(c: &mut Criterion) {
    let pool = P::new();
    let identity: fn(u64) -> u64 = |i| i;
    let mut group = c.benchmark_group("executor/submit");
    group.throughput(Throughput::Elements(SUBMITTED));
    let want = expected(SUBMITTED, identity);
    group.bench_function(BenchmarkId::from_parameter(P::name()), |b| {
        b.iter(|| assert_eq!(pool.run_all(SUBMITTED, identity), want));
    });
    group.finish();

    let mut group = c.benchmark_group("executor/map");
    group.throughput(Throughput::Elements(MAPPED));
    let want = expected(MAPPED, work);
    group.bench_function(BenchmarkId::from_parameter(P::name()), |b| {
        b.iter(|| assert_eq!(pool.map(MAPPED, work), want));
    });
    group.finish();

    let mut group = c.benchmark_group("executor/latency");
    group.bench_function(BenchmarkId::from_parameter(P::name()), |b| {
        b.iter(|| assert_eq!(pool.round_trip(black_box(41)), 42));
    });
    group.finish();

    assert_eq!(pool.run_all(1_000, identity), expected(1_000, identity));
    let before = (cpu_ticks(), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let burned = TICK * (cpu_ticks() - before.0) as u32;
    println!(
        "executor/idle_cpu/{}: {burned:?} of CPU in {:?} idle",
        P::name(),
        before.1.elapsed()
    );
}

fn executors(c: &mut Criterion) {
    bench_pool::<Ours>(c);
    bench_pool::<Rayon>(c);
    bench_pool::<ThreadpoolCrate>(c);
    bench_pool::<TokioBlocking>(c);
    bench_pool::<Scope>(c);
}

criterion_group! {
    name = benches;
    config = short_config();
    targets = executors
}
criterion_main!(benches);
