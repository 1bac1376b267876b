use super::*;
use crate::reclaim::HazardPointers;
use crate::sync::{Arc, AtomicUsize};
use crate::test_support::{assert_drops_settle, completes_while_stalled, Bomb, Stall, Tracked};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

/// Runs a test body on every queue variant: every mode, and the lock-free ones on both
/// reclaimers.
macro_rules! on_every_variant {
    ($($name:ident),* $(,)?) => {
        mod segmented_epoch {
            $(#[test] fn $name() {
                super::$name(ConcurrentQueue::<_>::with_mode(QueueMode::Segmented))
            })*
            use super::*;
        }
        mod segmented_hazard_pointers {
            $(#[test] fn $name() {
                super::$name(ConcurrentQueue::<_, HazardPointers>::with_mode_and_reclaimer(
                    QueueMode::Segmented,
                ))
            })*
            use super::*;
        }
        mod lock_free_epoch {
            $(#[test] fn $name() {
                super::$name(ConcurrentQueue::<_>::with_mode(QueueMode::LockFree))
            })*
            use super::*;
        }
        mod lock_free_hazard_pointers {
            $(#[test] fn $name() {
                super::$name(ConcurrentQueue::<_, HazardPointers>::with_mode_and_reclaimer(
                    QueueMode::LockFree,
                ))
            })*
            use super::*;
        }
        mod locked {
            $(#[test] fn $name() { super::$name(ConcurrentQueue::<_>::with_mode(QueueMode::Locked)) })*
            use super::*;
        }
    };
}

on_every_variant!(
    fifo_when_alone,
    graceful_shutdown_drains_then_fails,
    immediate_shutdown_fails_at_once_and_keeps_values,
    a_sleeping_popper_wakes_for_a_push,
    shutdown_wakes_every_sleeping_popper,
    pop_timeout_gives_up,
    mpmc_delivers_each_value_once_in_producer_order,
    pushes_racing_an_immediate_shutdown_lose_nothing,
    remaining_values_are_dropped_with_the_queue,
    a_panicking_destructor_does_not_stop_the_teardown,
    garbage_a_thread_retired_is_freed_after_the_queue_is_gone,
);

fn scaled(n: usize) -> usize {
    if cfg!(miri) {
        n / 100 + 2
    } else {
        n
    }
}

fn fifo_when_alone<R: Reclaimer>(q: ConcurrentQueue<u32, R>) {
    assert!(q.is_empty());
    for i in 0..10 {
        q.push(i).unwrap();
    }
    assert_eq!(q.len(), 10);
    assert_eq!(q.try_pop(), Ok(0));
    assert_eq!(q.pop(), Ok(1));
    assert_eq!(q.take_remaining(), (2..10).collect::<Vec<_>>());
    assert_eq!(q.try_pop(), Err(PopError::Empty));
    assert!(q.is_empty());
    assert!(format!("{q:?}").contains("len: 0"));
}

fn graceful_shutdown_drains_then_fails<R: Reclaimer>(q: ConcurrentQueue<u32, R>) {
    q.push(1).unwrap();
    q.push(2).unwrap();
    q.shutdown(false);
    assert!(q.is_shutdown());
    assert_eq!(q.push(3).unwrap_err().into_inner(), 3);
    assert_eq!(q.pop(), Ok(1));
    assert_eq!(q.try_pop(), Ok(2));
    assert_eq!(q.pop(), Err(ShutDown(())));
    assert_eq!(q.try_pop(), Err(PopError::ShutDown));
    assert_eq!(
        q.pop_timeout(Duration::from_secs(60)),
        Err(PopError::ShutDown)
    );
}

