//! `stress std-queue`: producers and consumers hammer a bounded `StdConcurrentQueue` in windows,
//! with the `queue.Queue` contract's blocking calls and task accounting.
//!
//! Each thread runs a seeded mix of `put_nowait`, `put_timeout`, `get_nowait` and `get_timeout`
//! (short timeouts, on a queue of [`MAXSIZE`] values, so that full and empty are common) and
//! calls `task_done` after every value it gets. The run loop then drains the queue (marking
//! those done too) and calls `join`, which must return at once. Checked per window: nothing
//! lost or duplicated, FIFO per producer, the queue empty and every task done, one `task_done`
//! too many refused; with `--history`, the history (see [`check_history`]) against
//! [`BoundedFifo`]; at the end, every value dropped exactly once.
//!
//! # The specification: a plain bounded FIFO
//! The bounded queue is a ring of exactly [`MAXSIZE`] cells, linearizable against a plain
//! bounded FIFO queue ([`BoundedFifo`]): a put is refused as full only when [`MAXSIZE`] values
//! are in the queue, and a get finds it empty only when none is. (The queue's earlier design,
//! a slot counter beside an unbounded queue, failed this check within seconds: a put that had
//! reserved its slot but not yet linked its value made `put_nowait` refuse with fewer values
//! visible.)
//!
//! # Checking it in polynomial time, where possible
//! Leaving the refused puts out, a linearization against [`BoundedFifo`] is one of the
//! accepted puts and the gets against a plain FIFO queue; so a history whose accepted puts and
//! gets fail `queue_check.rs` is not linearizable. Conversely, for a history without refused
//! puts, a FIFO linearization that never holds more than [`MAXSIZE`] values is one against
//! [`BoundedFifo`]: no push in it meets a full queue. That settles most windows at once. A
//! refused put needs [`MAXSIZE`] values in the queue at some instant of its call, which
//! depends on where the other calls take effect, not on the values alone; the bad-pattern
//! argument does not cover that. `bounded_check.rs` places each refused put at a full point of
//! the FIFO witness that its interval allows and replays the result; a window where that fails
//! (or whose FIFO witness holds more than [`MAXSIZE`] values) goes to the general search, which
//! may give up on it undecided.

use crate::bounded_check::{longest, place_refusals};
use crate::harness::Report;
use crate::ledger::{Ledger, Tracked};
use crate::lincheck::Spec;
use crate::queue::{check_delivery, Fifo, QueueOp, Trace};
use crate::queue_check::{self, QueueEvent};
use crate::windows::{check_linearizable, Target, Window, Worker};
use concurrency::reclaim::Reclaimer;
use concurrency::{GetError, PutError, StdConcurrentQueue};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

const OPS_PER_WINDOW: usize = 64;
/// The queue's bound.
pub(crate) const MAXSIZE: usize = 8;
/// How long the blocking calls wait.
const TIMEOUT: Duration = Duration::from_micros(200);

const PUT_NOWAIT: usize = 0;
const PUT_TIMEOUT: usize = 1;
const GET_NOWAIT: usize = 2;
const GET_TIMEOUT: usize = 3;
const TASK_DONE: usize = 4;
const JOIN: usize = 5;

/// The sequential bounded FIFO queue: a push into a full queue is refused (`Some(v)`, as the
/// target records a refused put), a pop of an empty one finds nothing.
pub(crate) struct BoundedFifo {
    pub(crate) bound: usize,
}

impl Spec for BoundedFifo {
    type State = VecDeque<u64>;
    type Op = QueueOp;
    type Ret = Option<u64>;

    fn init(&self) -> VecDeque<u64> {
        VecDeque::new()
    }

    fn step(&self, state: &VecDeque<u64>, op: &QueueOp) -> (VecDeque<u64>, Option<u64>) {
        match *op {
            QueueOp::Push(v) if state.len() == self.bound => (state.clone(), Some(v)),
            _ => Fifo.step(state, op),
        }
    }
}

/// The std-queue target: the queue and the ledger of its values.
pub(crate) struct StdQueueTarget<R: Reclaimer> {
    queue: StdConcurrentQueue<Tracked, R>,
    ledger: Arc<Ledger>,
}

