//! loom model of the worker deque (`cargo test --lib` under `--cfg loom`; `.ci/test` stage
//! `loom`): the owner pushes two jobs and takes them back while a thief steals until it finds
//! the deque empty. Every job is taken exactly once (a job taken twice would free its cell
//! twice, a lost one leaks it: loom reports both), and what the thief takes is visible to it
//! (the slot's publication). Under `--cfg concurrency_mutant="take_without_fence"` the
//! owner's take loses its `SeqCst` fence, and a thief's second steal takes the job the owner
//! took too: the model must fail (`.ci/test` stage `loom-mutant` reads the report from loom's
//! output, since the cell freed twice then aborts the process).

use crate::futures::cell::with_task;
use crate::futures::deque::{Steal, WorkerDeque};
use crate::futures::Future;
use crate::model_support::check_bounded;
use loom::sync::Arc;
use loom::thread;

/// Runs each job taken and counts them.
fn run_all(jobs: impl Iterator<Item = crate::futures::cell::Job>) -> usize {
    jobs.map(|job| job.run(&mut || {})).count()
}

/// Pushes two jobs, returning 0 and 1, as the owner; their futures.
fn push_two(deque: &WorkerDeque) -> Vec<Future<u32>> {
    (0..2)
        .map(|i| {
            let (future, job) = with_task(0, move || i);
            assert!(deque.push(job).is_ok());
            future
        })
        .collect()
}

#[test]
fn the_owner_and_a_thief_take_each_job_once() {
    check_bounded("deque push, push, take ∥ steal", 2, || {
        let deque = Arc::new(WorkerDeque::new());
        let futures = push_two(&deque);
        let thief = {
            let deque = Arc::clone(&deque);
            // Steals until it finds the deque empty: a second steal is what races the owner's
            // take of the other job without its CAS.
            thread::spawn(move || {
                run_all(std::iter::from_fn(|| loop {
                    match deque.steal() {
                        Steal::Taken(job) => break Some(job),
                        Steal::Empty => break None,
                        Steal::Retry => thread::yield_now(),
                    }
                }))
            })
        };
        let owned = run_all(std::iter::from_fn(|| deque.take()));
        let stolen = thief.join().unwrap();
        assert_eq!(owned + stolen, 2, "each job taken once");
        for (i, f) in (0..).zip(&futures) {
            assert_eq!(f.result(None).unwrap(), i);
        }
    });
}

/// A thief that starts before the owner pushes: whatever `bottom` it reads — a push's, or the
/// one a take lowered or restored — it sees every slot below it. With the take's stores of
/// `bottom` `Relaxed`, a thief that read the lowered value had no happens-before with the
/// pushes, read a slot as never written and took a null job (Miri on the aarch64 target found
/// it; loom's causality check reports it here).
#[test]
fn a_thief_sees_every_slot_below_the_bottom_it_read() {
    check_bounded("deque thief ∥ push, push, take", 2, || {
        let deque = Arc::new(WorkerDeque::new());
        let thief = {
            let deque = Arc::clone(&deque);
            thread::spawn(move || match deque.steal() {
                Steal::Taken(job) => run_all(std::iter::once(job)),
                Steal::Empty | Steal::Retry => 0,
            })
        };
        let futures = push_two(&deque);
        let owned = run_all(std::iter::from_fn(|| deque.take()).take(1));
        let stolen = thief.join().unwrap();
        let left = run_all(std::iter::from_fn(|| deque.take()));
        assert_eq!(owned + stolen + left, 2, "each job taken once");
        for (i, f) in (0..).zip(&futures) {
            assert_eq!(f.result(None).unwrap(), i);
        }
    });
}
