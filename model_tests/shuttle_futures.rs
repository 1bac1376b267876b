//! shuttle models of futures and the thread pool: random and PCT schedules of 3–5 threads.
//!
//! Checked: cancel racing the runner has one winner; callbacks racing completion run exactly
//! once; `wait` and `as_completed` racing completions never miss one and never hang; shutdown
//! racing submit loses no accepted task; a one-worker pool whose task waits for a task it
//! submitted completes (the no-self-deadlock rule). A hang is a deadlock, which shuttle reports.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release --no-default-features --test shuttle_futures`.
//! `SHUTTLE_ITERATIONS` scales every test (default 10 000 schedules per scheduler).
#![cfg(shuttle)]

mod support;

use support::check;

use concurrency::futures::{
    as_completed, wait, Future, FutureError, ReturnWhen, SubmitError, ThreadPoolExecutor,
};
use shuttle::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use shuttle::thread;
use std::sync::Arc;

fn pool(max_workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(max_workers)
        .build()
        .unwrap()
}

#[test]
fn cancel_races_the_runner() {
    check("cancel ∥ set_running_or_notify_cancel ∥ result", || {
        let f = Future::<u32>::new();
        let runner = {
            let f = f.clone();
            thread::spawn(move || {
                let run = f.set_running_or_notify_cancel().unwrap();
                if run {
                    f.set_result(9).unwrap();
                }
                run
            })
        };
        let reader = {
            let f = f.clone();
            thread::spawn(move || f.result(None))
        };
        let cancelled = f.cancel();
        let ran = runner.join().unwrap();
        assert!(cancelled != ran);
        match reader.join().unwrap() {
            Ok(9) => assert!(ran),
            Err(FutureError::Cancelled) => assert!(cancelled),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn callbacks_race_completion() {
    check("3 × add_done_callback ∥ set_result", || {
        let runs = Arc::new(AtomicUsize::new(0));
        let f = Future::<u32>::new();
        let adders: Vec<_> = (0..3)
            .map(|_| {
                let (f, runs) = (f.clone(), Arc::clone(&runs));
                thread::spawn(move || {
                    f.add_done_callback(move |_| {
                        runs.fetch_add(1, SeqCst);
                    })
                })
            })
            .collect();
        f.set_result(1).unwrap();
        for adder in adders {
            adder.join().unwrap();
        }
        assert_eq!(runs.load(SeqCst), 3);
    });
}

#[test]
fn wait_and_as_completed_race_completions() {
    check("wait / as_completed ∥ 3 completers", || {
        let fs: Vec<_> = (0..3).map(|_| Future::<u32>::new()).collect();
        let completers: Vec<_> = fs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let f = f.clone();
                thread::spawn(move || {
                    if i == 1 {
                        assert!(f.cancel());
                    } else {
                        f.set_result(i as u32).unwrap();
                    }
                })
            })
            .collect();
        let first = wait(&fs, None, ReturnWhen::FirstCompleted);
        assert!(first.done.iter().all(Future::done) && !first.done.is_empty());
        let seen: Vec<_> = as_completed(&fs, None).map(Result::unwrap).collect();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(Future::done));
        let all = wait(&fs, None, ReturnWhen::AllCompleted);
        assert!(all.not_done.is_empty());
        for completer in completers {
            completer.join().unwrap();
        }
    });
}

/// A submitter races a waiting shutdown: every task accepted runs before the shutdown returns
/// (also the first, whose worker may start after the shutdown found none alive), and every
/// other is refused with `Shutdown`.
#[test]
fn shutdown_races_submit() {
    check("submit × 3 ∥ shutdown", || {
        let pool = Arc::new(pool(2));
        let ran = Arc::new(AtomicUsize::new(0));
        let submitter = {
            let (pool, ran) = (Arc::clone(&pool), Arc::clone(&ran));
            thread::spawn(move || {
                (0..3u32)
                    .map(|i| {
                        let ran = Arc::clone(&ran);
                        pool.submit(move || {
                            ran.fetch_add(1, SeqCst);
                            i * 2
                        })
                    })
                    .collect::<Vec<_>>()
            })
        };
        pool.shutdown(true, false);
        let ran_before_shutdown_returned = ran.load(SeqCst);
        let mut accepted = 0;
        for (i, submitted) in submitter.join().unwrap().into_iter().enumerate() {
            match submitted {
                Ok(f) => {
                    accepted += 1;
                    assert_eq!(f.result(None).unwrap(), i as u32 * 2);
                }
                Err(e) => assert_eq!(e, SubmitError::Shutdown),
            }
        }
        assert_eq!(
            ran_before_shutdown_returned, accepted,
            "a waiting shutdown returned before an accepted task ran"
        );
    });
}

#[test]
fn a_one_worker_pool_runs_the_task_its_task_waits_for() {
    check("nested wait on a one-worker pool", || {
        let pool = Arc::new(pool(1));
        let inner_pool = Arc::clone(&pool);
        let outer = pool
            .submit(move || {
                let inner = inner_pool.submit(|| 5u32).unwrap();
                inner.result(None).unwrap() * 2
            })
            .unwrap();
        assert_eq!(outer.result(None).unwrap(), 10);
        pool.shutdown(true, false);
    });
}

/// Two workers that go idle between tasks: every submission races their searches and sleeps,
/// and one that skips its wake-up because a worker is counted as searching must still reach a
/// worker (a lost wake-up leaves every thread blocked, which shuttle reports). Each submitter's
/// second task submits a third from inside its worker, onto that worker's deque, without
/// waiting for it: the local push and its notify.
#[test]
fn submissions_race_searching_workers() {
    check("2 submitters ∥ 2 searching workers", || {
        let pool = Arc::new(pool(2));
        let submitters: Vec<_> = (0..2u32)
            .map(|s| {
                let pool = Arc::clone(&pool);
                thread::spawn(move || {
                    assert_eq!(pool.submit(move || s).unwrap().result(None).unwrap(), s);
                    let inner_pool = Arc::clone(&pool);
                    let outer = pool
                        .submit(move || inner_pool.submit(move || s + 10).unwrap())
                        .unwrap();
                    let inner = outer.result(None).unwrap();
                    assert_eq!(inner.result(None).unwrap(), s + 10);
                })
            })
            .collect();
        for submitter in submitters {
            submitter.join().unwrap();
        }
        pool.shutdown(true, false);
    });
}

/// Two tasks that wait for each other run at once on a two-worker pool, also when one worker
/// is spinning and the other sleeps: both submissions may skip their wake-up while the spinner
/// counts as searching, and only the hand-over of the worker that took the first task wakes the
/// other (under the mutant `search_without_hand_over` the first task then waits forever for the
/// second, which nobody runs: every thread blocks, and shuttle reports it).
#[test]
#[cfg_attr(
    concurrency_mutant = "search_without_hand_over",
    should_panic(expected = "deadlock")
)]
fn tasks_that_meet_run_at_once_on_a_sleeping_pool() {
    check("2 meeting tasks ∥ 2 workers, twice", || {
        let pool = pool(2);
        for round in 0..2 {
            if round == 1 {
                // Scheduling points for the idle workers to spend their spin and fall asleep.
                for _ in 0..200 {
                    thread::yield_now();
                }
            }
            let (a, b) = (Future::<()>::new(), Future::<()>::new());
            let meet = |mine: &Future<()>, theirs: &Future<()>| {
                let (mine, theirs) = (mine.clone(), theirs.clone());
                move || {
                    mine.set_result(()).unwrap();
                    theirs.result(None).unwrap();
                }
            };
            let first = pool.submit(meet(&a, &b)).unwrap();
            let second = pool.submit(meet(&b, &a)).unwrap();
            first.result(None).unwrap();
            second.result(None).unwrap();
        }
        pool.shutdown(true, false);
    });
}
