//! loom models of `StdConcurrentQueue`'s bounded ring: the stamp protocol at capacity 1 and 2
//! with two putters and two getters (the capacity-2 model wraps the ring), the value's
//! publication (with a mutant), the sleeping put, get and `join`, and shutdown racing a
//! blocked put.
//!
//! Run: `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --no-default-features --test loom_std_queue`. Each model prints how many executions it
//! explored.
#![cfg(loom)]

mod support;

use support::{check, check_bounded};

use concurrency::{GetError, PutError, StdConcurrentQueue};
use loom::sync::Arc;
use loom::thread;

fn ring(capacity: usize) -> Arc<StdConcurrentQueue<u32>> {
    Arc::new(StdConcurrentQueue::new(capacity))
}

/// Two putters (one of them the model's main thread: see `publication_of_a_ring_value`) and
/// two getters, all non-blocking, on
/// a ring of `capacity` whose positions start at `offset` (values put and got before the
/// model, so that it can wrap). Checks
/// that no value is lost or duplicated, and that the bound holds: a put beyond the capacity
/// succeeded only after a get made room.
fn two_putters_two_getters(capacity: usize, offset: usize) {
    let q = ring(capacity);
    for v in 0..offset {
        q.put_nowait(100 + v as u32).unwrap();
        assert_eq!(q.get_nowait(), Ok(100 + v as u32));
    }
    let putter = {
        let q = Arc::clone(&q);
        thread::spawn(move || q.put_nowait(2).is_ok().then_some(2))
    };
    let getters: Vec<_> = (0..2)
        .map(|_| {
            let q = Arc::clone(&q);
            thread::spawn(move || q.get_nowait().ok())
        })
        .collect();
    let mut accepted: Vec<u32> = q.put_nowait(1).is_ok().then_some(1).into_iter().collect();
    accepted.extend(putter.join().unwrap());
    let mut got: Vec<u32> = getters
        .into_iter()
        .filter_map(|g| g.join().unwrap())
        .collect();
    assert!(
        accepted.len() <= capacity + got.len(),
        "{} values accepted into {capacity} cells with {} got",
        accepted.len(),
        got.len()
    );
    while let Ok(v) = q.get_nowait() {
        got.push(v);
    }
    got.sort_unstable();
    accepted.sort_unstable();
    assert_eq!(got, accepted, "lost or duplicated");
}

/// Capacity 1: every put past the first needs a get in between.
#[test]
fn capacity_one_two_putters_two_getters() {
    check_bounded("ring capacity 1, 2 putters + 2 getters", 1, || {
        two_putters_two_getters(1, 0);
    });
}

/// Capacity 2, started at position 1: the second value lands in the next lap's cell 0.
#[test]
fn capacity_two_two_putters_two_getters_across_the_wrap() {
    check_bounded(
        "ring capacity 2 across the wrap, 2 putters + 2 getters",
        1,
        || {
            two_putters_two_getters(2, 1);
        },
    );
}

/// A putter publishes a value the getter takes: the getter must see what was written. The
/// main thread puts: with the putter spawned instead, this model ran once and missed its
/// mutant (a thread that opens with an atomic load, as a push does, is what loom 0.7.2 can
/// skip: tokio-rs/loom#392). Under
/// `--cfg concurrency_mutant="stamp_without_release"` the push's stamp loses its Release and
/// loom must report the getter's unsynchronized read of the value.
#[test]
#[cfg_attr(
    concurrency_mutant = "stamp_without_release",
    should_panic(expected = "Causality violation")
)]
fn publication_of_a_ring_value() {
    check("ring publication", || {
        let q = ring(1);
        let getter = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.get_nowait())
        };
        q.put_nowait(7).unwrap();
        let got = getter.join().unwrap();
        assert!(got == Ok(7) || (got == Err(GetError::Empty) && q.get_nowait() == Ok(7)));
    });
}

/// A put asleep on a full ring wakes when a get makes room, and a get asleep on an empty one
/// wakes when a put arrives: no lost wake-up in either direction.
#[test]
fn sleeping_put_and_get_wake() {
    check("ring: a blocked put wakes on a get", || {
        let q = ring(1);
        q.put(1).unwrap();
        let putter = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.put(2).is_ok())
        };
        assert_eq!(q.get(), Ok(1));
        assert!(putter.join().unwrap());
        assert_eq!(q.get_nowait(), Ok(2));
    });
    check("ring: a blocked get wakes on a put", || {
        let q = ring(1);
        let getter = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.get())
        };
        q.put(5).unwrap();
        assert_eq!(getter.join().unwrap(), Ok(5));
    });
}

/// `join` racing the `task_done` of the last value returns: the task count reaching zero
/// always wakes it.
#[test]
fn join_wakes_on_the_last_task_done() {
    check("ring: join ∥ get + task_done", || {
        let q = ring(1);
        q.put(1).unwrap();
        let joiner = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.join())
        };
        assert_eq!(q.get(), Ok(1));
        q.task_done().unwrap();
        joiner.join().unwrap();
        assert!(q.task_done().is_err());
    });
}

/// A put asleep on a full ring when a graceful shutdown comes wakes with its value back; the
/// value already in stays for the gets, which then report the shutdown.
#[test]
fn shutdown_wakes_a_blocked_put() {
    check("ring: graceful shutdown ∥ blocked put", || {
        let q = ring(1);
        q.put(1).unwrap();
        let putter = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.put(2))
        };
        q.shutdown(false);
        assert!(matches!(putter.join().unwrap(), Err(PutError::ShutDown(2))));
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.get(), Err(GetError::ShutDown));
    });
}
