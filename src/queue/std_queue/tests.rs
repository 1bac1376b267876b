use super::*;
use crate::sync::{Arc, AtomicUsize};
use crate::test_support::{assert_drops_settle, Bomb, Tracked};
use crate::ShutDown;
use std::thread;

fn pause() {
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
}

#[test]
fn exactly_maxsize_concurrent_put_nowaits_succeed() {
    let maxsize = 7;
    let q = StdConcurrentQueue::new(maxsize);
    let accepted = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..4 {
            let (q, accepted) = (&q, &accepted);
            s.spawn(move || {
                for i in 0..if cfg!(miri) { 5 } else { 100 } {
                    if q.put_nowait(t * 1000 + i).is_ok() {
                        accepted.fetch_add(1, Ordering::Relaxed); // a tally, read after join
                    }
                }
            });
        }
    });
    assert_eq!(accepted.into_inner(), maxsize);
    assert_eq!(q.qsize(), maxsize);
    assert!(q.full());
    assert!(matches!(q.put_nowait(0), Err(PutError::Full(0))));
}

#[test]
fn qsize_never_exceeds_maxsize_under_contention() {
    let maxsize = 3;
    let rounds = if cfg!(miri) { 10 } else { 2_000 };
    let q = StdConcurrentQueue::new(maxsize);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            // Relaxed: a stop flag; it publishes nothing, so it pairs with nothing.
            while !stop.load(Ordering::Relaxed) {
                assert!(q.qsize() <= maxsize, "qsize {} > maxsize", q.qsize());
                thread::yield_now();
            }
        });
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    for i in 0..rounds {
                        q.put(i).unwrap();
                        q.get().unwrap();
                        q.task_done().unwrap();
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed); // see the load above
    });
    assert!(q.empty());
    q.join();
}

#[test]
fn a_put_blocked_on_a_full_queue_wakes_when_room_appears() {
    let q = StdConcurrentQueue::new(1);
    q.put(1).unwrap();
    thread::scope(|s| {
        let putter = s.spawn(|| q.put(2));
        pause();
        assert_eq!(q.get(), Ok(1));
        assert!(putter.join().unwrap().is_ok());
    });
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn timeouts_report_full_and_empty() {
    let q = StdConcurrentQueue::new(1);
    assert_eq!(
        q.get_timeout(Duration::from_millis(2)),
        Err(GetError::Empty)
    );
    assert_eq!(q.get_nowait(), Err(GetError::Empty));
    q.put_timeout(1, Duration::from_millis(2)).unwrap();
    let refused = q.put_timeout(2, Duration::from_millis(2)).unwrap_err();
    assert!(matches!(refused, PutError::Full(2)));
    assert_eq!(refused.to_string(), "the queue is full");
    assert_eq!(q.get_timeout(Duration::MAX), Ok(1));
}

#[test]
fn join_waits_for_every_task_done() {
    let q = StdConcurrentQueue::new(0);
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        for i in 0..3 {
            q.put(i).unwrap();
        }
        s.spawn(|| {
            while let Ok(_job) = q.get_timeout(Duration::from_millis(50)) {
                pause();
                done.fetch_add(1, Ordering::SeqCst);
                q.task_done().unwrap();
            }
        });
        q.join();
        assert_eq!(
            done.load(Ordering::SeqCst),
            3,
            "join returned before every task_done"
        );
    });
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert_eq!(
        TaskDoneError.to_string(),
        "task_done() called too many times"
    );
}

#[test]
fn graceful_shutdown_drains_but_does_not_release_join() {
    let q = StdConcurrentQueue::new(2);
    q.put(1).unwrap();
    q.put(2).unwrap();
    let marked = AtomicBool::new(false);
    thread::scope(|s| {
        let putter = s.spawn(|| q.put(3));
        pause();
        q.shutdown(false);
        assert!(matches!(putter.join().unwrap(), Err(PutError::ShutDown(3))));
        let joiner = s.spawn(|| {
            q.join();
            assert!(
                marked.load(Ordering::SeqCst),
                "a graceful shutdown released join"
            );
        });
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.get(), Ok(2));
        assert_eq!(q.get(), Err(GetError::ShutDown));
        pause();
        q.task_done().unwrap();
        marked.store(true, Ordering::SeqCst);
        q.task_done().unwrap();
        joiner.join().unwrap();
    });
}

#[test]
fn immediate_shutdown_wakes_everyone_and_drops_what_is_left() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = StdConcurrentQueue::new(1);
    q.put(Tracked::new(1, &drops)).unwrap();
    thread::scope(|s| {
        let putter = s.spawn(|| q.put(Tracked::new(2, &drops)).map_err(PutError::into_inner));
        let joiner = s.spawn(|| q.join());
        pause();
        q.shutdown(true);
        let refused = putter.join().unwrap().unwrap_err();
        assert_eq!(refused.verify(), 2);
        joiner.join().unwrap();
    });
    assert!(matches!(q.get(), Err(GetError::ShutDown)));
    assert_eq!(q.qsize(), 0);
    drop(q);
    assert_drops_settle(&drops, 2);
}

