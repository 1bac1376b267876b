//! `ThreadPoolExecutor` against other ways to run closures on a few threads.
//!
//! Competitors, every one with the same number of worker threads (the `BenchmarkId` parameter):
//! ours (`submit` + `result`, and `map`), rayon (`ThreadPool::spawn` with a channel back, and
//! `par_iter` for the map), the `threadpool` crate (`execute` with a channel back), tokio's
//! `spawn_blocking` (blocking pool of a current-thread runtime), and, as a baseline row,
//! `std::thread::scope` (no pool and no task objects: the threads are spawned for each batch and
//! pull task numbers from a shared counter).
//!
//! * `executor/submit/*`: [`SUBMITTED`] empty tasks, submitted all at once, then every result
//!   collected; throughput in tasks, for each of [`WORKERS`] worker threads.
//! * `executor/map/*`: [`MAPPED`] tasks of about a microsecond of arithmetic each, results in
//!   input order; throughput in tasks, for each of [`WORKERS`] worker threads.
//! * `executor/latency/*`: one task on an idle pool of [`LATENCY_WORKERS`] workers, from
//!   submission to its result in hand.
//! * printed once per competitor: CPU time an idle pool of [`LATENCY_WORKERS`] burns in one
//!   second (after running a batch, so its workers exist).
//!
//! Four workers oversubscribe the two-core bench machine on purpose.
//!
//! Every batch checks the sum of its results, so a competitor that drops work fails the bench.

mod common;

use common::pools::{work, Ours, Pool, Rayon, Scope, ThreadpoolCrate, TokioBlocking};
use common::{cpu_ticks, short_config, TICK};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Worker threads of the pools in the throughput workloads.
const WORKERS: [usize; 3] = [1, 2, 4];

/// Worker threads of the pools in the latency workload: the bench machine's two cores.
const LATENCY_WORKERS: usize = 2;

/// Tasks per `submit` batch (the 1 M, scaled so that criterion's dozens of batches per
/// sample fit a short run).
const SUBMITTED: u64 = 10_000;

/// Tasks per `map` batch.
const MAPPED: u64 = 10_000;

fn expected(n: u64, f: fn(u64) -> u64) -> u64 {
    (0..n).map(f).sum()
}

fn bench_pool<P: Pool>(c: &mut Criterion) {
    let identity: fn(u64) -> u64 = |i| i;
    let mut group = c.benchmark_group("executor");
    for workers in WORKERS {
        let pool = P::new(workers);
        group.throughput(Throughput::Elements(SUBMITTED));
        let want = expected(SUBMITTED, identity);
        let id = BenchmarkId::new(format!("submit/{}", P::name()), workers);
        group.bench_function(id, |b| {
            b.iter(|| assert_eq!(pool.run_all(SUBMITTED, identity), want));
        });
        group.throughput(Throughput::Elements(MAPPED));
        let want = expected(MAPPED, work);
        let id = BenchmarkId::new(format!("map/{}", P::name()), workers);
        group.bench_function(id, |b| {
            b.iter(|| assert_eq!(pool.map(MAPPED, work), want));
        });
    }

    let pool = P::new(LATENCY_WORKERS);
    group.throughput(Throughput::Elements(1));
    let id = BenchmarkId::new(format!("latency/{}", P::name()), LATENCY_WORKERS);
    group.bench_function(id, |b| {
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
