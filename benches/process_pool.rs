//! `ProcessPoolExecutor` (`ours`) against one process per task (`spawn-per-task`), with our
//! `ThreadPoolExecutor` as a baseline row (it runs the same function, without a process
//! boundary).
//!
//! * `process_pool/latency/*`: one small task on an idle pool, from submission to its value in
//!   hand; for `spawn-per-task`, starting this executable in one-shot mode, which computes the
//!   value and prints it.
//! * `process_pool/throughput/*`: [`BATCH`] tasks of about a microsecond each, submitted at once
//!   (`map` with chunks of [`CHUNK`] for the process pool, one chunk per request); time per
//!   task.
//!
//! Each competitor has [`WORKERS`] workers; every batch checks the sum of its values. This file
//! is its own `main`: the pool's workers are this executable started again.

mod common;

use common::pools::work;
use concurrency::futures::{ProcessPoolExecutor, Registry, TaskFn, ThreadPoolExecutor};
use criterion::{BenchmarkId, Criterion, Throughput};
use std::process::Command;

/// Workers of every pool: the bench machine's two cores.
const WORKERS: usize = 2;
/// Tasks per throughput batch.
const BATCH: u64 = 2_000;
/// Items per request in the process pool's `map`.
const CHUNK: usize = 100;
/// Set in a one-shot child: the argument to compute and print.
const ONE_SHOT_ENV: &str = "PROCESS_POOL_BENCH_ONE_SHOT";

static WORK: TaskFn<u64, u64> = TaskFn::new("work", work);

fn expected(n: u64) -> u64 {
    (0..n).map(work).sum()
}

fn latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_pool");
    group.throughput(Throughput::Elements(1));
    let processes = ProcessPoolExecutor::builder()
        .max_workers(WORKERS)
        .build()
        .unwrap();
    processes.submit(WORK, 0).unwrap().result(None).unwrap(); // start a worker
    group.bench_function(BenchmarkId::new("latency/ours", WORKERS), |b| {
        b.iter(|| processes.submit(WORK, 7).unwrap().result(None).unwrap())
    });
    let threads = ThreadPoolExecutor::builder()
        .max_workers(WORKERS)
        .build()
        .unwrap();
    group.bench_function(
        BenchmarkId::new("latency/baseline: ThreadPoolExecutor", WORKERS),
        |b| b.iter(|| threads.submit(|| work(7)).unwrap().result(None).unwrap()),
    );
    let exe = std::env::current_exe().unwrap();
    group.bench_function(BenchmarkId::new("latency/spawn-per-task", WORKERS), |b| {
        b.iter(|| {
            let out = Command::new(&exe).env(ONE_SHOT_ENV, "7").output().unwrap();
            let value: u64 = String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            assert_eq!(value, work(7));
            value
        })
    });
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_pool");
    group.throughput(Throughput::Elements(BATCH));
    let processes = ProcessPoolExecutor::builder()
        .max_workers(WORKERS)
        .build()
        .unwrap();
    group.bench_with_input(
        BenchmarkId::new("throughput/ours", WORKERS),
        &BATCH,
        |b, &n| {
            b.iter(|| {
                let sum: u64 = processes
                    .map(WORK, 0..n, CHUNK, None)
                    .unwrap()
                    .map(Result::unwrap)
                    .sum();
                assert_eq!(sum, expected(n));
            })
        },
    );
    let threads = ThreadPoolExecutor::builder()
        .max_workers(WORKERS)
        .build()
        .unwrap();
    group.bench_with_input(
        BenchmarkId::new("throughput/baseline: ThreadPoolExecutor", WORKERS),
        &BATCH,
        |b, &n| {
            b.iter(|| {
                let sum: u64 = threads
                    .map(work, 0..n, None)
                    .unwrap()
                    .map(Result::unwrap)
                    .sum();
                assert_eq!(sum, expected(n));
            })
        },
    );
    group.finish();
}

fn main() {
    Registry::new().register(WORK).serve_if_worker();
    if let Ok(arg) = std::env::var(ONE_SHOT_ENV) {
        println!("{}", work(arg.parse().unwrap()));
        return;
    }
    let mut c = common::short_config().configure_from_args();
    latency(&mut c);
    throughput(&mut c);
    c.final_summary();
}