#[test]
fn getters_asleep_on_an_empty_queue_wake_on_shutdown() {
    let q = StdConcurrentQueue::<u8>::new(0);
    thread::scope(|s| {
        let getters: Vec<_> = (0..2).map(|_| s.spawn(|| q.get())).collect();
        pause();
        q.shutdown(false);
        for getter in getters {
            assert_eq!(getter.join().unwrap(), Err(GetError::ShutDown));
        }
    });
}

#[test]
fn unbounded_is_never_full() {
    let q = StdConcurrentQueue::new(0);
    for i in 0..100 {
        q.put_nowait(i).unwrap();
    }
    assert!(!q.full());
    assert_eq!(q.qsize(), 100);
    assert!(format!("{q:?}").contains("qsize: 100"));
}

#[test]
fn errors_and_sharing() {
    fn shareable<X: Send + Sync>() {}
    shareable::<StdConcurrentQueue<std::cell::Cell<u8>>>();
    let _: &dyn std::error::Error = &PutError::Full(1);
    let _: &dyn std::error::Error = &GetError::Empty;
    let _: &dyn std::error::Error = &ShutDown(());
    assert_eq!(format!("{:?}", PutError::ShutDown(1)), "ShutDown(..)");
    assert_eq!(GetError::from(PopError::ShutDown), GetError::ShutDown);
}

#[cfg(not(miri))]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone)]
    enum Op {
        PutNowait(u8),
        GetNowait,
        TaskDone,
        Shutdown(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u8>().prop_map(Op::PutNowait),
            3 => Just(Op::GetNowait),
            2 => Just(Op::TaskDone),
            1 => any::<bool>().prop_map(Op::Shutdown),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_bounded_vecdeque(maxsize in prop_oneof![0usize..5, Just(MAX_RING_SLOTS + 1)], ops in prop::collection::vec(op(), 0..64)) {
            let q = StdConcurrentQueue::new(maxsize);
            let mut model = VecDeque::new();
            let (mut unfinished, mut shut, mut immediate) = (0usize, false, false);
            for op in ops {
                match op {
                    Op::PutNowait(v) => {
                        let got = q.put_nowait(v);
                        if shut {
                            prop_assert!(matches!(got, Err(PutError::ShutDown(x)) if x == v));
                        } else if maxsize > 0 && model.len() == maxsize {
                            prop_assert!(matches!(got, Err(PutError::Full(x)) if x == v));
                        } else {
                            prop_assert!(got.is_ok());
                            model.push_back(v);
                            unfinished += 1;
                        }
                    }
                    Op::GetNowait => {
                        let expected = if immediate {
                            Err(GetError::ShutDown)
                        } else {
                            model.pop_front().ok_or(if shut { GetError::ShutDown } else { GetError::Empty })
                        };
                        prop_assert_eq!(q.get_nowait(), expected);
                    }
                    Op::TaskDone => {
                        let expected = if unfinished == 0 { Err(TaskDoneError) } else { Ok(()) };
                        unfinished = unfinished.saturating_sub(1);
                        prop_assert_eq!(q.task_done(), expected);
                    }
                    Op::Shutdown(now) => {
                        q.shutdown(now);
                        shut = true;
                        if now && !immediate {
                            immediate = true;
                            unfinished = unfinished.saturating_sub(model.len());
                            model.clear();
                        }
                    }
                }
                prop_assert_eq!(q.qsize(), model.len());
                prop_assert_eq!(q.full(), maxsize > 0 && model.len() >= maxsize);
            }
        }
    }
}

#[test]
fn a_ring_wrapped_many_times_drops_exactly_what_is_left() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = StdConcurrentQueue::new(3);
    for lap in 0..10 {
        q.put(Tracked::new(lap, &drops)).unwrap();
        assert_eq!(q.get().unwrap().verify(), lap);
    }
    for id in 10..12 {
        q.put(Tracked::new(id, &drops)).unwrap();
    }
    assert_eq!(q.qsize(), 2);
    drop(q);
    assert_drops_settle(&drops, 12);
}

#[test]
fn a_panicking_drop_in_the_ring_does_not_leak_the_other_values() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = StdConcurrentQueue::new(4);
    q.put(Bomb::new(false, &drops)).unwrap();
    q.put(Bomb::new(true, &drops)).unwrap();
    q.put(Bomb::new(false, &drops)).unwrap();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(q)));
    assert!(dropped.is_err());
    assert_drops_settle(&drops, 3);
}

#[test]
fn an_immediate_shutdown_whose_drop_panics_still_releases_join() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = StdConcurrentQueue::new(2);
    q.put(Bomb::new(true, &drops)).unwrap();
    q.put(Bomb::new(false, &drops)).unwrap();
    let shut = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.shutdown(true)));
    assert!(shut.is_err());
    q.join();
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert_drops_settle(&drops, 2);
}

/// A bound above what a ring takes is kept by the slot counter, just as strictly.
#[cfg(not(miri))]
#[test]
fn a_bound_too_large_for_a_ring_is_still_strict() {
    let maxsize = MAX_RING_SLOTS + 1;
    let q = StdConcurrentQueue::new(maxsize);
    for i in 0..maxsize {
        q.put_nowait(i).unwrap();
    }
    assert!(q.full());
    assert!(matches!(q.put_nowait(0), Err(PutError::Full(0))));
    assert_eq!(q.get_nowait(), Ok(0));
    q.put_nowait(maxsize).unwrap();
    assert_eq!(q.qsize(), maxsize);
}
