//! shuttle models of `ConcurrentQueue`: 3–6 threads mixing push, pop, pop_timeout and shutdown
//! in every mode, with the lock-free queues reclaiming through the model-only `Quarantine`.
//! The segmented queue has 4-cell segments here, so these histories cross many segment
//! boundaries (appends, poisoned cells, retirements).
//! Checked: no value lost, none delivered twice, FIFO per producer, no lost wake-up (a sleeper
//! never woken is a deadlock, which shuttle reports).
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release --no-default-features --test shuttle_queue`.
//! `SHUTTLE_ITERATIONS` scales every test (default 10 000 schedules per scheduler).
#![cfg(shuttle)]

mod support;

use support::check;

use concurrency::reclaim::Quarantine;
use concurrency::{ConcurrentQueue, GetError, PopError, QueueMode, ShutDown, StdConcurrentQueue};
use shuttle::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use shuttle::thread;
use std::sync::Arc;
use std::time::Duration;

type Queue = ConcurrentQueue<u32, Quarantine>;

/// An item: producer in the high half, sequence number in the low half.
fn item(producer: u32, seq: u32) -> u32 {
    producer << 16 | seq
}

/// Checks a consumer's values for per-producer order and returns them.
fn in_producer_order(values: Vec<u32>) -> Vec<u32> {
    let mut last = [None::<u32>; 8];
    for &v in &values {
        let (p, seq) = ((v >> 16) as usize, v & 0xffff);
        assert!(
            last[p].is_none_or(|l| l < seq),
            "producer {p} out of order in {values:?}"
        );
        last[p] = Some(seq);
    }
    values
}

/// `producers` threads push `per_producer` values each; `consumers` threads pop until the
/// graceful shutdown the main thread sends once every producer is done. One consumer uses
/// `pop_timeout(0)` between blocking pops.
fn mixed(mode: QueueMode, producers: u32, consumers: u32, per_producer: u32) {
    let q = Arc::new(Queue::with_mode_and_reclaimer(mode));
    let producer_threads: Vec<_> = (0..producers)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                for seq in 0..per_producer {
                    q.push(item(p, seq)).unwrap();
                }
            })
        })
        .collect();
    let consumer_threads: Vec<_> = (0..consumers)
        .map(|c| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    if c == 0 {
                        match q.pop_timeout(Duration::ZERO) {
                            Ok(v) => {
                                got.push(v);
                                continue;
                            }
                            Err(PopError::ShutDown) => break,
                            Err(PopError::Empty) => {}
                        }
                    }
                    match q.pop() {
                        Ok(v) => got.push(v),
                        Err(ShutDown(())) => break,
                    }
                }
                in_producer_order(got)
            })
        })
        .collect();
    for p in producer_threads {
        p.join().unwrap();
    }
    q.shutdown(false);
    let mut delivered: Vec<u32> = consumer_threads
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        q.take_remaining().is_empty(),
        "a graceful shutdown left values behind"
    );
    delivered.sort_unstable();
    let mut expected: Vec<u32> = (0..producers)
        .flat_map(|p| (0..per_producer).map(move |s| item(p, s)))
        .collect();
    expected.sort_unstable();
    assert_eq!(delivered, expected, "lost or duplicated");
}

#[test]
fn segmented_two_producers_two_consumers() {
    check("segmented 2P+2C", || mixed(QueueMode::Segmented, 2, 2, 6));
}

#[test]
fn segmented_three_producers_three_consumers() {
    check("segmented 3P+3C", || mixed(QueueMode::Segmented, 3, 3, 4));
}

#[test]
fn lock_free_two_producers_two_consumers() {
    check("lock-free 2P+2C", || mixed(QueueMode::LockFree, 2, 2, 3));
}

#[test]
fn lock_free_three_producers_three_consumers() {
    check("lock-free 3P+3C", || mixed(QueueMode::LockFree, 3, 3, 2));
}

#[test]
fn locked_two_producers_two_consumers() {
    check("locked 2P+2C", || mixed(QueueMode::Locked, 2, 2, 3));
}

#[test]
fn locked_three_producers_three_consumers() {
    check("locked 3P+3C", || mixed(QueueMode::Locked, 3, 3, 2));
}

/// Pushes and pops racing an immediate shutdown: every accepted push is delivered exactly once,
/// by a pop or by `take_remaining`.
fn immediate_shutdown_race(mode: QueueMode) {
    let q = Arc::new(Queue::with_mode_and_reclaimer(mode));
    let pushers: Vec<_> = (0..2)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                (0..3)
                    .map(|seq| item(p, seq))
                    .filter(|&v| q.push(v).is_ok())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let popper = {
        let q = Arc::clone(&q);
        thread::spawn(move || std::iter::from_fn(|| q.pop().ok()).collect::<Vec<_>>())
    };
    q.shutdown(true);
    let mut accepted: Vec<u32> = pushers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    let mut delivered = in_producer_order(popper.join().unwrap());
    delivered.extend(q.take_remaining());
    accepted.sort_unstable();
    delivered.sort_unstable();
    assert_eq!(
        delivered, accepted,
        "an accepted push was lost or duplicated"
    );
}

#[test]
fn segmented_immediate_shutdown_race() {
    check("segmented push/pop ∥ immediate shutdown", || {
        immediate_shutdown_race(QueueMode::Segmented)
    });
}

#[test]
fn lock_free_immediate_shutdown_race() {
    check("lock-free push/pop ∥ immediate shutdown", || {
        immediate_shutdown_race(QueueMode::LockFree)
    });
}

#[test]
fn locked_immediate_shutdown_race() {
    check("locked push/pop ∥ immediate shutdown", || {
        immediate_shutdown_race(QueueMode::Locked)
    });
}

/// Blocking putters on a queue bounded at two (the ring) and getters that mark every value
/// done: `qsize` never exceeds the bound, `join` returns exactly when every value is done, and
/// a graceful shutdown then stops the getters.
#[test]
fn std_queue_bound_and_join() {
    check(
        "StdConcurrentQueue maxsize 2, 2 putters, 2 getters, join",
        || putters_getters_join(2),
    );
}

/// The same on an unbounded queue (the segmented storage, getters asleep on the std queue's
/// own event count).
#[test]
fn std_queue_unbounded_join() {
    check(
        "StdConcurrentQueue unbounded, 2 putters, 2 getters, join",
        || putters_getters_join(0),
    );
}

fn putters_getters_join(maxsize: usize) {
    let q = Arc::new(StdConcurrentQueue::<u32, Quarantine>::with_reclaimer(
        maxsize,
    ));
    let done = Arc::new(AtomicUsize::new(0));
    let putters: Vec<_> = (0..2)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                for seq in 0..3 {
                    q.put(item(p, seq)).unwrap();
                    let qsize = q.qsize();
                    assert!(
                        maxsize == 0 || qsize <= maxsize,
                        "qsize {qsize} above maxsize"
                    );
                }
            })
        })
        .collect();
    let getters: Vec<_> = (0..2)
        .map(|_| {
            let (q, done) = (Arc::clone(&q), Arc::clone(&done));
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match q.get() {
                        Ok(v) => got.push(v),
                        Err(GetError::ShutDown) => break,
                        Err(GetError::Empty) => unreachable!("get does not time out"),
                    }
                    done.fetch_add(1, SeqCst);
                    q.task_done().unwrap();
                }
                in_producer_order(got)
            })
        })
        .collect();
    for p in putters {
        p.join().unwrap();
    }
    q.join();
    assert_eq!(done.load(SeqCst), 6, "join returned before every task_done");
    q.shutdown(false);
    let got: usize = getters.into_iter().map(|g| g.join().unwrap().len()).sum();
    assert_eq!(got, 6);
}
