//! loom models of `Future`'s state word and waiter registration.
//!
//! Checked: the outcome a completer writes is visible to every reader that sees the future done
//! (and the `finish_without_release` mutant, which drops the Release of the final state, is
//! caught); cancel and run race to exactly one winner; a callback or a blocked reader racing the
//! completion is served exactly once, never lost (a lost wake-up is a deadlock, which loom
//! reports); a timed-out wait or a dropped await withdrawing its registration races the
//! completion and registrations, through the hand-off of the list (the
//! `prune_dropping_the_hand_off` mutant is caught); an awaiting task re-polled with a new waker
//! is woken; a pool's submission, worker, result and shutdown lose no wake-up. The gathering
//! iterator's models are in `loom_gather.rs`.
//!
//! Run: `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --no-default-features --test loom_futures`. Each model prints how many executions it explored.
#![cfg(loom)]

mod support;

use support::{check, check_bounded, check_long};

use concurrency::futures::{wait, Future, FutureError, ReturnWhen, ThreadPoolExecutor};
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;
use std::future::{Future as _, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A completer thread sets a heap value while the main thread reads the future if it is done.
fn outcome_publication() {
    let f = Future::<String>::new();
    let completer = {
        let f = f.clone();
        thread::spawn(move || f.set_result(String::from("published")).unwrap())
    };
    let seen = f.done().then(|| f.result(None).unwrap());
    completer.join().unwrap();
    if let Some(seen) = seen {
        assert_eq!(seen, "published");
    }
}

/// Under `--cfg concurrency_mutant="finish_without_release"` the store of the final state is
/// `Relaxed`, and loom must report the reader's unsynchronized read of the outcome.
#[test]
#[cfg_attr(
    concurrency_mutant = "finish_without_release",
    should_panic(expected = "Causality violation")
)]
fn publication_of_an_outcome() {
    check("future outcome publication", outcome_publication);
}

/// A thread that claims `f` with `set_running_or_notify_cancel` and, if it won, completes it
/// with `value`; it returns whether it won.
fn spawn_runner(f: &Future<u32>, value: u32) -> thread::JoinHandle<bool> {
    let f = f.clone();
    thread::spawn(move || {
        let run = f.set_running_or_notify_cancel().unwrap();
        if run {
            f.set_result(value).unwrap();
        }
        run
    })
}

/// `cancel` races the runner's `set_running_or_notify_cancel`: exactly one of them wins, and a
/// cancelled future never gets a result.
#[test]
fn cancel_races_set_running() {
    check("cancel ∥ set_running_or_notify_cancel", || {
        let f = Future::<u32>::new();
        let runner = spawn_runner(&f, 1);
        let cancelled = f.cancel();
        let ran = runner.join().unwrap();
        assert!(cancelled != ran, "exactly one wins");
        assert!(f.done());
        match f.result(None) {
            Ok(1) => assert!(ran),
            Err(FutureError::Cancelled) => assert!(cancelled),
            other => panic!("unexpected {other:?}"),
        }
    });
}

/// A callback added while another thread completes the future runs exactly once.
#[test]
fn callback_races_completion() {
    check("add_done_callback ∥ set_result", || {
        let runs = Arc::new(AtomicUsize::new(0));
        let f = Future::<u32>::new();
        let completer = {
            let f = f.clone();
            thread::spawn(move || f.set_result(3).unwrap())
        };
        let counter = Arc::clone(&runs);
        f.add_done_callback(move |f| {
            assert_eq!(f.result(None).unwrap(), 3);
            counter.fetch_add(1, Relaxed);
        });
        completer.join().unwrap();
        assert_eq!(runs.load(Relaxed), 1);
    });
}

/// A reader that blocks in `result` while another thread completes is always woken.
#[test]
fn blocked_result_races_completion() {
    check("result(None) ∥ set_result", || {
        let f = Future::<u32>::new();
        let completer = {
            let f = f.clone();
            thread::spawn(move || f.set_result(5).unwrap())
        };
        assert_eq!(f.result(None).unwrap(), 5);
        completer.join().unwrap();
    });
}

