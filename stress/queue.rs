//! `stress queue`: producers and consumers hammer a `ConcurrentQueue` in windows.
//!
//! In each window every thread runs a seeded mix of `push` (40%) and `try_pop` (60%); then the
//! run loop drains what is left, so every window starts and ends with an empty queue. Checked
//! per window: nothing lost (every pushed value comes out), nothing duplicated, FIFO per
//! producer as each consumer sees it; with `--history`, the window's recorded history against a
//! sequential FIFO queue, by the polynomial checker of `queue_check.rs` (every value is unique);
//! at the end, every value dropped exactly once.

use crate::harness::Report;
use crate::ledger::{Ledger, Tracked};
use crate::lincheck::Spec;
use crate::queue_check::{self, QueueEvent};
use crate::windows::{thread_of, Target, Window, Worker};
use concurrency::reclaim::Reclaimer;
use concurrency::ConcurrentQueue;
use std::collections::VecDeque;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Operations per thread per window: small, so that histories check fast.
const OPS_PER_WINDOW: usize = 200;

/// What the stress needs of a queue (the real one, or a broken one in tests).
pub(crate) trait StressQueue: Sync {
    fn push(&self, value: Tracked);
    fn try_pop(&self) -> Option<Tracked>;
}

impl<R: Reclaimer> StressQueue for ConcurrentQueue<Tracked, R> {
    fn push(&self, value: Tracked) {
        ConcurrentQueue::push(self, value).expect("the stress never shuts the queue down");
    }

    fn try_pop(&self) -> Option<Tracked> {
        ConcurrentQueue::try_pop(self).ok()
    }
}

/// A queue operation. Both return an `Option<u64>`: a push `None` when the value went in and
/// `Some(value)` when a full queue refused it (`std-queue`), a pop the value it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueueOp {
    Push(u64),
    Pop,
}

/// The sequential (unbounded) FIFO queue: for the general search in tests and, through
/// `BoundedFifo`, for the std queue's windows that `queue_check.rs` leaves to it.
pub(crate) struct Fifo;

impl Spec for Fifo {
    type State = VecDeque<u64>;
    type Op = QueueOp;
    type Ret = Option<u64>;

    fn init(&self) -> VecDeque<u64> {
        VecDeque::new()
    }

    fn step(&self, state: &VecDeque<u64>, op: &QueueOp) -> (VecDeque<u64>, Option<u64>) {
        let mut next = state.clone();
        let ret = match op {
            QueueOp::Push(v) => {
                next.push_back(*v);
                None
            }
            QueueOp::Pop => next.pop_front(),
        };
        (next, ret)
    }
}

/// What one thread did in one window.
#[derive(Default)]
pub(crate) struct Trace {
    /// Values that went in.
    pub(crate) pushed: Vec<u64>,
    /// Values that came out, in order.
    pub(crate) popped: Vec<u64>,
}

/// The queue target: any [`StressQueue`], and the ledger of its values.
pub(crate) struct QueueTarget<Q> {
    queue: Q,
    ledger: Arc<Ledger>,
}

impl<Q: StressQueue> QueueTarget<Q> {
    pub(crate) fn new(queue: Q, ledger: Arc<Ledger>) -> Self {
        Self { queue, ledger }
    }

    fn pop(&self, worker: &mut Worker<'_, QueueOp, Option<u64>>) -> Option<u64> {
        worker.call(1, QueueOp::Pop, || {
            self.queue.try_pop().map(|tracked| tracked.value)
        })
    }
}

impl<Q: StressQueue> Target for QueueTarget<Q> {
    type Op = QueueOp;
    type Ret = Option<u64>;
    type Trace = Trace;

    const KINDS: &'static [&'static str] = &["push", "try_pop"];

    fn work(&self, worker: &mut Worker<'_, QueueOp, Option<u64>>) -> Trace {
        let mut trace = Trace::default();
        for _ in 0..OPS_PER_WINDOW {
            if worker.rng.chance(40) {
                let v = worker.unique();
                worker.call(0, QueueOp::Push(v), || {
                    self.queue.push(self.ledger.track(v));
                    None
                });
                trace.pushed.push(v);
            } else {
                trace.popped.extend(self.pop(worker));
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
        while let Some(v) = self.pop(main) {
            drained.popped.push(v);
        }
        window.traces.push(drained);
        window.history.append(&mut main.take_history());
        check_delivery(report, &window.traces);
        check_fifo(report, &window.history);
    }
}

/// Checks `history`, which starts and ends with an empty queue, against a FIFO queue.
pub(crate) fn check_fifo(report: &mut Report, history: &[QueueEvent]) {
    match queue_check::check(history) {
        Ok(_) => report.check(true, String::new),
        Err(violation) => report.check(false, || {
            format!("not linearizable: {}", violation.explain(history))
        }),
    }
}

/// Nothing lost, nothing duplicated, and each consumer sees each producer's values in order.
pub(crate) fn check_delivery(report: &mut Report, traces: &[Trace]) {
    let mut seen = HashSet::new();
    let mut duplicated = Vec::new();
    for v in traces.iter().flat_map(|t| &t.popped) {
        if !seen.insert(*v) {
            duplicated.push(*v);
        }
    }
    let lost: Vec<u64> = traces
        .iter()
        .flat_map(|t| &t.pushed)
        .filter(|v| !seen.contains(v))
        .copied()
        .collect();
    report.check(lost.is_empty() && duplicated.is_empty(), || {
        format!("lost {lost:x?}, duplicated {duplicated:x?}")
    });
    for (consumer, trace) in traces.iter().enumerate() {
        let mut last: HashMap<usize, u64> = HashMap::new();
        let in_order = trace.popped.iter().all(|&v| {
            let previous = last.insert(thread_of(v), v);
            previous.is_none_or(|p| p < v)
        });
        report.check(in_order, || {
            format!(
                "consumer {consumer} saw a producer out of order: {:x?}",
                trace.popped
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::Event;

    #[test]
    fn a_fifo_violation_across_producers_is_reported_by_the_history_check_alone() {
        // Producer 0's value went in first, producer 1's came out first.
        let (first, second) = (1, 1 << 48 | 1);
        let traces = [
            Trace {
                pushed: vec![first],
                popped: vec![],
            },
            Trace {
                pushed: vec![second],
                popped: vec![second, first],
            },
        ];
        let history = [
            Event::at(0, QueueOp::Push(first), None, 0, 10),
            Event::at(1, QueueOp::Push(second), None, 20, 30),
            Event::at(1, QueueOp::Pop, Some(second), 40, 50),
            Event::at(1, QueueOp::Pop, Some(first), 60, 70),
        ];
        let mut report = Report::new("queue");
        check_delivery(&mut report, &traces);
        assert_eq!(report.violations, Vec::<String>::new());
        check_fifo(&mut report, &history);
        assert_eq!(report.violations.len(), 1, "{report}");
        assert!(report.violations[0].contains("FIFO order"), "{report}");
    }
}
