//! `stress std-queue`: producers and consumers hammer a bounded `StdConcurrentQueue` in windows,
//! with the `queue.Queue` contract's blocking calls and task accounting.
//!
//! Each thread runs a seeded mix of `put_nowait`, `put_timeout`, `get_nowait` and `get_timeout`
//! (short timeouts, on a queue of [`MAXSIZE`] values, so that full and empty are common) and
//! calls `task_done` after every value it gets. The run loop then drains the queue (marking
//! those done too) and calls `join`, which must return at once. Checked per window: nothing
//! lost or duplicated, FIFO per producer, the queue empty and every task done, one `task_done`
//! too many refused; with `--history`, the history (see [`check_history`]) against
//! [`SlottedFifo`]; at the end, every value dropped exactly once.
//!
//! # The specification: slots, not values
//! The bounded queue is *not* linearizable against a plain bounded FIFO queue, and this
//! stress found it: a put reserves a slot before it links its value, and a get unlinks a value
//! before it gives its slot back, so a `put_nowait` can be refused as full while fewer than
//! `maxsize` values are visible to gets (the queue's documentation says so). What the
//! queue does promise is checked instead: each put is a `Reserve` then an `Enqueue`, each get a
//! `Dequeue` then a `Release`, both steps within the call; slots never exceed the bound, a
//! refused put found every slot taken, and the values form one FIFO queue.
//!
//! # Checking it in polynomial time, where possible
//! Forgetting the slots, the steps `Enqueue` and `Dequeue` of a linearization against
//! [`SlottedFifo`] are a linearization of the accepted puts and the gets against a plain FIFO
//! queue; so a history whose accepted puts and gets fail `queue_check.rs` is not linearizable.
//! Conversely, a linearization against the FIFO queue that never holds more than [`MAXSIZE`]
//! values gives one against [`SlottedFifo`] for a history without refused puts: each put
//! reserves right before it enqueues, each get releases right after it dequeues, so the slots
//! taken are the values held. That settles most windows at once. A refused put needs every
//! slot taken at some instant of its call, which depends on where the other calls reserve and
//! release, not on the values alone; the bad-pattern argument does not cover that, so a window
//! with a refused put (or whose FIFO linearization holds more than [`MAXSIZE`] values) still goes
//! to the general search, which may give up on it undecided.

use crate::harness::Report;
use crate::ledger::{Ledger, Tracked};
use crate::lincheck::{Event, Spec};
use crate::queue::{check_delivery, QueueOp, Trace};
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

/// A step of the bounded queue's specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SlotOp {
    /// A put takes a slot.
    Reserve,
    /// A put that reserved links its value.
    Enqueue(u64),
    /// A put finds every slot taken (`put_nowait`, or `put_timeout` when time is up).
    Refused,
    /// A get takes the oldest value, or finds none.
    Dequeue,
    /// A get that took a value gives its slot back.
    Release,
}

/// What a step returns: `Dequeue` the value it took, every other step whether it was
/// possible (`Some(1)`) or not (`Some(0)`).
type SlotRet = Option<u64>;

const POSSIBLE: SlotRet = Some(1);
const IMPOSSIBLE: SlotRet = Some(0);

/// The sequential bounded queue with slots: the values in order, the slots taken, the
/// reservations not yet used by an `Enqueue`, and the dequeued values whose slot is not yet
/// released. The last two tie each call's second step to a first step before it.
pub(crate) struct SlottedFifo {
    pub(crate) bound: usize,
}

/// The state of [`SlottedFifo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Slots {
    values: VecDeque<u64>,
    taken: usize,
    reserved: usize,
    unreleased: usize,
}

impl Spec for SlottedFifo {
    type State = Slots;
    type Op = SlotOp;
    type Ret = SlotRet;

    fn init(&self) -> Slots {
        Slots::default()
    }

