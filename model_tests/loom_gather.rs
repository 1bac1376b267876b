//! loom models of `ConcurrentGatheringIterator` on two-slot leaves (under loom), so that leaf
//! creation, the sweep of a drained leaf and its retirement happen inside two- and
//! three-thread models. (The root's growth is left to shuttle, Miri and the unit tests: a loom
//! model of it was reported non-deterministic inside crossbeam-epoch's registration.)
//!
//! Checked: a reader sleeping for a key wakes for its insertion or for `fail` (a lost wake-up
//! is a deadlock, which loom reports); an insertion racing the sweep of its leaf is never lost
//! in the retired leaf (and the `put_without_closing_check` mutant, which skips the inserter's
//! half of the Dekker check, is caught); a replacement racing a clone of the same key never
//! touches the value the clone reads (loom checks every access to a slot's value).
//!
//! Run: `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --no-default-features --test loom_gather`. Each model prints how many executions it explored.
#![cfg(loom)]

mod support;

use support::{check, check_bounded};

use concurrency::{ConcurrentGatheringIterator, GatherError};
use loom::sync::Arc;
use loom::thread;

type Gather<T> = Arc<ConcurrentGatheringIterator<T>>;

fn spawn<T: Send + 'static, R: Send + 'static>(
    gather: &Gather<T>,
    f: impl FnOnce(&ConcurrentGatheringIterator<T>) -> R + Send + 'static,
) -> thread::JoinHandle<R> {
    let gather = Arc::clone(gather);
    thread::spawn(move || f(&gather))
}

/// A reader waits for key 0 while one producer inserts it and another fails: it gets the value
/// or the failure, and never sleeps through both.
#[test]
fn reader_wakes_for_insert_or_fail() {
    check_bounded("gather: drain ∥ insert ∥ fail", 1, || {
        let gather = Arc::new(ConcurrentGatheringIterator::new());
        let producer = spawn(&gather, |g| g.insert(0, 7u32));
        let failer = spawn(&gather, |g| g.fail());
        let first = gather.drain(0).next().unwrap();
        assert!(
            matches!(first, Ok(7) | Err(GatherError::Failed)),
            "{first:?}"
        );
        producer.join().unwrap();
        failer.join().unwrap();
    });
}

/// Keys 0 and 1 fill a leaf; a clearing reader takes both, so taking key 1 sweeps the leaf,
/// while a producer inserts key 0 again and then fails. The late value is either the one the
/// reader took at key 0 or still there afterwards: never lost in a retired leaf.
fn sweep_races_a_late_insert() {
    let gather = Arc::new(ConcurrentGatheringIterator::new());
    gather.insert(0, 10u32);
    gather.insert(1, 11);
    let producer = spawn(&gather, |g| {
        g.insert(0, 20);
        g.fail();
    });
    let read: Vec<_> = gather.drain(1).map(Result::unwrap).collect();
    producer.join().unwrap();
    let left = gather.drain(0).next().unwrap();
    match read[..] {
        [20, 11] => assert_eq!(left, Err(GatherError::Failed)),
        [10, 11] => assert_eq!(left, Ok(20), "the late insertion was lost"),
        _ => panic!("read {read:?}"),
    }
}

#[test]
fn sweep_keeps_a_late_insert() {
    check_bounded(
        "gather: drain with sweep ∥ late insert",
        2,
        sweep_races_a_late_insert,
    );
}

/// Under `--cfg concurrency_mutant="put_without_closing_check"` the inserter skips its load of
/// `closing`, and loom must find the late value left in a retired leaf.
#[test]
#[cfg_attr(
    not(concurrency_mutant = "put_without_closing_check"),
    ignore = "needs --cfg concurrency_mutant=\"put_without_closing_check\""
)]
#[should_panic(expected = "the late insertion was lost")]
fn sweep_without_the_inserters_check_loses_a_value() {
    check_bounded(
        "gather mutant: put without closing check",
        2,
        sweep_races_a_late_insert,
    );
}

/// A reader clones key 0 while a producer replaces it: the clone is the old or the new value,
/// and the replaced value is dropped only after the clone is done.
#[test]
fn replace_races_a_clone() {
    check("gather: clone ∥ replace", || {
        let gather = Arc::new(ConcurrentGatheringIterator::new());
        gather.insert(0, String::from("old"));
        let producer = spawn(&gather, |g| g.insert(0, String::from("new")));
        let cloned = gather.iterator(0, false).next().unwrap().unwrap();
        producer.join().unwrap();
        assert!(cloned == "old" || cloned == "new", "{cloned}");
        assert_eq!(gather.drain(0).next(), Some(Ok(String::from("new"))));
    });
}