/// `wait(FirstCompleted)` on two futures completed and cancelled by two threads: it wakes with
/// at least one done, and what it calls done is done.
#[test]
fn wait_races_two_completions() {
    check_bounded("wait(FirstCompleted) ∥ set_result ∥ cancel", 1, || {
        let (a, b) = (Future::<u32>::new(), Future::<u32>::new());
        let setter = {
            let a = a.clone();
            thread::spawn(move || a.set_result(1).unwrap())
        };
        let canceller = {
            let b = b.clone();
            thread::spawn(move || assert!(b.cancel()))
        };
        let outcome = wait([&a, &b], None, ReturnWhen::FirstCompleted);
        assert!(!outcome.done.is_empty());
        assert!(outcome.done.iter().all(Future::done));
        setter.join().unwrap();
        canceller.join().unwrap();
    });
}

/// cancel ∥ run-and-complete ∥ register, on one future: one of cancel and run wins, the
/// callback runs exactly once either way, and it sees the outcome the winner left.
#[test]
fn cancel_races_the_runner_and_a_registration() {
    check(
        "cancel ∥ set_running + set_result ∥ add_done_callback",
        || {
            let f = Future::<u32>::new();
            let runner = spawn_runner(&f, 4);
            let registrar = {
                let f = f.clone();
                thread::spawn(move || {
                    let seen = Arc::new(AtomicUsize::new(0));
                    let record = Arc::clone(&seen);
                    f.add_done_callback(move |f| {
                        let code = match f.result(None) {
                            Ok(4) => 1,
                            Err(FutureError::Cancelled) => 2,
                            _ => 3,
                        };
                        record.fetch_add(code, Relaxed);
                    });
                    seen
                })
            };
            let cancelled = f.cancel();
            let ran = runner.join().unwrap();
            let seen = registrar.join().unwrap();
            assert!(cancelled != ran, "exactly one wins");
            assert_eq!(
                seen.load(Relaxed),
                if ran { 1 } else { 2 },
                "the callback ran once"
            );
        },
    );
}

/// Adds a callback to `f` that counts its runs in the returned counter.
fn counted_callback(f: &Future<u32>) -> Arc<AtomicUsize> {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    f.add_done_callback(move |_| {
        counter.fetch_add(1, Relaxed);
    });
    runs
}

/// A wait that times out withdraws its waiter and unlinks it while another thread completes
/// the future: the withdrawal may hold the list at the instant of the completion, and then it
/// runs the callback registered below its waiter itself. Either way the callback runs exactly
/// once, and nothing leaks (loom reports a leaked `Arc`).
///
/// Under `--cfg concurrency_mutant="prune_dropping_the_hand_off"` the withdrawal leaves a
/// handed-off list unserved, and the model must see the callback not run.
#[test]
#[cfg_attr(
    concurrency_mutant = "prune_dropping_the_hand_off",
    should_panic(expected = "the callback runs once")
)]
fn a_timed_out_wait_withdrawing_races_completion() {
    check("wait(timed out) withdraws ∥ set_result", || {
        let f = Future::<u32>::new();
        let runs = counted_callback(&f);
        let completer = {
            let f = f.clone();
            thread::spawn(move || f.set_result(7).unwrap())
        };
        // loom models no time: an expired deadline takes the timeout path at once. `wait`
        // reads no outcome, so the model runs unchanged in the build of every mutant.
        let _ = wait([&f], Some(Duration::ZERO), ReturnWhen::AllCompleted);
        completer.join().unwrap();
        assert_eq!(runs.load(Relaxed), 1, "the callback runs once");
        assert_eq!(f.result(None).unwrap(), 7);
    });
}

/// A withdrawn waiter below a newer registration is unlinked from the middle of the list while
/// that registration and the completion race it: the callbacks on both sides of it each run
/// exactly once, in the order added when one thread added both.
#[test]
fn a_withdrawal_below_a_newer_registration_races_it_and_completion() {
    check_bounded(
        "result(timed out) ∥ add_done_callback ∥ set_result",
        1,
        || {
            let f = Future::<u32>::new();
            let older = counted_callback(&f);
            let adder = {
                let f = f.clone();
                thread::spawn(move || counted_callback(&f))
            };
            let completer = {
                let f = f.clone();
                thread::spawn(move || f.set_result(1).unwrap())
            };
            let _ = f.result(Some(Duration::ZERO));
            let newer = adder.join().unwrap();
            completer.join().unwrap();
            assert_eq!((older.load(Relaxed), newer.load(Relaxed)), (1, 1));
        },
    );
}

/// A waker that counts its wake-ups.
struct CountingWaker(AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Relaxed);
    }
}

fn counting_waker() -> (std::sync::Arc<CountingWaker>, Waker) {
    let counter = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(std::sync::Arc::clone(&counter));
    (counter, waker)
}