    fn step(&self, state: &Slots, op: &SlotOp) -> (Slots, SlotRet) {
        let mut next = state.clone();
        let possible = match *op {
            SlotOp::Reserve => {
                next.taken += 1;
                next.reserved += 1;
                state.taken < self.bound
            }
            SlotOp::Enqueue(v) => {
                next.values.push_back(v);
                next.reserved = state.reserved.wrapping_sub(1);
                state.reserved > 0
            }
            SlotOp::Refused => state.taken == self.bound,
            SlotOp::Dequeue => {
                let taken = next.values.pop_front();
                next.unreleased += usize::from(taken.is_some());
                return (next, taken);
            }
            SlotOp::Release => {
                next.taken = state.taken.wrapping_sub(1);
                next.unreleased = state.unreleased.wrapping_sub(1);
                state.unreleased > 0
            }
        };
        (next, if possible { POSSIBLE } else { IMPOSSIBLE })
    }
}

/// The history of the specification's steps: each recorded call becomes its steps, each over
/// the call's interval.
fn steps(history: &[Event<QueueOp, Option<u64>>]) -> Vec<Event<SlotOp, SlotRet>> {
    let step = |e: &Event<QueueOp, Option<u64>>, op: SlotOp, ret: SlotRet| Event {
        thread: e.thread,
        op,
        ret,
        invoke: e.invoke,
        response: e.response,
    };
    let mut steps = Vec::with_capacity(history.len() * 2);
    for e in history {
        match (&e.op, e.ret) {
            (QueueOp::Push(v), None) => {
                steps.push(step(e, SlotOp::Reserve, POSSIBLE));
                steps.push(step(e, SlotOp::Enqueue(*v), POSSIBLE));
            }
            (QueueOp::Push(_), Some(_)) => steps.push(step(e, SlotOp::Refused, POSSIBLE)),
            (QueueOp::Pop, Some(v)) => {
                steps.push(step(e, SlotOp::Dequeue, Some(v)));
                steps.push(step(e, SlotOp::Release, POSSIBLE));
            }
            (QueueOp::Pop, None) => steps.push(step(e, SlotOp::Dequeue, None)),
        }
    }
    steps
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

/// Checks a window's history: by `queue_check.rs` alone where that decides it, otherwise also
/// by the general search against [`SlottedFifo`] (see the module doc).
fn check_history(report: &mut Report, history: &[QueueEvent]) {
    let accepted: Vec<QueueEvent> = history.iter().filter(|e| !is_refused(e)).cloned().collect();
    match queue_check::check(&accepted) {
        Err(violation) => report.check(false, || {
            format!(
                "the accepted puts and the gets are not linearizable as a FIFO queue: {}",
                violation.explain(&accepted)
            )
        }),
        Ok(order) if accepted.len() == history.len() && longest(&accepted, &order) <= MAXSIZE => {
            report.check(true, String::new);
        }
        Ok(_) => {
            let spec = SlottedFifo { bound: MAXSIZE };
            check_linearizable(report, &spec, spec.init(), &steps(history));
        }
    }
}

/// Whether `event` is a put that the full queue refused.
fn is_refused(event: &QueueEvent) -> bool {
    matches!(event.op, QueueOp::Push(_)) && event.ret.is_some()
}

/// The most values the queue holds along `order`, a linearization of `history`.
fn longest(history: &[QueueEvent], order: &[usize]) -> usize {
    let mut held = 0usize;
    let mut most = 0;
    for &i in order {
        match (&history[i].op, history[i].ret) {
            (QueueOp::Push(_), _) => held += 1,
            (QueueOp::Pop, Some(_)) => held -= 1,
            (QueueOp::Pop, None) => {}
        }
        most = most.max(held);
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::check;

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
    fn a_put_in_progress_may_make_the_queue_full() {
        let spec = SlottedFifo { bound: 1 };
        // A put [0, 10] took the only slot early: a put_nowait at [2, 3] is refused, a get at
        // [4, 5] finds nothing yet.
        let history = [put(1, true, 0, 10), put(2, false, 2, 3), get(None, 4, 5)];
        assert!(check(&spec, &steps(&history)).is_ok());
    }

    #[test]
    fn refusals_with_free_slots_and_overfull_queues_are_rejected() {
        let spec = SlottedFifo { bound: 1 };
        assert!(check(&spec, &steps(&[put(1, false, 0, 1)])).is_err());
        let overfull = [put(1, true, 0, 1), put(2, true, 2, 3)];
        assert!(check(&spec, &steps(&overfull)).is_err());
        let out_of_order = [put(1, true, 0, 1), get(None, 2, 3)];
        assert!(check(&SlottedFifo { bound: 2 }, &steps(&out_of_order)).is_err());
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
