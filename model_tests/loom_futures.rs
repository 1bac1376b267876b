//! loom models of `Future`'s state word and waiter registration.
//!
//! Checked: the outcome a completer writes is visible to every reader that sees the future done
//! (and the `finish_without_release` mutant, which drops the Release of the final state, is
//! caught); cancel and run race to exactly one winner; a callback or a blocked reader racing the
//! completion is served exactly once, never lost (a lost wake-up is a deadlock, which loom
//! reports). The gathering iterator's models are in `loom_gather.rs`.
//!
//! Run: `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --no-default-features --test loom_futures`. Each model prints how many executions it explored.
#![cfg(loom)]

mod support;

use support::{check, check_bounded};

use concurrency::futures::{wait, Future, FutureError, ReturnWhen};
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;

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

/// `cancel` races the runner's `set_running_or_notify_cancel`: exactly one of them wins, and a
/// cancelled future never gets a result.
#[test]
fn cancel_races_set_running() {
    check("cancel ∥ set_running_or_notify_cancel", || {
        let f = Future::<u32>::new();
        let runner = {
            let f = f.clone();
            thread::spawn(move || {
                let run = f.set_running_or_notify_cancel().unwrap();
                if run {
                    f.set_result(1).unwrap();
                }
                run
            })
        };
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