/// An `async` task awaits a future while another thread completes it, and polls it again with
/// a new waker (the task moved): a poll that returns `Pending` is always followed by a wake-up
/// of its waker, and the final poll is ready. This is the no-lost-wake-up argument of
/// `awaiting.rs`.
#[test]
fn an_await_re_polled_with_a_new_waker_races_completion() {
    check(
        "await: poll, re-poll with a new waker ∥ set_result",
        || {
            let f = Future::<u32>::new();
            let mut awaiting = f.clone().into_future();
            let (first, first_waker) = counting_waker();
            let (second, second_waker) = counting_waker();
            let first_pending = Pin::new(&mut awaiting)
                .poll(&mut Context::from_waker(&first_waker))
                .is_pending();
            let completer = {
                let f = f.clone();
                thread::spawn(move || f.set_result(2).unwrap())
            };
            let second_poll = Pin::new(&mut awaiting).poll(&mut Context::from_waker(&second_waker));
            completer.join().unwrap();
            match second_poll {
                Poll::Ready(outcome) => assert_eq!(outcome.unwrap(), 2),
                Poll::Pending => {
                    assert!(first_pending);
                    assert_eq!(
                        second.0.load(Relaxed),
                        1,
                        "the pending poll's waker is woken"
                    );
                    let last =
                        Pin::new(&mut awaiting).poll(&mut Context::from_waker(&second_waker));
                    assert!(matches!(last, Poll::Ready(Ok(2))));
                }
            }
            assert!(first.0.load(Relaxed) <= 1);
        },
    );
}

/// An await dropped while pending withdraws its waker while another thread completes the
/// future: nothing leaks, and a wake-up after the drop is harmless.
#[test]
fn a_dropped_await_withdrawing_races_completion() {
    check("await dropped ∥ set_result", || {
        let f = Future::<u32>::new();
        let mut awaiting = f.clone().into_future();
        let (_counter, waker) = counting_waker();
        let pending = Pin::new(&mut awaiting)
            .poll(&mut Context::from_waker(&waker))
            .is_pending();
        let completer = {
            let f = f.clone();
            thread::spawn(move || f.set_result(3).unwrap())
        };
        drop(awaiting);
        completer.join().unwrap();
        assert!(pending || f.done());
        assert_eq!(f.result(None).unwrap(), 3);
    });
}

/// The executor's sleep protocol with one submitter and one worker (spin budget 0 under loom):
/// the worker sleeps in the queue's event count and the submitter's push wakes it; the
/// submitter sleeps in `result` and the worker's completion wakes it; the waiting shutdown
/// (the drop) then sees the worker exit. A lost wake-up anywhere is a deadlock, which loom
/// reports. A whole pool is a long model (a thread start, a queue, epochs): it needs more
/// branches than loom's default allows, and one preemption keeps it to seconds (two explore
/// 210 000 executions in 36 s, which CI's budget does not have).
#[test]
fn a_submission_wakes_the_sleeping_worker_and_its_result_wakes_the_submitter() {
    check_long("submit ∥ worker ∥ result ∥ shutdown", 1, || {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(1)
            .build()
            .unwrap();
        let f = pool.submit(|| 1u32).unwrap();
        assert_eq!(f.result(None).unwrap(), 1);
    });
}

/// An await whose first poll races the completion: the poll finds the future done, or its
/// registration fails because it just finished (and then reads the outcome at once: the failed
/// registration must synchronize with the finish), or it registers and its waker is woken.
#[test]
fn a_first_poll_races_completion() {
    check("await: first poll ∥ set_result", || {
        let f = Future::<String>::new();
        let completer = {
            let f = f.clone();
            thread::spawn(move || f.set_result(String::from("awaited")).unwrap())
        };
        let mut awaiting = f.clone().into_future();
        let (woken, waker) = counting_waker();
        let first = Pin::new(&mut awaiting).poll(&mut Context::from_waker(&waker));
        completer.join().unwrap();
        let outcome = match first {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                assert_eq!(woken.0.load(Relaxed), 1, "a pending poll's waker is woken");
                match Pin::new(&mut awaiting).poll(&mut Context::from_waker(&waker)) {
                    Poll::Ready(outcome) => outcome,
                    Poll::Pending => panic!("pending after the completion"),
                }
            }
        };
        assert_eq!(outcome.unwrap(), "awaited");
    });
}
