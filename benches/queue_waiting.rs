//! What waiting costs: CPU burned by a consumer blocked on an empty queue, and how far a 1 ms
//! timed pop overshoots its deadline. Not a criterion bench (there is nothing to iterate): run
//! `cargo bench --bench queue_waiting` and read the table. Under `cargo test` it runs a short
//! version to check that it works.
//!
//! Every competitor with a timed blocking pop sits behind one trait: ours in both modes,
//! crossbeam-channel, std `mpsc`, flume, and `Mutex<VecDeque>` + `Condvar`.

mod common;

use common::{cpu_ticks, TICK};
use concurrency::{ConcurrentQueue, PopError};
use std::collections::VecDeque;
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A queue whose consumer can wait for an item with a timeout.
trait TimedPop: Sync {
    fn name() -> String;
    fn new() -> Self;
    /// Waits up to `timeout` for an item; `None` when none came.
    fn pop_timeout(&self, timeout: Duration) -> Option<u64>;
}

struct Ours<const MODE: u8>(ConcurrentQueue<u64>);

impl<const MODE: u8> TimedPop for Ours<MODE> {
    fn name() -> String {
        common::ours_queue_mode(MODE).0.into()
    }
    fn new() -> Self {
        Self(ConcurrentQueue::with_mode(common::ours_queue_mode(MODE).1))
    }
    fn pop_timeout(&self, timeout: Duration) -> Option<u64> {
        match self.0.pop_timeout(timeout) {
            Ok(v) => Some(v),
            Err(PopError::Empty) => None,
            Err(PopError::ShutDown) => panic!("queue shut down"),
        }
    }
}

/// A channel whose receiver is not `Sync` sits behind a mutex; only one consumer waits here, so
/// the lock is never contended.
struct Channel<S, R>(
    #[allow(dead_code, reason = "keeps the channel open")] S,
    Mutex<R>,
);

impl TimedPop for Channel<crossbeam_channel::Sender<u64>, crossbeam_channel::Receiver<u64>> {
    fn name() -> String {
        "crossbeam-channel".into()
    }
    fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self(tx, Mutex::new(rx))
    }
    fn pop_timeout(&self, timeout: Duration) -> Option<u64> {
        self.1.lock().unwrap().recv_timeout(timeout).ok()
    }
}

impl TimedPop for Channel<mpsc::Sender<u64>, mpsc::Receiver<u64>> {
    fn name() -> String {
        "std mpsc".into()
    }
    fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self(tx, Mutex::new(rx))
    }
    fn pop_timeout(&self, timeout: Duration) -> Option<u64> {
        self.1.lock().unwrap().recv_timeout(timeout).ok()
    }
}

impl TimedPop for Channel<flume::Sender<u64>, flume::Receiver<u64>> {
    fn name() -> String {
        "flume".into()
    }
    fn new() -> Self {
        let (tx, rx) = flume::unbounded();
        Self(tx, Mutex::new(rx))
    }
    fn pop_timeout(&self, timeout: Duration) -> Option<u64> {
        self.1.lock().unwrap().recv_timeout(timeout).ok()
    }
}

struct LockedDeque(Mutex<VecDeque<u64>>, Condvar);

impl TimedPop for LockedDeque {
    fn name() -> String {
        "Mutex<VecDeque>+Condvar".into()
    }
    fn new() -> Self {
        Self(Mutex::new(VecDeque::new()), Condvar::new())
    }
    fn pop_timeout(&self, timeout: Duration) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        let mut items = self.0.lock().unwrap();
        loop {
            if let Some(v) = items.pop_front() {
                return Some(v);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            items = self.1.wait_timeout(items, deadline - now).unwrap().0;
        }
    }
}

struct Waiting {
    cpu_while_blocked: Duration,
    overshoot_p50: Duration,
    overshoot_p99: Duration,
}

fn measure<Q: TimedPop>(blocked_for: Duration, timed_pops: usize) -> Waiting {
    let queue = Q::new();
    let before = cpu_ticks();
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(queue.pop_timeout(blocked_for), None, "nothing was pushed"));
    });
    let cpu_while_blocked = TICK * (cpu_ticks() - before) as u32;

    let timeout = Duration::from_millis(1);
    let mut overshoots: Vec<Duration> = (0..timed_pops)
        .map(|_| {
            let start = Instant::now();
            assert_eq!(queue.pop_timeout(timeout), None);
            start.elapsed().saturating_sub(timeout)
        })
        .collect();
    overshoots.sort_unstable();
    let at = |q: f64| overshoots[((overshoots.len() - 1) as f64 * q) as usize];
    Waiting {
        cpu_while_blocked,
        overshoot_p50: at(0.5),
        overshoot_p99: at(0.99),
    }
}

fn row<Q: TimedPop>(blocked_for: Duration, timed_pops: usize) {
    let w = measure::<Q>(blocked_for, timed_pops);
    println!(
        "| {} | {:?} | {:?} | {:?} |",
        Q::name(),
        w.cpu_while_blocked,
        w.overshoot_p50,
        w.overshoot_p99
    );
}

fn main() {
    // `cargo test --benches` passes no `--bench`: run a short version that only checks it works.
    let full = std::env::args().any(|a| a == "--bench");
    let (blocked_for, timed_pops) = if full {
        (Duration::from_secs(1), 500)
    } else {
        (Duration::from_millis(20), 5)
    };
    println!(
        "consumer blocked {blocked_for:?} on an empty queue; {timed_pops} pops with a 1 ms timeout"
    );
    println!("| queue | CPU while blocked | overshoot p50 | overshoot p99 |");
    println!("|---|---|---|---|");
    row::<Ours<{ common::SEGMENTED }>>(blocked_for, timed_pops);
    row::<Ours<{ common::LOCK_FREE }>>(blocked_for, timed_pops);
    row::<Ours<{ common::LOCKED }>>(blocked_for, timed_pops);
    row::<Channel<crossbeam_channel::Sender<u64>, crossbeam_channel::Receiver<u64>>>(
        blocked_for,
        timed_pops,
    );
    row::<Channel<mpsc::Sender<u64>, mpsc::Receiver<u64>>>(blocked_for, timed_pops);
    row::<Channel<flume::Sender<u64>, flume::Receiver<u64>>>(blocked_for, timed_pops);
    row::<LockedDeque>(blocked_for, timed_pops);
}
