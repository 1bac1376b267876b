use super::*;

mod awaiting;
mod cell;
mod deque;
use crate::sync::{Arc, AtomicUsize, Mutex, Ordering::SeqCst};
use std::collections::HashSet;
use std::thread;
use std::time::Duration;

const LONG: Option<Duration> = Some(Duration::from_secs(30));
const SHORT: Option<Duration> = Some(Duration::from_millis(20));

fn completed(value: u32) -> Future<u32> {
    let f = Future::new();
    f.set_result(value).unwrap();
    f
}

fn failed(message: &str) -> Future<u32> {
    let f = Future::new();
    f.set_exception(TaskError::new(message.to_owned())).unwrap();
    f
}

#[test]
fn the_state_machine_moves_one_way() {
    let f = Future::<u32>::new();
    assert!(!f.running() && !f.done() && !f.cancelled());
    assert_eq!(f.set_running_or_notify_cancel(), Ok(true));
    assert!(f.running());
    assert!(!f.cancel(), "a running future cannot be cancelled");
    assert!(f.set_running_or_notify_cancel().is_err());
    f.set_result(7).unwrap();
    assert!(f.done() && !f.running());
    assert_eq!(f.result(None).unwrap(), 7);
    assert!(f.exception(None).unwrap().is_none());
    assert!(f.set_result(8).is_err());
    assert!(f.set_exception(TaskError::new("late")).is_err());
    assert!(!f.cancel());
    assert_eq!(f.result(None).unwrap(), 7);
}

#[test]
fn cancelling_a_pending_future_completes_it() {
    let f = Future::<u32>::new();
    assert!(f.cancel());
    assert!(f.cancel(), "cancelling again still says cancelled");
    assert!(f.done() && f.cancelled());
    assert!(matches!(f.result(None), Err(FutureError::Cancelled)));
    assert!(matches!(f.exception(None), Err(FutureError::Cancelled)));
    assert_eq!(f.set_running_or_notify_cancel(), Ok(false));
    assert!(f.set_result(1).is_err());
}

#[test]
fn errors_reach_every_reader() {
    let f = failed("disk full");
    for _ in 0..2 {
        match f.result(None) {
            Err(FutureError::Failed(e)) => assert_eq!(e.to_string(), "disk full"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(f.exception(None).unwrap().unwrap().to_string(), "disk full");
    let payload = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
    assert_eq!(
        TaskError::from_panic(payload).to_string(),
        "the task panicked: boom 1"
    );
}

#[test]
fn result_times_out_then_succeeds() {
    let f = Future::<u32>::new();
    assert!(matches!(f.result(SHORT), Err(FutureError::Timeout)));
    assert!(matches!(f.exception(SHORT), Err(FutureError::Timeout)));
    assert_eq!(f.watcher_count(), 0, "a timed-out wait unregisters");
    f.set_result(3).unwrap();
    assert_eq!(f.result(SHORT).unwrap(), 3);
}

#[test]
fn result_sleeps_until_another_thread_completes() {
    let f = Future::<u32>::new();
    let setter = {
        let f = f.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            f.set_result(11).unwrap();
        })
    };
    assert_eq!(f.result(LONG).unwrap(), 11);
    setter.join().unwrap();
}

#[test]
fn callbacks_run_once_in_order_and_survive_a_panicking_one() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let f = Future::<u32>::new();
    for i in 0..3 {
        let seen = Arc::clone(&seen);
        f.add_done_callback(move |f| {
            assert!(i != 1, "callback 1 panics");
            seen.lock().unwrap().push((i, f.result(None).unwrap()));
        });
    }
    f.set_result(5).unwrap();
    let seen_late = Arc::clone(&seen);
    f.add_done_callback(move |_| seen_late.lock().unwrap().push((3, 0)));
    assert_eq!(*seen.lock().unwrap(), [(0, 5), (2, 5), (3, 0)]);
}

#[test]
fn callbacks_racing_completion_run_exactly_once() {
    let rounds = if cfg!(miri) { 5 } else { 500 };
    for _ in 0..rounds {
        let runs = Arc::new(AtomicUsize::new(0));
        let f = Future::<u32>::new();
        thread::scope(|s| {
            s.spawn(|| f.set_result(1).unwrap());
            for _ in 0..2 {
                let runs = Arc::clone(&runs);
                f.add_done_callback(move |_| {
                    runs.fetch_add(1, SeqCst);
                });
            }
        });
        assert_eq!(runs.load(SeqCst), 2);
    }
}

#[test]
fn futures_are_equal_by_identity() {
    let a = completed(1);
    let b = completed(1);
    assert_eq!(a, a.clone());
    assert_ne!(a, b);
    #[allow(
        clippy::mutable_key_type,
        reason = "a future hashes by identity, which its interior mutability never changes"
    )]
    let set: HashSet<_> = [a.clone(), a.clone(), b].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert!(format!("{a:?}").ends_with(", finished)"));
    assert!(format!("{:?}", Future::<u8>::new()).ends_with(", pending)"));
}

