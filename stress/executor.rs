//! `stress executor`: submitter threads drive a `ThreadPoolExecutor` with a seeded mix of
//! `submit`, `cancel` and `result`, in windows.
//!
//! Each task records its own run (from its first to its last instruction) in the history, and
//! returns a tracked value derived from its number. At the end of a window every submitter
//! takes the result of each future it still holds; every eighth window the run loop shuts the
//! pool down (waiting) and starts a new one. Checked per window: every task whose future was
//! not cancelled ran exactly once and produced its value, no cancelled task ran; with
//! `--history`, each future's history against a sequential future (pending, then claimed by a
//! worker or cancelled, then run); at the end, every value dropped exactly once.

use crate::harness::Report;
use crate::ledger::{Ledger, Tracked};
use crate::lincheck::{Event, Spec};
use crate::windows::{check_linearizable_per_key, Target, Window, Worker};
use concurrency::futures::{Future, FutureError, ThreadPoolExecutor};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const OPS_PER_WINDOW: usize = 60;
/// The pool is replaced by a new one every this many windows.
const WINDOWS_PER_POOL: u64 = 8;

const SUBMIT: usize = 0;
const CANCEL: usize = 1;
const RESULT: usize = 2;
const RUN: usize = 3;

/// What a task computes from its number.
fn task_value(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

/// An operation on the future of task `id`, with its outcome (the specification checks that
/// the outcome was possible, so every operation "returns" whether it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FutureOp {
    Submit(u64),
    /// `cancel()`, and what it returned.
    Cancel(u64, bool),
    /// The task's body, run by a worker.
    Run(u64),
    /// `result()`: the value, or `None` for `Cancelled`.
    Result(u64, Option<u64>),
}

impl FutureOp {
    fn id(&self) -> u64 {
        match *self {
            Self::Submit(id) | Self::Cancel(id, _) | Self::Run(id) | Self::Result(id, _) => id,
        }
    }
}

/// A future's abstract state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FutureState {
    Unsubmitted,
    Pending,
    /// A worker took it: it can no longer be cancelled.
    Claimed,
    Ran,
    Cancelled,
}

/// The sequential future.
pub(crate) struct SequentialFuture;

impl Spec for SequentialFuture {
    type State = FutureState;
    type Op = FutureOp;
    type Ret = bool;

    fn init(&self) -> FutureState {
        FutureState::Unsubmitted
    }

    fn step(&self, state: &FutureState, op: &FutureOp) -> (FutureState, bool) {
        use FutureState::*;
        let next = match (*state, op) {
            (Unsubmitted, FutureOp::Submit(_)) => Some(Pending),
            (Pending | Cancelled, FutureOp::Cancel(_, true)) => Some(Cancelled),
            (Pending | Claimed, FutureOp::Cancel(_, false)) => Some(Claimed),
            (Ran, FutureOp::Cancel(_, false)) => Some(Ran),
            (Pending | Claimed, FutureOp::Run(_)) => Some(Ran),
            (Ran, FutureOp::Result(id, Some(v))) if *v == task_value(*id) => Some(Ran),
            (Cancelled, FutureOp::Result(_, None)) => Some(Cancelled),
            _ => None,
        };
        (next.unwrap_or(*state), next.is_some())
    }
}

/// The executor target: the pool, the runs its tasks recorded, and the ledger.
pub(crate) struct ExecutorTarget {
    pool: ThreadPoolExecutor,
    /// Per task number, how many times its body ran.
    runs: Arc<Mutex<HashMap<u64, u32>>>,
    /// The tasks' recorded runs, with `--history`.
    run_events: Arc<Mutex<Vec<Event<FutureOp, bool>>>>,
    ledger: Arc<Ledger>,
}

/// What a submitter did: per task, whether its future was cancelled.
type Trace = Vec<(u64, bool)>;

impl ExecutorTarget {
    pub(crate) fn new(ledger: Arc<Ledger>) -> Self {
        Self {
            pool: new_pool(),
            runs: Arc::default(),
            run_events: Arc::default(),
            ledger,
        }
    }

    fn submit(&self, worker: &mut Worker<'_, FutureOp, bool>) -> (u64, Future<Tracked>) {
        let id = worker.unique();
        let (runs, events, ledger) = (
            Arc::clone(&self.runs),
            Arc::clone(&self.run_events),
            Arc::clone(&self.ledger),
        );
        let (clock, record) = (worker.clock(), worker.records());
        let task = move || {
            let invoke = clock.now();
            *runs.lock().unwrap().entry(id).or_default() += 1;
            let value = ledger.track(task_value(id));
            if record {
                let response = clock.now();
                events.lock().unwrap().push(Event {
                    thread: usize::MAX,
                    op: FutureOp::Run(id),
                    ret: true,
                    invoke,
                    response,
                });
            }
            value
        };
        let mut future = None;
        worker.call(SUBMIT, FutureOp::Submit(id), || {
            future = Some(self.pool.submit(task).expect("the pool is not shut down"));
            true
        });
        (id, future.expect("set by the call"))
    }
}

