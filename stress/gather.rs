//! `stress gather`: producers insert values by key into a `ConcurrentGatheringIterator` in a
//! seeded random order while a reader drains it in key order, in windows.
//!
//! Each window gathers keys `0..=max_key`, shared out among the producers (every thread but
//! the last, which reads; with one thread it inserts first and reads after). Every fourth
//! window one producer withholds its last key and calls `fail` instead, so the reader must
//! stop with `GatherError::Failed` no later than that key. Checked per window: the reader got
//! every key in order up to where it stopped, each with the value inserted for it, and stopped
//! only on a failure; with `--history`, the history against a sequential gathering iterator;
//! at the end, every value dropped exactly once.

use crate::harness::Report;
use crate::ledger::{Ledger, Tracked};
use crate::lincheck::Spec;
use crate::windows::{check_linearizable, Target, Window, Worker};
use concurrency::{ConcurrentGatheringIterator, GatherError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Keys each producer inserts per window.
const KEYS_PER_PRODUCER: u64 = 100;
/// Every this many windows, one producer fails instead of inserting its last key.
const FAILING_EVERY: u64 = 4;

const INSERT: usize = 0;
const FAIL: usize = 1;
const NEXT: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GatherOp {
    Insert(u64, u64),
    Fail,
    /// One call of the reader's `next`.
    Next,
}

/// What an operation returns; `Blocked` only comes from the specification, for a `next` that
/// would still be waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GatherRet {
    Done,
    Value(u64),
    Failed,
    End,
    Blocked,
}

/// The sequential gathering reader over keys `0..=max_key`.
pub(crate) struct Gathering {
    max_key: u64,
}

/// The present values, whether a producer failed, and the reader's next key (`None` once the
/// iteration ended).
type GatherState = (BTreeMap<u64, u64>, bool, Option<u64>);

impl Spec for Gathering {
    type State = GatherState;
    type Op = GatherOp;
    type Ret = GatherRet;

    fn init(&self) -> GatherState {
        (BTreeMap::new(), false, Some(0))
    }

    fn step(&self, state: &GatherState, op: &GatherOp) -> (GatherState, GatherRet) {
        let (mut present, mut failed, mut next) = state.clone();
        let ret = match *op {
            GatherOp::Insert(k, v) => {
                present.insert(k, v);
                GatherRet::Done
            }
            GatherOp::Fail => {
                failed = true;
                GatherRet::Done
            }
            GatherOp::Next => match next.filter(|&k| k <= self.max_key) {
                None => {
                    next = None;
                    GatherRet::End
                }
                Some(k) => match present.remove(&k) {
                    Some(v) => {
                        next = Some(k + 1);
                        GatherRet::Value(v)
                    }
                    None if failed => {
                        next = None;
                        GatherRet::Failed
                    }
                    None => GatherRet::Blocked,
                },
            },
        };
        ((present, failed, next), ret)
    }
}

/// What one thread did in a window: the pairs it inserted, or, for the reader, what it read.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    inserted: Vec<(u64, u64)>,
    read: Vec<GatherRet>,
}

/// The gather target.
pub(crate) struct GatherTarget {
    gather: ConcurrentGatheringIterator<Tracked>,
    threads: usize,
    ledger: Arc<Ledger>,
}

impl GatherTarget {
    pub(crate) fn new(threads: usize, ledger: Arc<Ledger>) -> Self {
        Self {
            gather: ConcurrentGatheringIterator::new(),
            threads,
            ledger,
        }
    }

    fn producers(&self) -> u64 {
        (self.threads as u64 - 1).max(1)
    }

    fn max_key(&self) -> u64 {
        self.producers() * KEYS_PER_PRODUCER - 1
    }

    fn produce(&self, worker: &mut Worker<'_, GatherOp, GatherRet>, producer: u64) -> Trace {
        let mut keys: Vec<u64> = (0..KEYS_PER_PRODUCER)
            .map(|i| i * self.producers() + producer)
            .collect();
        for i in (1..keys.len()).rev() {
            keys.swap(i, (worker.rng.next() % (i as u64 + 1)) as usize);
        }
        let failing = producer == 0 && worker.window % FAILING_EVERY == FAILING_EVERY - 1;
        let withheld = if failing { keys.pop() } else { None };
        let mut trace = Trace::default();
        for key in keys {
            let v = worker.unique();
            worker.call(INSERT, GatherOp::Insert(key, v), || {
                self.gather.insert(key, self.ledger.track(v));
                GatherRet::Done
            });
            trace.inserted.push((key, v));
        }
        if withheld.is_some() {
            worker.call(FAIL, GatherOp::Fail, || {
                self.gather.fail();
                GatherRet::Done
            });
        }
        trace
    }