#[test]
fn wait_returns_as_asked() {
    let pending = Future::<u32>::new();
    let done = completed(1);
    let bad = failed("no");

    let first = wait([&pending, &done, &done], None, ReturnWhen::FirstCompleted);
    assert_eq!(first.done, std::slice::from_ref(&done));
    assert_eq!(first.not_done, std::slice::from_ref(&pending));

    let exception = wait([&pending, &bad], None, ReturnWhen::FirstException);
    assert_eq!(exception.done, std::slice::from_ref(&bad));

    let all = wait([&pending, &done], SHORT, ReturnWhen::AllCompleted);
    assert_eq!(all.not_done, std::slice::from_ref(&pending));
    assert_eq!(pending.watcher_count(), 0, "wait unregisters");

    let no_exception = wait([&done], None, ReturnWhen::FirstException);
    assert_eq!(no_exception.done.len(), 1, "all done and none failed");

    let empty = wait(Vec::<&Future<u32>>::new(), None, ReturnWhen::AllCompleted);
    assert!(empty.done.is_empty() && empty.not_done.is_empty());
}

#[test]
fn wait_counts_a_cancellation_as_done() {
    let a = Future::<u32>::new();
    let b = Future::<u32>::new();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(5));
            a.cancel();
        });
        let outcome = wait([&a, &b], LONG, ReturnWhen::FirstCompleted);
        assert_eq!(outcome.done, std::slice::from_ref(&a));
        assert_eq!(outcome.not_done, std::slice::from_ref(&b));
    });
    assert_eq!(b.watcher_count(), 0);
}

#[test]
fn wait_all_sleeps_until_the_last_completion() {
    let fs: Vec<_> = (0..4).map(|_| Future::<u32>::new()).collect();
    thread::scope(|s| {
        s.spawn(|| {
            for (i, f) in fs.iter().enumerate() {
                thread::sleep(Duration::from_millis(2));
                f.set_result(i as u32).unwrap();
            }
        });
        let outcome = wait(&fs, LONG, ReturnWhen::AllCompleted);
        assert_eq!(outcome.done.len(), 4);
        assert!(outcome.not_done.is_empty());
    });
}

#[test]
fn as_completed_yields_done_ones_first_then_in_completion_order() {
    let done = completed(0);
    let later: Vec<_> = (0..3).map(|_| Future::<u32>::new()).collect();
    let watched: Vec<_> = [&later[2], &done, &later[0], &later[1], &done]
        .into_iter()
        .collect();
    // The completer finishes `later[i]` only once the reader has taken the previous future, so
    // the completion order is fixed whatever the schedule.
    let (taken, next) = std::sync::mpsc::channel::<()>();
    thread::scope(|s| {
        let later = &later;
        s.spawn(move || {
            for (i, f) in later.iter().enumerate() {
                next.recv().unwrap();
                f.set_result(i as u32 + 1).unwrap();
            }
        });
        let order: Vec<_> = as_completed(watched, LONG)
            .map(|f| {
                let value = f.unwrap().result(None).unwrap();
                // Err: the completer is done after the last one.
                let _ = taken.send(());
                value
            })
            .collect();
        assert_eq!(order, [0, 1, 2, 3]);
    });
}

#[test]
fn as_completed_times_out_once_and_ends() {
    let done = completed(4);
    let never = Future::<u32>::new();
    let mut it = as_completed([&never, &done], SHORT);
    assert_eq!(it.next().unwrap().unwrap(), done);
    assert!(matches!(it.next(), Some(Err(FutureError::Timeout))));
    assert!(it.next().is_none());
    drop(it);
    assert_eq!(
        never.watcher_count(),
        0,
        "dropping the iterator unregisters"
    );
}

#[test]
fn every_type_is_shareable_and_errors_display() {
    fn shareable<X: Send + Sync>() {}
    shareable::<Future<String>>();
    shareable::<ThreadPoolExecutor>();
    shareable::<TaskError>();
    shareable::<FutureError>();
    let errors: [&dyn std::error::Error; 5] = [
        &FutureError::Timeout,
        &InvalidStateError { what: "x" },
        &BuildError::ZeroWorkers,
        &SubmitError::Shutdown,
        &SubmitError::Broken("why".into()),
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn an_as_completed_moved_to_another_thread_is_woken_there() {
    let (first, second) = (Future::<u32>::new(), Future::<u32>::new());
    let mut it = as_completed([&first, &second], None);
    let completer = {
        let first = first.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            first.set_result(1).unwrap();
        })
    };
    assert_eq!(
        it.next().unwrap().unwrap(),
        first,
        "registered and woken on this thread"
    );
    completer.join().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mover = thread::spawn(move || tx.send(it.next().map(|f| f.unwrap())).unwrap());
    thread::sleep(Duration::from_millis(10));
    second.set_result(2).unwrap();
    let yielded = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the moved iterator is woken on its new thread");
    assert_eq!(yielded, Some(second.clone()));
    mover.join().unwrap();
    assert_eq!(second.watcher_count(), 0);
}