fn new_pool() -> ThreadPoolExecutor {
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    ThreadPoolExecutor::builder()
        .max_workers(workers)
        .thread_name_prefix("stress-pool")
        .build()
        .expect("a pool with workers builds")
}

fn result(worker: &mut Worker<'_, FutureOp, bool>, id: u64, future: &Future<Tracked>) -> bool {
    let mut cancelled = false;
    let outcome = match future.result(None) {
        Ok(value) => Some(value.value),
        Err(FutureError::Cancelled) => {
            cancelled = true;
            None
        }
        Err(other) => panic!("task {id:x} failed: {other}"),
    };
    worker.call(RESULT, FutureOp::Result(id, outcome), || true);
    cancelled
}

impl Target for ExecutorTarget {
    type Op = FutureOp;
    type Ret = bool;
    type Trace = Trace;

    const KINDS: &'static [&'static str] = &["submit", "cancel", "result", "run"];

    fn work(&self, worker: &mut Worker<'_, FutureOp, bool>) -> Trace {
        let mut held: Vec<(u64, Future<Tracked>)> = Vec::new();
        let mut done = Vec::new();
        for _ in 0..OPS_PER_WINDOW {
            let choice = worker.rng.next() % 10;
            if held.is_empty() || choice < 5 {
                held.push(self.submit(worker));
                continue;
            }
            let (id, future) = held.swap_remove((worker.rng.next() % held.len() as u64) as usize);
            if choice < 7 {
                let cancelled = future.cancel();
                worker.call(CANCEL, FutureOp::Cancel(id, cancelled), || true);
                held.push((id, future));
            } else {
                done.push((id, result(worker, id, &future)));
            }
        }
        for (id, future) in held {
            done.push((id, result(worker, id, &future)));
        }
        done
    }

    fn check(
        &mut self,
        report: &mut Report,
        main: &mut Worker<'_, FutureOp, bool>,
        mut window: Window<Self>,
    ) {
        let mut runs = self.runs.lock().unwrap();
        main.add(RUN, runs.values().map(|&n| u64::from(n)).sum());
        for &(id, cancelled) in window.traces.iter().flatten() {
            let ran = runs.remove(&id).unwrap_or(0);
            report.check(ran == u32::from(!cancelled), || {
                format!("task {id:x} ran {ran} times, its future cancelled: {cancelled}")
            });
        }
        report.check(runs.is_empty(), || {
            format!("tasks that were never submitted ran: {runs:x?}")
        });
        runs.clear();
        let mut events = self.run_events.lock().unwrap();
        window.history.append(&mut events);
        if !window.history.is_empty() {
            check_linearizable_per_key(
                report,
                &SequentialFuture,
                &window.history,
                FutureOp::id,
                |_| FutureState::Unsubmitted,
            );
        }
        drop((runs, events));
        if window.index % WINDOWS_PER_POOL == WINDOWS_PER_POOL - 1 {
            self.pool.shutdown(true, false);
            self.pool = new_pool();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::check;

    fn at(op: FutureOp, invoke: u64, response: u64) -> Event<FutureOp, bool> {
        Event::at(0, op, true, invoke, response)
    }

    #[test]
    fn a_cancel_racing_the_start_may_lose() {
        let history = [
            at(FutureOp::Submit(1), 0, 1),
            at(FutureOp::Cancel(1, false), 2, 3),
            at(FutureOp::Run(1), 4, 5),
            at(FutureOp::Result(1, Some(task_value(1))), 6, 7),
        ];
        assert!(check(&SequentialFuture, &history).is_ok());
    }

    #[test]
    fn cancelled_tasks_that_run_and_wrong_results_are_rejected() {
        let ran_anyway = [
            at(FutureOp::Submit(1), 0, 1),
            at(FutureOp::Cancel(1, true), 2, 3),
            at(FutureOp::Run(1), 4, 5),
        ];
        assert!(check(&SequentialFuture, &ran_anyway).is_err());
        let ran_twice = [
            at(FutureOp::Submit(1), 0, 1),
            at(FutureOp::Run(1), 2, 3),
            at(FutureOp::Run(1), 4, 5),
        ];
        assert!(check(&SequentialFuture, &ran_twice).is_err());
        let wrong = [
            at(FutureOp::Submit(1), 0, 1),
            at(FutureOp::Run(1), 2, 3),
            at(FutureOp::Result(1, Some(7)), 4, 5),
        ];
        assert!(check(&SequentialFuture, &wrong).is_err());
    }
}
