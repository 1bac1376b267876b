//! The task cell and the watcher list: the closure is called or dropped exactly once on every
//! path, a future dropped before it is done frees its watchers, and withdrawn waiters are
//! unlinked wherever they are in the list.

use super::super::waiter::Waiter;
use super::super::watchers::Watcher;
use super::super::*;
use crate::sync::{Arc, AtomicUsize, Ordering::SeqCst};
use crate::test_support::Tracked;
use std::sync::Barrier;

const LONG: Option<std::time::Duration> = Some(std::time::Duration::from_secs(30));

fn one_worker() -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap()
}

/// Occupies the only worker of `pool` until the returned barrier is passed.
fn occupy(pool: &ThreadPoolExecutor) -> (Future<()>, Arc<Barrier>) {
    let started = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let blocker = {
        let (started, release) = (Arc::clone(&started), Arc::clone(&release));
        pool.submit(move || {
            started.wait();
            release.wait();
        })
        .unwrap()
    };
    started.wait();
    (blocker, release)
}

/// Submits one task per id, each capturing a [`Tracked`] that counts its drop in `drops`.
fn submit_tracked(
    pool: &ThreadPoolExecutor,
    ids: std::ops::Range<u64>,
    drops: &Arc<AtomicUsize>,
) -> Vec<Future<u64>> {
    ids.map(|id| {
        let captured = Tracked::new(id, drops);
        pool.submit(move || captured.verify()).unwrap()
    })
    .collect()
}

#[test]
fn a_task_closure_is_dropped_exactly_once_on_every_path() {
    let drops = Arc::new(AtomicUsize::new(0));
    let pool = one_worker();
    let ran = {
        let captured = Tracked::new(1, &drops);
        pool.submit(move || captured.verify()).unwrap()
    };
    assert_eq!(ran.result(LONG).unwrap(), 1);

    let (blocker, release) = occupy(&pool);
    let queued = submit_tracked(&pool, 2..6, &drops);
    assert!(queued[0].cancel(), "cancelled while queued");
    queued[1].set_result(0).unwrap();
    assert_eq!(queued[2].set_running_or_notify_cancel(), Ok(true));
    queued[2].set_result(0).unwrap();
    drop(queued[3].clone());
    release.wait();
    blocker.result(LONG).unwrap();
    assert_eq!(
        queued[3].result(LONG).unwrap(),
        5,
        "the one left alone runs"
    );
    for f in &queued[..3] {
        assert!(f.done());
    }
    pool.shutdown(true, false);
    assert_eq!(drops.load(SeqCst), 5, "each closure dropped once");
}

#[test]
fn a_pool_shut_down_with_queued_tasks_drops_their_closures() {
    let drops = Arc::new(AtomicUsize::new(0));
    let pool = one_worker();
    let (blocker, release) = occupy(&pool);
    let queued = submit_tracked(&pool, 0..3, &drops);
    let shutdown = std::thread::spawn(move || pool.shutdown(true, true));
    while !queued.iter().all(Future::cancelled) {
        std::thread::yield_now();
    }
    release.wait();
    shutdown.join().unwrap();
    blocker.result(LONG).unwrap();
    assert_eq!(drops.load(SeqCst), 3);
    drop(queued);
    assert_eq!(drops.load(SeqCst), 3);
}

#[test]
fn a_future_dropped_before_it_is_done_frees_its_callbacks_without_running_them() {
    let drops = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let f = Future::<u32>::new();
    for id in 0..3 {
        let captured = Tracked::new(id, &drops);
        let runs = Arc::clone(&runs);
        f.add_done_callback(move |_| {
            captured.verify();
            runs.fetch_add(1, SeqCst);
        });
    }
    drop(f);
    assert_eq!((drops.load(SeqCst), runs.load(SeqCst)), (3, 0));
}

#[test]
fn withdrawn_waiters_are_unlinked_at_the_head_and_below_it() {
    let f = Future::<u32>::new();
    let bottom = Arc::new(Waiter::for_this_thread());
    let middle = Arc::new(Waiter::for_this_thread());
    let top = Arc::new(Waiter::for_this_thread());
    assert!(f.watch(Watcher::Waiter(Waiter::register(&bottom))));
    f.add_done_callback(|_| {});
    assert!(f.watch(Watcher::Waiter(Waiter::register(&middle))));
    assert!(f.watch(Watcher::Waiter(Waiter::register(&top))));
    assert_eq!(f.watcher_count(), 4);
    middle.withdraw();
    bottom.withdraw();
    f.prune();
    assert_eq!(f.watcher_count(), 2, "the two below the head are unlinked");
    top.withdraw();
    f.prune();
    assert_eq!(f.watcher_count(), 1, "the head too");
    assert_eq!(
        Arc::strong_count(&top),
        1,
        "an unlinked node drops its waiter"
    );
    f.set_result(1).unwrap();
    assert_eq!(f.watcher_count(), 0);
}

#[test]
fn a_finished_future_fires_its_waiters_once_and_keeps_nothing() {
    let f = Future::<u32>::new();
    let waiter = Arc::new(Waiter::for_this_thread());
    assert!(f.watch(Watcher::Waiter(Waiter::register(&waiter))));
    f.set_result(1).unwrap();
    assert!(waiter.wait(Some(std::time::Instant::now())), "fired");
    assert!(!waiter.wait(Some(std::time::Instant::now())), "once");
    assert!(
        !f.watch(Watcher::Waiter(Waiter::register(&waiter))),
        "a done future refuses"
    );
    assert_eq!(Arc::strong_count(&waiter), 1);
}

#[test]
fn a_task_submitted_by_a_task_is_stolen_by_an_idle_worker() {
    let pool = Arc::new(
        ThreadPoolExecutor::builder()
            .max_workers(2)
            .build()
            .unwrap(),
    );
    let both = Arc::new(Barrier::new(2));
    let outer = {
        let (pool, both) = (Arc::clone(&pool), Arc::clone(&both));
        pool.clone()
            .submit(move || {
                let inner = {
                    let both = Arc::clone(&both);
                    pool.submit(move || {
                        both.wait();
                        7
                    })
                    .unwrap()
                };
                // Only another worker can pass this with the inner task: it must steal it.
                both.wait();
                inner
            })
            .unwrap()
    };
    let inner = outer.result(LONG).unwrap();
    assert_eq!(inner.result(LONG).unwrap(), 7);
}
