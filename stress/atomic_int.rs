//! `stress atomic-int`: every thread runs a seeded mix of `incr`, `add`, `sub`, `get` and
//! `compare_exchange` on one `AtomicInt64`, in windows.
//!
//! Checked per window: the final value equals the start value plus every thread's ledger of
//! the deltas it applied (a lost update breaks it); with `--history`, the window's history
//! against a sequential integer, starting from the window's start value.

use crate::harness::{Clock, Report, Rng, Settings, Watchdog};
use crate::lincheck::{self, Event, Spec};
use concurrency::AtomicInt64;
use std::time::Instant;

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

/// What one thread did in a window: its ledger of applied deltas, and its history.
type Thread = (i64, Vec<Event<IntOp, (bool, i64)>>);

fn describe(op: u64) -> String {
    ["nothing yet", "add", "get", "compare_exchange"]
        .get(op as usize)
        .map_or_else(|| "?".into(), |s| (*s).into())
}

/// Runs the atomic-int stress with `settings`.
pub(crate) fn run(settings: &Settings) -> Report {
    let started = Instant::now();
    let mut report = Report::new("atomic-int");
    let clock = Clock::start();
    let dog = Watchdog::new(settings.threads);
    dog.watch("atomic-int", describe);
    let cell = AtomicInt64::new(0);
    let mut window = 0u64;
    while started.elapsed() < settings.duration {
        let start_value = cell.get();
        let results: Vec<Thread> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..settings.threads)
                .map(|t| {
                    let (cell, dog) = (&cell, &dog);
                    let mut rng = Rng::new(settings.seed, window << 16 | t as u64);
                    s.spawn(move || {
                        let (mut ledger, mut events) = (0i64, Vec::new());
                        for _ in 0..OPS_PER_WINDOW {
                            let invoke = clock.now();
                            let (op, ret) = match rng.next() % 10 {
                                0..=4 => {
                                    let d = (rng.next() % 7) as i64 - 3;
                                    ledger = ledger.wrapping_add(d);
                                    dog.tick(t, 1);
                                    let new = if d == 1 { cell.incr() } else { cell.add(d) };
                                    (IntOp::Add(d), (true, new))
                                }
                                5..=7 => {
                                    dog.tick(t, 2);
                                    (IntOp::Get, (true, cell.get()))
                                }
                                _ => {
                                    let expected = cell.get();
                                    let outcome = cell.compare_exchange(expected, expected + 5);
                                    if outcome.is_ok() {
                                        ledger = ledger.wrapping_add(5);
                                    }
                                    dog.tick(t, 3);
                                    let ret = (outcome.is_ok(), outcome.unwrap_or_else(|a| a));
                                    (IntOp::Cas(expected, expected + 5), ret)
                                }
                            };
                            if settings.history {
                                let response = clock.now();
                                events.push(Event {
                                    thread: t,
                                    op,
                                    ret,
                                    invoke,
                                    response,
                                });
                            }
                        }
                        (ledger, events)
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let applied = results
            .iter()
            .fold(0i64, |sum, (d, _)| sum.wrapping_add(*d));
        let end_value = cell.get();
        report.count("ops", (settings.threads * OPS_PER_WINDOW) as u64);
        report.check(end_value == start_value.wrapping_add(applied), || {
            format!(
                "window {window} (seed {}): {start_value} + ledgers {applied} != {end_value}",
                settings.seed
            )
        });
        if settings.history {
            let events: Vec<_> = results.into_iter().flat_map(|(_, e)| e).collect();
            let verdict = lincheck::check_from(&Int, start_value, &events);
            report.check(verdict.is_ok(), || {
                format!(
                    "window {window} (seed {}): not linearizable:\n{}",
                    settings.seed,
                    verdict.err().map_or_else(String::new, |v| v.to_string())
                )
            });
        }
        window += 1;
    }
    dog.stop();
    report.finish(started)
}
