//! Thread pools: ours, rayon, the `threadpool` crate, tokio's blocking pool and
//! `std::thread::scope`, behind one trait.

use concurrency::futures::ThreadPoolExecutor;
use rayon::prelude::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;

/// About a microsecond of arithmetic that the optimizer cannot remove.
pub(crate) fn work(x: u64) -> u64 {
    let mut acc = x;
    for i in 0..300 {
        acc = black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc % 1000
}

/// What every competitor can do.
pub(crate) trait Pool {
    fn name() -> &'static str;
    fn new(workers: usize) -> Self;
    /// Runs `f(i)` for `i in 0..n`, all submitted before any result is awaited; the sum.
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64;
    /// The results of `f(i)` for `i in 0..n`, in order, summed as they arrive in order.
    fn map(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        self.run_all(n, f)
    }
    /// Runs one task and returns its result.
    fn round_trip(&self, x: u64) -> u64;
}

pub(crate) struct Ours(ThreadPoolExecutor);

impl Pool for Ours {
    fn name() -> &'static str {
        "ours"
    }
    fn new(workers: usize) -> Self {
        Self(
            ThreadPoolExecutor::builder()
                .max_workers(workers)
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

pub(crate) struct Rayon(rayon::ThreadPool);

impl Pool for Rayon {
    fn name() -> &'static str {
        "rayon"
    }
    fn new(workers: usize) -> Self {
        Self(
            rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
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

pub(crate) struct ThreadpoolCrate(threadpool::ThreadPool);

impl Pool for ThreadpoolCrate {
    fn name() -> &'static str {
        "threadpool"
    }
    fn new(workers: usize) -> Self {
        Self(threadpool::ThreadPool::new(workers))
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

pub(crate) struct TokioBlocking(tokio::runtime::Runtime);

impl Pool for TokioBlocking {
    fn name() -> &'static str {
        "tokio spawn_blocking"
    }
    fn new(workers: usize) -> Self {
        Self(
            tokio::runtime::Builder::new_current_thread()
                .max_blocking_threads(workers)
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
pub(crate) struct Scope(usize);

impl Pool for Scope {
    fn name() -> &'static str {
        "baseline: std::thread::scope"
    }
    fn new(workers: usize) -> Self {
        Self(workers)
    }
    fn run_all(&self, n: u64, f: fn(u64) -> u64) -> u64 {
        let next = AtomicU64::new(0);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..self.0)
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