impl<R: Reclaimer> StdQueueTarget<R> {
    pub(crate) fn new(ledger: Arc<Ledger>) -> Self {
        Self {
            queue: StdConcurrentQueue::with_reclaimer(MAXSIZE),
            ledger,
        }
    }

    /// A put of kind `kind`: `None` if `v` went in, `Some(v)` if the queue stayed full.
    fn put(
        &self,
        worker: &mut Worker<'_, QueueOp, Option<u64>>,
        kind: usize,
        v: u64,
    ) -> Option<u64> {
        worker.call(kind, QueueOp::Push(v), || {
            let value = self.ledger.track(v);
            let outcome = match kind {
                PUT_NOWAIT => self.queue.put_nowait(value),
                PUT_TIMEOUT => self.queue.put_timeout(value, TIMEOUT),
                _ => unreachable!("not a put: {kind}"),
            };
            match outcome {
                Ok(()) => None,
                Err(PutError::Full(refused)) => Some(refused.value),
                Err(PutError::ShutDown(_)) => panic!("the stress never shuts the queue down"),
            }
        })
    }

    /// A get of kind `kind`, marking the value done.
    fn get(&self, worker: &mut Worker<'_, QueueOp, Option<u64>>, kind: usize) -> Option<u64> {
        let got = worker.call(kind, QueueOp::Pop, || {
            let outcome = match kind {
                GET_NOWAIT => self.queue.get_nowait(),
                GET_TIMEOUT => self.queue.get_timeout(TIMEOUT),
                _ => unreachable!("not a get: {kind}"),
            };
            match outcome {
                Ok(value) => Some(value.value),
                Err(GetError::Empty) => None,
                Err(GetError::ShutDown) => panic!("the stress never shuts the queue down"),
            }
        });
        if got.is_some() {
            worker
                .run(TASK_DONE, || self.queue.task_done())
                .expect("one task_done per value got is never one too many");
        }
        got
    }
}

impl<R: Reclaimer> Target for StdQueueTarget<R> {
    type Op = QueueOp;
    type Ret = Option<u64>;
    type Trace = Trace;

    const KINDS: &'static [&'static str] = &[
        "put_nowait",
        "put_timeout",
        "get_nowait",
        "get_timeout",
        "task_done",
        "join",
    ];

    fn work(&self, worker: &mut Worker<'_, QueueOp, Option<u64>>) -> Trace {
        let mut trace = Trace::default();
        for _ in 0..OPS_PER_WINDOW {
            let kind = (worker.rng.next() % 4) as usize;
            if kind <= PUT_TIMEOUT {
                let v = worker.unique();
                if self.put(worker, kind, v).is_none() {
                    trace.pushed.push(v);
                }
            } else {
                trace.popped.extend(self.get(worker, kind));
            }
        }
        trace
    }

    fn check(
        &mut self,
        report: &mut Report,
        main: &mut Worker<'_, QueueOp, Option<u64>>,
        mut window: Window<Self>,
    ) {
        let mut drained = Trace::default();
        while let Some(v) = self.get(main, GET_NOWAIT) {
            drained.popped.push(v);
        }
        main.run(JOIN, || self.queue.join());
        let (qsize, empty) = (self.queue.qsize(), self.queue.empty());
        report.check(qsize == 0 && empty, || {
            format!("drained, yet qsize() is {qsize} and empty() is {empty}")
        });
        report.check(self.queue.task_done().is_err(), || {
            "a task_done with no task left was accepted".into()
        });
        window.traces.push(drained);
        window.history.append(&mut main.take_history());
        check_delivery(report, &window.traces);
        check_history(report, &window.history);
    }
}

