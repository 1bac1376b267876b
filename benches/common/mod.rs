//! Shared by the benches: threads released together with only the parallel section timed, the
//! short criterion configuration, process CPU time, the naming of our queue modes, and the queue
//! benches' item encoding, polling backoff and delivery tally. Not every bench uses every
//! item, hence the `dead_code` allowance.
#![allow(
    dead_code,
    reason = "each bench includes this module and uses a subset of it"
)]

pub(crate) mod bounded_queues;
pub(crate) mod channels;
pub(crate) mod counters;
pub(crate) mod gathers;
pub(crate) mod maps;
pub(crate) mod pools;
pub(crate) mod queues;
pub(crate) mod references;

use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Runs `op(thread, failed)` on `threads` threads released together; returns the wall time of
/// the parallel section alone and every thread's result, in thread order. The section runs from
/// the first thread's start of `op` to the last thread's return from it, not to the join: a thread's exit (its
/// thread-locals' destructors, such as an epoch collector's flush) is not part of any
/// competitor's operation, and timing it once per sample would add a fixed cost that weighs on
/// short samples. `failed` is raised when a thread panics, so that pollers waiting for its
/// items give up instead of spinning forever.
pub(crate) fn timed_parallel<R: Send>(
    threads: usize,
    op: impl Fn(usize, &AtomicBool) -> R + Sync,
) -> (Duration, Vec<R>) {
    let barrier = Barrier::new(threads + 1);
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, failed, op) = (&barrier, &failed, &op);
                s.spawn(move || {
                    let _flag = RaiseOnPanic(failed);
                    barrier.wait();
                    let start = Instant::now();
                    let result = op(t, failed);
                    (result, start, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        let finished: Vec<(R, Instant, Instant)> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        let first_start = finished.iter().map(|&(_, start, _)| start).min();
        let last_end = finished.iter().map(|&(_, _, end)| end).max();
        let time = match (first_start, last_end) {
            (Some(start), Some(end)) => end - start,
            _ => Duration::ZERO,
        };
        (time, finished.into_iter().map(|(r, ..)| r).collect())
    })
}

/// Raises its flag when dropped by a panicking thread.
struct RaiseOnPanic<'a>(&'a AtomicBool);

impl Drop for RaiseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// The criterion configuration of the queue and dict benches: short, so a full run fits in a
/// few minutes on two cores.
pub(crate) fn short_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10)
}

/// CPU time (user + system) this process has used, from `/proc/self/stat`, in clock ticks.
pub(crate) fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let (utime, stime) = (fields[11], fields[12]);
    utime.parse::<u64>().unwrap() + stime.parse::<u64>().unwrap()
}

/// The tick length of [`cpu_ticks`] (`_SC_CLK_TCK` is 100 on Linux).
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// `MODE` const parameters of our queue adapters: [`ours_queue_mode`] maps them.
pub(crate) const SEGMENTED: u8 = 0;
pub(crate) const LOCK_FREE: u8 = 1;
pub(crate) const LOCKED: u8 = 2;

/// Our queue's mode for a `MODE` const parameter, with its name in result tables.
pub(crate) fn ours_queue_mode(mode: u8) -> (&'static str, concurrency::QueueMode) {
    match mode {
        SEGMENTED => ("ours/Segmented", concurrency::QueueMode::Segmented),
        LOCK_FREE => ("ours/LockFree", concurrency::QueueMode::LockFree),
        _ => ("ours/Locked", concurrency::QueueMode::Locked),
    }
}

/// An item is `producer << SEQ_BITS | sequence number`, so a consumer can check per-producer
/// order.
pub(crate) const SEQ_BITS: u32 = 40;
pub(crate) const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// Waiting for a polled queue: spin a little, then give the core away.
#[derive(Default)]
pub(crate) struct Backoff(u32);

impl Backoff {
    pub(crate) fn snooze(&mut self) {
        if self.0 < 6 {
            (0..1 << self.0).for_each(|_| spin_loop());
            self.0 += 1;
        } else {
            std::thread::yield_now();
        }
    }

    pub(crate) fn reset(&mut self) {
        self.0 = 0;
    }
}

/// What one thread popped.
#[derive(Default, Clone, Copy)]
pub(crate) struct Tally {
    count: u64,
    sum: u128,
}

impl Tally {
    pub(crate) fn add(&mut self, v: u64) {
        self.count += 1;
        self.sum += u128::from(v);
    }

    pub(crate) fn total(tallies: &[Tally]) -> Tally {
        tallies.iter().fold(Tally::default(), |a, b| Tally {
            count: a.count + b.count,
            sum: a.sum + b.sum,
        })
    }

    /// The tally of every item of `producers` producers that pushed `iters` items each.
    pub(crate) fn expected(producers: usize, iters: u64) -> Tally {
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

    pub(crate) fn check(tallies: &[Tally], producers: usize, iters: u64) {
        let (got, want) = (Tally::total(tallies), Tally::expected(producers, iters));
        assert_eq!(got.count, want.count, "items lost or duplicated");
        assert_eq!(got.sum, want.sum, "items lost, duplicated or corrupted");
    }
}
