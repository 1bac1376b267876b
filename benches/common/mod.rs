//! Shared by every bench: threads released together, only the parallel section timed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Runs `op(thread, failed)` on `threads` threads released together; returns the wall time of
/// the parallel section alone and every thread's result, in thread order. `failed` is raised when
/// a thread panics, so that pollers waiting for its items give up instead of spinning forever.
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
                    op(t, failed)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<R> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        (start.elapsed(), results)
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