/// Checks a window's history: by `queue_check.rs` (with the refused puts placed by
/// `bounded_check.rs`) where that decides it, otherwise also by the general search against
/// [`BoundedFifo`] (see the module doc).
fn check_history(report: &mut Report, history: &[QueueEvent]) {
    let accepted_at: Vec<usize> = (0..history.len())
        .filter(|&i| !is_refused(&history[i]))
        .collect();
    let accepted: Vec<QueueEvent> = accepted_at.iter().map(|&i| history[i].clone()).collect();
    match queue_check::check(&accepted) {
        Err(violation) => report.check(false, || {
            format!(
                "the accepted puts and the gets are not linearizable as a FIFO queue: {}",
                violation.explain(&accepted)
            )
        }),
        Ok(order)
            if longest(&accepted, &order) <= MAXSIZE
                && place_refusals(history, &accepted, &accepted_at, &order, MAXSIZE).is_some() =>
        {
            report.check(true, String::new);
        }
        Ok(_) => {
            let spec = BoundedFifo { bound: MAXSIZE };
            check_linearizable(report, &spec, spec.init(), history);
        }
    }
}

/// Whether `event` is a put that the full queue refused.
fn is_refused(event: &QueueEvent) -> bool {
    matches!(event.op, QueueOp::Push(_)) && event.ret.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::{check, Event};

    fn put(v: u64, accepted: bool, invoke: u64, response: u64) -> Event<QueueOp, Option<u64>> {
        Event::at(
            0,
            QueueOp::Push(v),
            (!accepted).then_some(v),
            invoke,
            response,
        )
    }

    fn get(got: Option<u64>, invoke: u64, response: u64) -> Event<QueueOp, Option<u64>> {
        Event::at(1, QueueOp::Pop, got, invoke, response)
    }

    #[test]
    fn a_refusal_while_a_put_is_in_progress_is_rejected() {
        // A put [0, 10] of the only slot's value is still in progress: a put_nowait refused at
        // [2, 3] says the queue was full, so the first put took effect before 3, and a get at
        // [4, 5] must have found its value.
        let history = [put(1, true, 0, 10), put(2, false, 2, 3), get(None, 4, 5)];
        assert!(check(&BoundedFifo { bound: 1 }, &history).is_err());
        let found = [put(1, true, 0, 10), put(2, false, 2, 3), get(Some(1), 4, 5)];
        assert!(check(&BoundedFifo { bound: 1 }, &found).is_ok());
    }

    #[test]
    fn refusals_below_the_bound_and_overfull_queues_are_rejected() {
        let spec = BoundedFifo { bound: 1 };
        assert!(check(&spec, &[put(1, false, 0, 1)]).is_err());
        let overfull = [put(1, true, 0, 1), put(2, true, 2, 3)];
        assert!(check(&spec, &overfull).is_err());
        let lost = [put(1, true, 0, 1), get(None, 2, 3)];
        assert!(check(&BoundedFifo { bound: 2 }, &lost).is_err());
        let full = [put(1, true, 0, 1), put(2, false, 2, 3), get(Some(1), 4, 5)];
        assert!(check(&spec, &full).is_ok());
    }

    /// The violations `check_history` finds in `history`.
    fn violations(history: &[QueueEvent]) -> Vec<String> {
        let mut report = Report::new("std-queue");
        check_history(&mut report, history);
        assert_eq!(report.undecided, 0);
        report.violations
    }

    #[test]
    fn a_window_holding_more_than_the_bound_is_rejected() {
        let mut history = Vec::new();
        for v in 0..=MAXSIZE as u64 {
            history.push(put(v, true, 10 * v, 10 * v + 1));
        }
        assert_eq!(violations(&history[..MAXSIZE]), Vec::<String>::new());
        assert_eq!(violations(&history).len(), 1);
    }

    #[test]
    fn values_out_of_order_are_rejected_with_or_without_refusals() {
        let mut history = vec![put(1, true, 0, 1), put(2, true, 2, 3), get(Some(2), 4, 5)];
        assert_eq!(violations(&history).len(), 1);
        history.push(put(3, false, 6, 7));
        assert_eq!(violations(&history).len(), 1);
    }

    #[test]
    fn a_refusal_while_a_put_holds_the_last_slot_is_accepted() {
        let mut history: Vec<_> = (0..MAXSIZE as u64 - 1)
            .map(|v| put(v, true, 2 * v, 2 * v + 1))
            .collect();
        history.push(put(100, true, 20, 40));
        history.push(put(101, false, 25, 30));
        history.push(get(Some(0), 50, 60));
        assert_eq!(violations(&history), Vec::<String>::new());
    }
}
