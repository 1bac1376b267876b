//! loom models of `ConcurrentQueue`: the segmented fetch-and-add queue (2-cell segments under
//! loom, so appends, poisoning and segment retirement run) and the Michael–Scott algorithm,
//! with reclamation inside the model, the two-lock queue, the event count's sleep/wake
//! protocol (spin budget 0 under loom), shutdown and timeouts. The models that take
//! `ConcurrentQueue::new()` run the default mode, `Segmented`.
//!
//! The lock-free queue runs on epochs here. On hazard pointers it cannot: every operation takes
//! a hazard record from haphazard's shared list, whose lock bit haphazard spins on without
//! yielding, and a preempted lock holder makes loom report an endless branch. Hazard pointers
//! are modelled on `AtomicReference` (`loom_atomics`) and run the queue under Miri.
//!
//! Run: `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --no-default-features --test loom_queue`. Each model prints how many executions it explored.
#![cfg(loom)]

mod support;

use support::{check, check_bounded};

use concurrency::reclaim::{Epoch, Reclaimer};
use concurrency::{ConcurrentQueue, PopError, QueueMode, ShutDown};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

fn lock_free<R: Reclaimer>() -> Arc<ConcurrentQueue<u32, R>> {
    Arc::new(ConcurrentQueue::with_mode_and_reclaimer(
        QueueMode::LockFree,
    ))
}

fn segmented<R: Reclaimer>() -> Arc<ConcurrentQueue<u32, R>> {
    Arc::new(ConcurrentQueue::with_mode_and_reclaimer(
        QueueMode::Segmented,
    ))
}

fn spawn_push<R: Reclaimer>(
    q: &Arc<ConcurrentQueue<u32, R>>,
    values: &'static [u32],
) -> thread::JoinHandle<()> {
    let q = Arc::clone(q);
    thread::spawn(move || {
        for &v in values {
            q.push(v).unwrap();
        }
    })
}

/// Two producers push their values while this thread pops once; then the rest is drained.
/// Everything taken, the pop's value first.
fn two_producers_race_a_pop<R: Reclaimer>(
    q: Arc<ConcurrentQueue<u32, R>>,
    pushes: [&'static [u32]; 2],
) -> Vec<u32> {
    let producers = pushes.map(|values| spawn_push(&q, values));
    let mut got: Vec<u32> = q.try_pop().into_iter().collect();
    for producer in producers {
        producer.join().unwrap();
    }
    got.extend(q.take_remaining());
    drop(q);
    got
}

/// A producer pushes `values` while two consumers (this thread and another) pop once each;
/// then the rest is drained. Everything taken, sorted.
fn two_pops_race_a_producer<R: Reclaimer>(
    q: Arc<ConcurrentQueue<u32, R>>,
    values: &'static [u32],
) -> Vec<u32> {
    let producer = spawn_push(&q, values);
    let consumer = {
        let q = Arc::clone(&q);
        thread::spawn(move || q.try_pop().ok())
    };
    let mine = q.try_pop().ok();
    producer.join().unwrap();
    let theirs = consumer.join().unwrap();
    let mut got: Vec<u32> = mine.into_iter().chain(theirs).collect();
    got.extend(q.take_remaining());
    drop(q);
    got.sort_unstable();
    got
}

/// Two producers, one consumer: every value delivered once. Three threads on epochs: explored
/// at one preemption (two did not finish in ten minutes).
#[test]
fn two_producers_one_consumer() {
    check_bounded("MS queue 2P+1C (epoch)", 1, || {
        let mut got = two_producers_race_a_pop(lock_free::<Epoch>(), [&[1], &[10]]);
        got.sort_unstable();
        assert_eq!(got, [1, 10], "lost or duplicated");
    });
}

/// One producer, two consumers racing for its value: it goes to exactly one of them, and the
/// old sentinel is reclaimed inside the model. Three threads on epochs: explored at one
/// preemption.
#[test]
fn one_producer_two_consumers() {
    check_bounded("MS queue 1P+2C (epoch)", 1, || {
        let got = two_pops_race_a_producer(lock_free::<Epoch>(), &[1]);
        assert_eq!(got, [1], "lost or duplicated");
    });
}

/// Two producers, one consumer on 2-cell segments: with one value already queued, the two
/// pushes race for the last cell and the append of the second (pre-filled) segment, while the
/// consumer may overtake one of them and poison its cell.
#[test]
fn segmented_two_producers_one_consumer() {
    check_bounded("segmented 2P+1C (epoch)", 1, || {
        let q = segmented::<Epoch>();
        q.push(0).unwrap();
        let mut got = two_producers_race_a_pop(q, [&[1], &[10]]);
        assert_eq!(got[0], 0, "FIFO broken");
        got.sort_unstable();
        assert_eq!(got, [0, 1, 10], "lost or duplicated");
    });
}

/// One producer, two consumers on 2-cell segments: with one value queued, the consumers race
/// for it and may overshoot `tail` and poison the producer's cell; the producer then retries
/// at a later ticket, possibly in a new segment, and a consumer retires the old one inside
/// the model.
#[test]
fn segmented_one_producer_two_consumers() {
    check_bounded("segmented 1P+2C (epoch)", 1, || {
        let q = segmented::<Epoch>();
        q.push(1).unwrap();
        let got = two_pops_race_a_producer(q, &[2]);
        assert_eq!(got, [1, 2], "lost or duplicated");
    });
}

/// A push racing `close` on a full 2-cell segment: either the push appends its segment before
/// the closed mark, or it fails; a graceful drain then finds exactly the accepted values.
#[test]
fn segmented_shutdown_racing_an_append() {
    check("segmented append ∥ graceful shutdown", || {
        let q = segmented::<Epoch>();
        q.push(1).unwrap();
        q.push(2).unwrap();
        let pusher = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.push(3).is_ok())
        };
        q.shutdown(false);
        let accepted = pusher.join().unwrap();
        let drained: Vec<u32> = std::iter::from_fn(|| q.pop().ok()).collect();
        assert_eq!(drained, if accepted { vec![1, 2, 3] } else { vec![1, 2] });
    });
}