    fn read(&self, worker: &mut Worker<'_, GatherOp, GatherRet>, trace: &mut Trace) {
        let mut reader = self.gather.drain(self.max_key());
        loop {
            let got = worker.call(NEXT, GatherOp::Next, || match reader.next() {
                Some(Ok(value)) => GatherRet::Value(value.value),
                Some(Err(GatherError::Failed)) => GatherRet::Failed,
                None => GatherRet::End,
            });
            trace.read.push(got);
            if got == GatherRet::End {
                return;
            }
        }
    }
}

impl Target for GatherTarget {
    type Op = GatherOp;
    type Ret = GatherRet;
    type Trace = Trace;

    const KINDS: &'static [&'static str] = &["insert", "fail", "next"];

    fn work(&self, worker: &mut Worker<'_, GatherOp, GatherRet>) -> Trace {
        if self.threads == 1 {
            let mut trace = self.produce(worker, 0);
            self.read(worker, &mut trace);
            trace
        } else if worker.thread == self.threads - 1 {
            let mut trace = Trace::default();
            self.read(worker, &mut trace);
            trace
        } else {
            self.produce(worker, worker.thread as u64)
        }
    }

    fn check(
        &mut self,
        report: &mut Report,
        _main: &mut Worker<'_, GatherOp, GatherRet>,
        window: Window<Self>,
    ) {
        let inserted: HashMap<u64, u64> = window
            .traces
            .iter()
            .flat_map(|t| t.inserted.iter().copied())
            .collect();
        let read: Vec<GatherRet> = window.traces.iter().flat_map(|t| t.read.clone()).collect();
        let failing = window.index % FAILING_EVERY == FAILING_EVERY - 1;
        let values = read.iter().take_while(|r| matches!(r, GatherRet::Value(_)));
        let in_order = values.enumerate().all(|(key, got)| {
            inserted.get(&(key as u64)).map(|&v| GatherRet::Value(v)) == Some(*got)
        });
        let stop = read.iter().rev().nth(1).copied();
        let complete = read.len() as u64 == self.max_key() + 2 && stop != Some(GatherRet::Failed);
        let stopped_on_failure = failing && stop == Some(GatherRet::Failed);
        report.check(in_order && (complete || stopped_on_failure), || {
            format!("the reader read {read:?}; inserted {inserted:?}")
        });
        if !window.history.is_empty() {
            let spec = Gathering {
                max_key: self.max_key(),
            };
            check_linearizable(report, &spec, spec.init(), &window.history);
        }
        if failing {
            self.gather = ConcurrentGatheringIterator::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lincheck::{check, Event};

    fn at(op: GatherOp, ret: GatherRet, invoke: u64, response: u64) -> Event<GatherOp, GatherRet> {
        Event::at(0, op, ret, invoke, response)
    }

    #[test]
    fn the_reader_gets_keys_in_order_once_inserted() {
        let spec = Gathering { max_key: 1 };
        let history = [
            at(GatherOp::Next, GatherRet::Value(10), 0, 9),
            at(GatherOp::Insert(1, 11), GatherRet::Done, 1, 2),
            at(GatherOp::Insert(0, 10), GatherRet::Done, 3, 4),
            at(GatherOp::Next, GatherRet::Value(11), 10, 11),
            at(GatherOp::Next, GatherRet::End, 12, 13),
        ];
        assert!(check(&spec, &history).is_ok());
    }

    #[test]
    fn reads_before_insertion_or_out_of_order_are_rejected() {
        let spec = Gathering { max_key: 1 };
        let early = [
            at(GatherOp::Next, GatherRet::Value(10), 0, 1),
            at(GatherOp::Insert(0, 10), GatherRet::Done, 2, 3),
        ];
        assert!(check(&spec, &early).is_err());
        let skipped = [
            at(GatherOp::Insert(1, 11), GatherRet::Done, 0, 1),
            at(GatherOp::Next, GatherRet::Value(11), 2, 3),
        ];
        assert!(check(&spec, &skipped).is_err());
        let failed_too_soon = [
            at(GatherOp::Insert(0, 10), GatherRet::Done, 0, 1),
            at(GatherOp::Fail, GatherRet::Done, 2, 3),
            at(GatherOp::Next, GatherRet::Failed, 4, 5),
        ];
        assert!(check(&spec, &failed_too_soon).is_err());
    }
}
