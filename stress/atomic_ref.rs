//! `stress atomic-ref`: every thread runs a seeded mix of `get`, `load`, `set`, `exchange` and
//! `compare_exchange` (by identity) on one `AtomicReference`, in windows.
//!
//! Every value installed is a fresh `Arc` of a unique number, so identity and number agree.
//! Checked per window: no value is taken out by two exchanges, and the final value is the
//! window's start value or one installed in it; with `--history`, the window's history against
//! a sequential register; at the end, every value dropped exactly once.

use crate::harness::Report;
use crate::ledger::{Ledger, Tracked};
use crate::lincheck::Spec;
use crate::windows::{check_linearizable, Target, Window, Worker};
use concurrency::reclaim::Reclaimer;
use concurrency::AtomicReference;
use std::collections::HashSet;
use std::sync::Arc;

const OPS_PER_WINDOW: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefOp {
    /// `get` or `load`: returns the current value.
    Read,
    Set(u64),
    /// `exchange`: returns the value it replaced.
    Exchange(u64),
    /// `compare_exchange(expected, new)`: returns whether it swapped.
    Cas(u64, u64),
}

/// The sequential register. Every operation returns a number: the value read or replaced, or
/// for `set` 0, for `compare_exchange` 1 if it swapped and 0 if not.
pub(crate) struct Register;

impl Spec for Register {
    type State = u64;
    type Op = RefOp;
    type Ret = u64;

    fn init(&self) -> u64 {
        0
    }

    fn step(&self, state: &u64, op: &RefOp) -> (u64, u64) {
        match *op {
            RefOp::Read => (*state, *state),
            RefOp::Set(new) => (new, 0),
            RefOp::Exchange(new) => (new, *state),
            RefOp::Cas(expected, new) if expected == *state => (new, 1),
            RefOp::Cas(_, _) => (*state, 0),
        }
    }
}

/// What one thread did in a window.
#[derive(Default)]
pub(crate) struct Trace {
    installed: Vec<u64>,
    exchanged_out: Vec<u64>,
}

/// The atomic-ref target: the reference, its value when the window started, and the ledger.
pub(crate) struct RefTarget<R: Reclaimer> {
    reference: AtomicReference<Tracked, R>,
    start: u64,
    ledger: Arc<Ledger>,
}

impl<R: Reclaimer> RefTarget<R> {
    pub(crate) fn new(ledger: Arc<Ledger>) -> Self {
        Self {
            reference: AtomicReference::with_reclaimer(ledger.track(0)),
            start: 0,
            ledger,
        }
    }
}

impl<R: Reclaimer> Target for RefTarget<R> {
    type Op = RefOp;
    type Ret = u64;
    type Trace = Trace;

    const KINDS: &'static [&'static str] = &["get", "load", "set", "exchange", "compare_exchange"];

    fn work(&self, worker: &mut Worker<'_, RefOp, u64>) -> Trace {
        let (reference, ledger) = (&self.reference, &self.ledger);
        let mut trace = Trace::default();
        for _ in 0..OPS_PER_WINDOW {
            match worker.rng.next() % 10 {
                0..=2 => {
                    worker.call(0, RefOp::Read, || reference.get().value);
                }
                3..=5 => {
                    worker.call(1, RefOp::Read, || reference.load().value);
                }
                6 => {
                    let new = worker.unique();
                    worker.call(2, RefOp::Set(new), || {
                        reference.set(ledger.track(new));
                        0
                    });
                    trace.installed.push(new);
                }
                7 => {
                    let new = worker.unique();
                    let old = worker.call(3, RefOp::Exchange(new), || {
                        reference.exchange(ledger.track(new)).value
                    });
                    trace.installed.push(new);
                    trace.exchanged_out.push(old);
                }
                _ => {
                    let expected = reference.get();
                    let new = worker.unique();
                    let op = RefOp::Cas(expected.value, new);
                    let swapped = worker.call(4, op, || {
                        u64::from(
                            reference.compare_exchange(&expected, Arc::new(ledger.track(new))),
                        )
                    });
                    if swapped == 1 {
                        trace.installed.push(new);
                    }
                }
            }
        }
        trace
    }

    fn check(
        &mut self,
        report: &mut Report,
        _main: &mut Worker<'_, RefOp, u64>,
        window: Window<Self>,
    ) {
        let mut out = HashSet::new();
        let twice: Vec<u64> = window
            .traces
            .iter()
            .flat_map(|t| &t.exchanged_out)
            .filter(|v| !out.insert(**v))
            .copied()
            .collect();
        report.check(twice.is_empty(), || {
            format!("values exchanged out twice: {twice:x?}")
        });
        let end = self.reference.get().value;
        let installed =
            end == self.start || window.traces.iter().any(|t| t.installed.contains(&end));
        report.check(installed, || {
            format!("final value {end:x} was never installed")
        });
        if !window.history.is_empty() {
            check_linearizable(report, &Register, self.start, &window.history);
        }
        self.start = end;
    }
}