/// A producer publishes a value the consumer takes from a segmented cell. Under
/// `--cfg concurrency_mutant="fill_without_release"` the cell's FULL CAS loses its Release and
/// loom must report the consumer's unsynchronized read of the value.
#[test]
#[cfg_attr(
    concurrency_mutant = "fill_without_release",
    should_panic(expected = "Causality violation")
)]
fn publication_of_a_segmented_value() {
    check(
        "segmented publication",
        || publication(segmented::<Epoch>()),
    );
}

/// One value pushed while the consumer pops: it gets the value, intact, or finds the queue
/// empty and the value stays.
fn publication(q: Arc<ConcurrentQueue<u32, Epoch>>) {
    let producer = spawn_push(&q, &[7]);
    let got = q.try_pop();
    producer.join().unwrap();
    let rest = q.take_remaining();
    drop(q);
    assert!(got == Ok(7) || (got == Err(PopError::Empty) && rest == [7]));
}

/// A producer publishes a value the consumer takes: the consumer must see what was written.
/// Under `--cfg concurrency_mutant="link_without_release"` the link loses its Release and loom
/// must report the consumer's unsynchronized read of the node's value.
#[test]
#[cfg_attr(
    concurrency_mutant = "link_without_release",
    should_panic(expected = "Causality violation")
)]
fn publication_of_a_pushed_value() {
    check("MS queue publication", || publication(lock_free::<Epoch>()));
}

/// A consumer that sleeps in `pop` is always woken by a push: a lost wake-up would leave it
/// blocked forever, which loom reports as a deadlock. Under
/// `--cfg concurrency_mutant="sleep_without_recheck"` the event count's waiter skips its
/// re-check after announcing itself, and loom must find the schedule in which it sleeps through
/// the push (loom's deadlock panic aborts the process while it unwinds through the model's
/// parked threads, so `.ci/test` checks the report in its output instead of `should_panic`).
fn no_lost_wakeup(mode: QueueMode) {
    let q: Arc<ConcurrentQueue<u32>> = Arc::new(ConcurrentQueue::with_mode(mode));
    let consumer = {
        let q = Arc::clone(&q);
        thread::spawn(move || q.pop())
    };
    q.push(3).unwrap();
    assert_eq!(consumer.join().unwrap(), Ok(3));
}

#[test]
fn no_lost_wakeup_segmented() {
    check("sleep/wake, segmented", || {
        no_lost_wakeup(QueueMode::Segmented)
    });
}

#[test]
fn no_lost_wakeup_lock_free() {
    check("sleep/wake, lock-free", || {
        no_lost_wakeup(QueueMode::LockFree)
    });
}

#[test]
fn no_lost_wakeup_locked() {
    check("sleep/wake, locked", || no_lost_wakeup(QueueMode::Locked));
}

/// Shutdown racing a blocked pop wakes it with `ShutDown`, gracefully or not.
fn shutdown_wakes_a_blocked_pop(immediate: bool) {
    let q: Arc<ConcurrentQueue<u32>> = Arc::new(ConcurrentQueue::new());
    let consumer = {
        let q = Arc::clone(&q);
        thread::spawn(move || q.pop())
    };
    q.shutdown(immediate);
    assert_eq!(consumer.join().unwrap(), Err(ShutDown(())));
}

#[test]
fn graceful_shutdown_wakes_a_blocked_pop() {
    check("graceful shutdown ∥ pop", || {
        shutdown_wakes_a_blocked_pop(false)
    });
}

#[test]
fn immediate_shutdown_wakes_a_blocked_pop() {
    check("immediate shutdown ∥ pop", || {
        shutdown_wakes_a_blocked_pop(true)
    });
}

/// A pop that times out as a push lands reserves nothing: the value stays for a later pop.
#[test]
fn timeout_racing_a_push_loses_nothing() {
    check("pop_timeout ∥ push", || {
        let q: Arc<ConcurrentQueue<u32>> = Arc::new(ConcurrentQueue::new());
        let producer = spawn_push(&q, &[5]);
        let got = q.pop_timeout(Duration::ZERO);
        producer.join().unwrap();
        match got {
            Ok(v) => assert_eq!(v, 5),
            Err(e) => {
                assert_eq!(e, PopError::Empty);
                assert_eq!(q.try_pop(), Ok(5), "the timed-out pop took the value");
            }
        }
    });
}

/// Pushes racing a graceful shutdown: a push either fails or is drained before `ShutDown`.
#[test]
fn graceful_shutdown_racing_pushes_drains_every_accepted_value() {
    check("push ∥ graceful shutdown ∥ pop", || {
        let q: Arc<ConcurrentQueue<u32>> = Arc::new(ConcurrentQueue::new());
        let pusher = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.push(1).is_ok())
        };
        q.shutdown(false);
        let accepted = pusher.join().unwrap();
        let drained: Vec<u32> = std::iter::from_fn(|| q.pop().ok()).collect();
        assert_eq!(drained, if accepted { vec![1] } else { vec![] });
    });
}