fn immediate_shutdown_fails_at_once_and_keeps_values<R: Reclaimer>(q: ConcurrentQueue<u32, R>) {
    q.push(1).unwrap();
    q.push(2).unwrap();
    q.shutdown(false);
    q.shutdown(true);
    assert_eq!(q.try_pop(), Err(PopError::ShutDown));
    assert_eq!(q.pop(), Err(ShutDown(())));
    assert!(q.push(3).is_err());
    q.shutdown(false);
    assert_eq!(
        q.try_pop(),
        Err(PopError::ShutDown),
        "graceful cannot undo immediate"
    );
    assert_eq!(q.take_remaining(), [1, 2]);
    assert!(q.take_remaining().is_empty());
}

fn a_sleeping_popper_wakes_for_a_push<R: Reclaimer>(q: ConcurrentQueue<u32, R>) {
    thread::scope(|s| {
        let popper = s.spawn(|| q.pop());
        thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
        q.push(7).unwrap();
        assert_eq!(popper.join().unwrap(), Ok(7));
    });
}

fn shutdown_wakes_every_sleeping_popper<R: Reclaimer>(q: ConcurrentQueue<u32, R>) {
    thread::scope(|s| {
        let poppers: Vec<_> = (0..3).map(|_| s.spawn(|| q.pop())).collect();
        let timed = s.spawn(|| q.pop_timeout(Duration::from_secs(3600)));
        thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
        q.shutdown(false);
        for popper in poppers {
            assert_eq!(popper.join().unwrap(), Err(ShutDown(())));
        }
        assert_eq!(timed.join().unwrap(), Err(PopError::ShutDown));
    });
}

fn pop_timeout_gives_up<R: Reclaimer>(q: ConcurrentQueue<u32, R>) {
    assert_eq!(q.pop_timeout(Duration::ZERO), Err(PopError::Empty));
    assert_eq!(
        q.pop_timeout(Duration::from_millis(2)),
        Err(PopError::Empty)
    );
    // A timeout too large to represent is no timeout, and no error.
    q.push(9).unwrap();
    assert_eq!(q.pop_timeout(Duration::MAX), Ok(9));
}

