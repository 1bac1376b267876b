//! The worker deque: the owner's end is LIFO, the thieves' FIFO, a full ring refuses, and under
//! concurrent stealing every job is taken exactly once.

use super::super::cell::{with_task, Job};
use super::super::deque::{Steal, WorkerDeque, CAPACITY};
use super::super::Future;
use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering::SeqCst};

/// A job that returns `value`, and its future.
fn job(value: usize) -> (Future<usize>, Job) {
    with_task(0, move || value)
}

/// Runs `job` and returns what its future holds.
fn run(job: Job, future: &Future<usize>) -> usize {
    job.run(&mut || {});
    future.result(None).unwrap()
}

fn stolen(deque: &WorkerDeque) -> Option<Job> {
    match deque.steal() {
        Steal::Taken(job) => Some(job),
        Steal::Empty => None,
        Steal::Retry => panic!("no race in a single thread"),
    }
}

#[test]
fn the_owner_takes_newest_first_and_thieves_oldest_first() {
    let deque = WorkerDeque::new();
    let futures: Vec<_> = (0..4)
        .map(|i| {
            let (future, job) = job(i);
            assert!(deque.push(job).is_ok());
            future
        })
        .collect();
    assert_eq!(run(deque.take().unwrap(), &futures[3]), 3);
    assert_eq!(run(stolen(&deque).unwrap(), &futures[0]), 0);
    assert_eq!(run(deque.take().unwrap(), &futures[2]), 2);
    assert_eq!(run(stolen(&deque).unwrap(), &futures[1]), 1);
    assert!(deque.take().is_none());
    assert!(stolen(&deque).is_none());
    assert!(deque.is_empty());
}

#[test]
fn a_full_ring_refuses_and_a_dropped_deque_drops_its_jobs() {
    let deque = WorkerDeque::new();
    let futures: Vec<_> = (0..CAPACITY)
        .map(|i| {
            let (future, job) = job(i);
            assert!(deque.push(job).is_ok());
            future
        })
        .collect();
    let (extra, refused) = job(CAPACITY);
    assert!(deque.push(refused).is_err(), "full");
    assert_eq!(deque.len(), CAPACITY);
    drop(deque);
    assert!(futures.iter().chain([&extra]).all(|f| !f.done()));
}

#[test]
fn concurrent_thieves_and_the_owner_take_every_job_exactly_once() {
    const JOBS: usize = if cfg!(miri) { 60 } else { 20_000 };
    let deque = Arc::new(WorkerDeque::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let thieves: Vec<_> = (0..2)
        .map(|_| {
            let (deque, done) = (Arc::clone(&deque), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut taken = 0;
                while !done.load(SeqCst) || !deque.is_empty() {
                    match deque.steal() {
                        Steal::Taken(job) => {
                            job.run(&mut || {});
                            taken += 1;
                        }
                        Steal::Empty | Steal::Retry => std::thread::yield_now(),
                    }
                }
                taken
            })
        })
        .collect();
    let mut futures = Vec::with_capacity(JOBS);
    let mut owner_taken = 0;
    for i in 0..JOBS {
        let runs = Arc::clone(&runs);
        let (future, job) = with_task(0, move || {
            runs.fetch_add(1, SeqCst);
            i
        });
        futures.push(future);
        let mut job = job;
        while let Err(full) = deque.push(job) {
            job = full;
            if let Some(mine) = deque.take() {
                mine.run(&mut || {});
                owner_taken += 1;
            }
        }
        if i % 3 == 0 {
            if let Some(mine) = deque.take() {
                mine.run(&mut || {});
                owner_taken += 1;
            }
        }
    }
    while let Some(mine) = deque.take() {
        mine.run(&mut || {});
        owner_taken += 1;
    }
    done.store(true, SeqCst);
    let stolen: usize = thieves.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(owner_taken + stolen, JOBS, "every job taken once");
    assert_eq!(runs.load(SeqCst), JOBS);
    for (i, f) in futures.iter().enumerate() {
        assert_eq!(f.result(None).unwrap(), i);
    }
}
