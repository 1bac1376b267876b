//! `stress atomic-int`: every thread runs a seeded mix of `incr`, `add`, `sub`, `get` and
//! `compare_exchange` on one `AtomicInt64`, in windows.
//!
//! Checked per window: the final value equals the start value plus every thread's ledger of
//! the deltas it applied (a lost update breaks it); with `--history`, the window's history
//! against a sequential integer, starting from the window's start value.

use crate::harness::Report;
use crate::lincheck::Spec;
use crate::windows::{check_linearizable, Target, Window, Worker};
use concurrency::AtomicInt64;

const OPS_PER_WINDOW: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IntOp {
    Add(i64),
    Get,
    /// `compare_exchange(expected, new)`.
    Cas(i64, i64),
}

/// The sequential integer. `Add` returns the new value, `Get` the value, `Cas` the previous
/// value (`Ok`) or the actual one (`Err`), encoded as `(ok, value)`.
pub(crate) struct Int;

impl Spec for Int {
    type State = i64;
    type Op = IntOp;
    type Ret = (bool, i64);

    fn init(&self) -> i64 {
        0
    }

    fn step(&self, state: &i64, op: &IntOp) -> (i64, (bool, i64)) {
        match *op {
            IntOp::Add(d) => (state.wrapping_add(d), (true, state.wrapping_add(d))),
            IntOp::Get => (*state, (true, *state)),
            IntOp::Cas(expected, new) if expected == *state => (new, (true, *state)),
            IntOp::Cas(_, _) => (*state, (false, *state)),
        }
    }
}

/// The atomic-int target: the cell, and its value when the window started.
#[derive(Debug, Default)]
pub(crate) struct IntTarget {
    cell: AtomicInt64,
    start: i64,
}

impl Target for IntTarget {
    type Op = IntOp;
    type Ret = (bool, i64);
    /// The sum of the deltas this thread applied.
    type Trace = i64;

    const KINDS: &'static [&'static str] = &["incr", "add", "get", "compare_exchange"];

    fn work(&self, worker: &mut Worker<'_, IntOp, (bool, i64)>) -> i64 {
        let cell = &self.cell;
        let mut ledger = 0i64;
        for _ in 0..OPS_PER_WINDOW {
            match worker.rng.next() % 10 {
                0..=1 => {
                    ledger = ledger.wrapping_add(1);
                    worker.call(0, IntOp::Add(1), || (true, cell.incr()));
                }
                2..=4 => {
                    let d = (worker.rng.next() % 7) as i64 - 3;
                    ledger = ledger.wrapping_add(d);
                    worker.call(1, IntOp::Add(d), || (true, cell.add(d)));
                }
                5..=7 => {
                    worker.call(2, IntOp::Get, || (true, cell.get()));
                }
                _ => {
                    let expected = cell.get();
                    let op = IntOp::Cas(expected, expected.wrapping_add(5));
                    let (swapped, _) = worker.call(3, op, || {
                        match cell.compare_exchange(expected, expected.wrapping_add(5)) {
                            Ok(previous) => (true, previous),
                            Err(actual) => (false, actual),
                        }
                    });
                    if swapped {
                        ledger = ledger.wrapping_add(5);
                    }
                }
            }
        }
        ledger
    }

    fn check(
        &mut self,
        report: &mut Report,
        _main: &mut Worker<'_, IntOp, (bool, i64)>,
        window: Window<Self>,
    ) {
        let applied = window
            .traces
            .iter()
            .fold(0i64, |sum, d| sum.wrapping_add(*d));
        let end = self.cell.get();
        let start = self.start;
        report.check(end == start.wrapping_add(applied), || {
            format!("{start} + ledgers {applied} != {end}")
        });
        if !window.history.is_empty() {
            check_linearizable(report, &Int, start, &window.history);
        }
        self.start = end;
    }
}