fn mpmc_delivers_each_value_once_in_producer_order<R: Reclaimer>(q: ConcurrentQueue<u64, R>) {
    let per_producer = scaled(5_000) as u64;
    let producer_count = 2u64;
    let received = thread::scope(|s| {
        let producers: Vec<_> = (0..producer_count)
            .map(|p| {
                let q = &q;
                s.spawn(move || {
                    for i in 0..per_producer {
                        q.push(p << 32 | i).unwrap();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut last = [None::<u64>; 2];
                    let mut got = Vec::new();
                    while let Ok(v) = q.pop() {
                        let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
                        assert!(last[p].is_none_or(|l| l < i), "producer {p} out of order");
                        last[p] = Some(i);
                        got.push(v);
                    }
                    got
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        q.shutdown(false);
        consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect::<Vec<_>>()
    });
    let distinct: HashSet<_> = received.iter().collect();
    assert_eq!(
        distinct.len(),
        received.len(),
        "a value was delivered twice"
    );
    assert_eq!(
        received.len() as u64,
        producer_count * per_producer,
        "a value was lost"
    );
}

fn pushes_racing_an_immediate_shutdown_lose_nothing<R: Reclaimer>(q: ConcurrentQueue<u64, R>) {
    let attempts = scaled(3_000) as u64;
    let (accepted, popped) = thread::scope(|s| {
        let pushers: Vec<_> = (0..2u64)
            .map(|t| {
                let q = &q;
                s.spawn(move || {
                    (0..attempts)
                        .filter(|i| q.push(t * attempts + i).is_ok())
                        .map(|i| t * attempts + i)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let popper = s.spawn(|| {
            let mut got = Vec::new();
            while let Ok(v) = q.pop() {
                got.push(v);
            }
            got
        });
        thread::yield_now();
        q.shutdown(true);
        let accepted: Vec<u64> = pushers
            .into_iter()
            .flat_map(|p| p.join().unwrap())
            .collect();
        (accepted, popper.join().unwrap())
    });
    let mut delivered = popped;
    delivered.extend(q.take_remaining());
    delivered.sort_unstable();
    let mut accepted = accepted;
    accepted.sort_unstable();
    assert_eq!(
        delivered, accepted,
        "every accepted push delivered exactly once"
    );
}

fn remaining_values_are_dropped_with_the_queue<R: Reclaimer>(q: ConcurrentQueue<Tracked, R>) {
    let drops = Arc::new(AtomicUsize::new(0));
    for id in 0..20 {
        q.push(Tracked::new(id, &drops)).unwrap();
    }
    for _ in 0..5 {
        q.pop().unwrap().verify();
    }
    q.shutdown(false);
    assert!(q.push(Tracked::new(99, &drops)).is_err());
    drop(q);
    assert_drops_settle(&drops, 21);
}

fn a_panicking_destructor_does_not_stop_the_teardown<R: Reclaimer>(q: ConcurrentQueue<Bomb, R>) {
    let drops = Arc::new(AtomicUsize::new(0));
    for i in 0..10 {
        q.push(Bomb::new(i % 3 == 1, &drops)).unwrap();
    }
    drop(q.pop().unwrap());
    let teardown = catch_unwind(AssertUnwindSafe(move || drop(q)));
    assert!(teardown.is_err(), "the first destructor panic resumes");
    assert_drops_settle(&drops, 10);
}

#[test]
fn the_queue_is_shareable_when_values_can_move() {
    fn shareable<X: Send + Sync>() {}
    shareable::<ConcurrentQueue<std::cell::Cell<u8>>>();
    shareable::<ConcurrentQueue<String, HazardPointers>>();
}

#[cfg(not(miri))]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        Push(u8),
        TryPop,
        Shutdown(bool),
        TakeRemaining,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u8>().prop_map(Op::Push),
            3 => Just(Op::TryPop),
            1 => any::<bool>().prop_map(Op::Shutdown),
            1 => Just(Op::TakeRemaining),
        ]
    }

    fn matches_vecdeque(mode: QueueMode, ops: &[Op]) -> Result<(), TestCaseError> {
        let q = ConcurrentQueue::with_mode(mode);
        let mut model = VecDeque::new();
        let mut state = OPEN;
        for op in ops {
            match op {
                Op::Push(v) => {
                    let got = q.push(*v).map_err(ShutDown::into_inner);
                    if state == OPEN {
                        prop_assert_eq!(got, Ok(()));
                        model.push_back(*v);
                    } else {
                        prop_assert_eq!(got, Err(*v));
                    }
                }
                Op::TryPop => {
                    let expected = match (state, model.pop_front()) {
                        (IMMEDIATE, taken) => {
                            if let Some(v) = taken {
                                model.push_front(v);
                            }
                            Err(PopError::ShutDown)
                        }
                        (_, Some(v)) => Ok(v),
                        (OPEN, None) => Err(PopError::Empty),
                        (_, None) => Err(PopError::ShutDown),
                    };
                    prop_assert_eq!(q.try_pop(), expected);
                }
                Op::Shutdown(immediate) => {
                    q.shutdown(*immediate);
                    state = state.max(if *immediate { IMMEDIATE } else { GRACEFUL });
                }
                Op::TakeRemaining => {
                    prop_assert_eq!(q.take_remaining(), model.drain(..).collect::<Vec<_>>());
                }
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(q.is_shutdown(), state != OPEN);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn segmented_matches_a_vecdeque(ops in prop::collection::vec(op(), 0..200)) {
            matches_vecdeque(QueueMode::Segmented, &ops)?;
        }

        #[test]
        fn lock_free_matches_a_vecdeque(ops in prop::collection::vec(op(), 0..64)) {
            matches_vecdeque(QueueMode::LockFree, &ops)?;
        }

        #[test]
        fn locked_matches_a_vecdeque(ops in prop::collection::vec(op(), 0..64)) {
            matches_vecdeque(QueueMode::Locked, &ops)?;
        }
    }
}

/// A thread retires what it popped through (segments, nodes) into its own garbage, the queue
/// is dropped on another thread while that garbage is still pending, and the thread exits only
/// then, handing its garbage on: under the global epoch collector (ordinary builds, and Miri
/// with `--cfg concurrency_global_epoch`) the frees run after the queue is gone.
fn garbage_a_thread_retired_is_freed_after_the_queue_is_gone<R: Reclaimer>(
    q: ConcurrentQueue<Tracked, R>,
) {
    let drops = Arc::new(AtomicUsize::new(0));
    let values = if cfg!(miri) { 13 } else { 200 };
    let q = Arc::new(q);
    let (pushed, wait_for_push) = std::sync::mpsc::channel();
    let (gone, wait_for_drop) = std::sync::mpsc::channel::<()>();
    let worker = {
        let (q, drops) = (Arc::clone(&q), Arc::clone(&drops));
        thread::spawn(move || {
            for i in 0..values {
                q.push(Tracked::new(i, &drops)).unwrap();
                assert_eq!(q.try_pop().unwrap().verify(), i);
            }
            q.push(Tracked::new(values, &drops)).unwrap();
            drop(q);
            pushed.send(()).unwrap();
            wait_for_drop.recv().unwrap();
        })
    };
    wait_for_push.recv().unwrap();
    drop(q);
    gone.send(()).unwrap();
    worker.join().unwrap();
    assert_drops_settle(&drops, values as usize + 1);
}

/// A push stalled in the middle of its operation (a preempted thread) at `point`: every other
/// push and pop completes meanwhile, and once released the stalled push lands, exactly once.
fn a_stalled_push_blocks_nobody<R: Reclaimer>(q: ConcurrentQueue<u64, R>, point: &'static str) {
    const STALLED: u64 = u64::MAX;
    let q = Arc::new(q);
    let stall = Arc::new(Stall::new(point));
    let pusher = {
        let (q, stall) = (Arc::clone(&q), Arc::clone(&stall));
        thread::spawn(move || {
            stall.arm();
            q.push(STALLED).unwrap();
        })
    };
    stall.wait_reached();
    let values = scaled(1_000) as u64;
    let others = Arc::clone(&q);
    let (seen, saw) = std::sync::mpsc::channel();
    completes_while_stalled("pushes and pops", move || {
        for v in 0..values {
            others.push(v).unwrap();
        }
        let mut next = 0;
        while next < values {
            match others.try_pop() {
                Ok(STALLED) => seen.send(()).unwrap(),
                Ok(v) => {
                    assert_eq!(v, next, "FIFO");
                    next += 1;
                }
                Err(PopError::Empty) => panic!("a pushed value is missing"),
                Err(PopError::ShutDown) => unreachable!("never shut down"),
            }
        }
    });
    stall.release();
    pusher.join().unwrap();
    let late = q.take_remaining();
    assert_eq!(saw.try_iter().count() + late.len(), 1, "{late:?}");
    assert!(late.iter().all(|&v| v == STALLED));
}

#[test]
fn a_push_stalled_after_its_ticket_blocks_nobody() {
    const POINT: &str = "segmented::push::ticketed";
    a_stalled_push_blocks_nobody(ConcurrentQueue::<_>::with_mode(QueueMode::Segmented), POINT);
    a_stalled_push_blocks_nobody(
        ConcurrentQueue::<_, HazardPointers>::with_mode_and_reclaimer(QueueMode::Segmented),
        POINT,
    );
}

#[test]
fn a_push_stalled_after_its_link_blocks_nobody() {
    const POINT: &str = "michael_scott::push::linked";
    a_stalled_push_blocks_nobody(ConcurrentQueue::<_>::with_mode(QueueMode::LockFree), POINT);
    a_stalled_push_blocks_nobody(
        ConcurrentQueue::<_, HazardPointers>::with_mode_and_reclaimer(QueueMode::LockFree),
        POINT,
    );
}
