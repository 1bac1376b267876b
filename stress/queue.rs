//! `stress queue`: producers and consumers hammer a `ConcurrentQueue` in windows.
//!
//! In each window every thread runs a seeded mix of `push` (40%) and `try_pop` (60%); then the
//! main thread drains what is left, so every window starts and ends with an empty queue. Checked
//! per window: nothing lost (every pushed value comes out), nothing duplicated, FIFO per
//! producer as each consumer sees it; with `--history`, the window's recorded history against a
//! sequential FIFO queue.

use crate::harness::{Clock, Report, Rng, Settings, Watchdog};
use crate::lincheck::{self, Event, Spec};
use concurrency::reclaim::Reclaimer;
use concurrency::ConcurrentQueue;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

/// Operations per thread per window: small, so that histories check fast.
const OPS_PER_WINDOW: usize = 200;

/// What the stress needs of a queue (the real one, or a broken one in tests).
pub(crate) trait StressQueue: Sync {
    fn push(&self, value: u64);
    fn try_pop(&self) -> Option<u64>;
}

impl<R: Reclaimer> StressQueue for ConcurrentQueue<u64, R> {
    fn push(&self, value: u64) {
        ConcurrentQueue::push(self, value).expect("the stress never shuts the queue down");
    }

    fn try_pop(&self) -> Option<u64> {
        ConcurrentQueue::try_pop(self).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueueOp {
    Push(u64),
    Pop,
}

/// The sequential FIFO queue.
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

/// A value: its producer in the high bits, its sequence number in the low 40.
fn value(producer: usize, seq: u64) -> u64 {
    (producer as u64) << 40 | seq
}

fn producer_of(value: u64) -> usize {
    (value >> 40) as usize
}

/// What one thread did in one window.
#[derive(Default)]
struct Trace {
    pushed: Vec<u64>,
    popped: Vec<u64>,
    events: Vec<Event<QueueOp, Option<u64>>>,
}

/// Code of a last operation for the watchdog: 1 push, 2 pop.
fn describe(op: u64) -> String {
    match op {
        1 => "push".into(),
        2 => "try_pop".into(),
        _ => "nothing yet".into(),
    }
}

/// Runs the queue stress on `queue` with `settings`.
pub(crate) fn run<Q: StressQueue>(name: &str, settings: &Settings, queue: &Q) -> Report {
    let started = Instant::now();
    let mut report = Report::new(name);
    let clock = Clock::start();
    let dog = Watchdog::new(settings.threads);
    dog.watch("queue", describe);
    let mut next_seq = vec![0u64; settings.threads];
    let mut window = 0u64;
    while started.elapsed() < settings.duration {
        let traces: Vec<Trace> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..settings.threads)
                .map(|t| {
                    let (dog, first_seq) = (&dog, next_seq[t]);
                    let mut rng = Rng::new(settings.seed, window << 16 | t as u64);
                    s.spawn(move || {
                        let mut trace = Trace::default();
                        let mut seq = first_seq;
                        for _ in 0..OPS_PER_WINDOW {
                            let invoke = clock.now();
                            let (op, ret) = if rng.chance(40) {
                                let v = value(t, seq);
                                seq += 1;
                                queue.push(v);
                                trace.pushed.push(v);
                                dog.tick(t, 1);
                                (QueueOp::Push(v), None)
                            } else {
                                let got = queue.try_pop();
                                trace.popped.extend(got);
                                dog.tick(t, 2);
                                (QueueOp::Pop, got)
                            };
                            if settings.history {
                                let response = clock.now();
                                trace.events.push(Event {
                                    thread: t,
                                    op,
                                    ret,
                                    invoke,
                                    response,
                                });
                            }
                        }
                        trace
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut drained = Trace::default();
        loop {
            let invoke = clock.now();
            let got = queue.try_pop();
            let response = clock.now();
            drained.popped.extend(got);
            if settings.history {
                drained.events.push(Event {
                    thread: settings.threads,
                    op: QueueOp::Pop,
                    ret: got,
                    invoke,
                    response,
                });
            }
            if got.is_none() {
                break;
            }
        }
        for (t, trace) in traces.iter().enumerate() {
            next_seq[t] += trace.pushed.len() as u64;
        }
        check_window(&mut report, settings, window, &traces, &drained);
        window += 1;
    }
    dog.stop();
    report.finish(started)
}

fn check_window(
    report: &mut Report,
    settings: &Settings,
    window: u64,
    traces: &[Trace],
    drained: &Trace,
) {
    let pushed: usize = traces.iter().map(|t| t.pushed.len()).sum();
    let popped: usize = traces.iter().map(|t| t.popped.len()).sum();
    report.count("push", pushed as u64);
    report.count("pop", popped as u64);
    let mut seen = HashSet::new();
    let mut duplicated = Vec::new();
    for v in traces.iter().chain([drained]).flat_map(|t| &t.popped) {
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
        format!(
            "window {window} (seed {}): lost {lost:x?}, duplicated {duplicated:x?}",
            settings.seed
        )
    });
    for (consumer, trace) in traces.iter().chain([drained]).enumerate() {
        let mut last: HashMap<usize, u64> = HashMap::new();
        let in_order = trace.popped.iter().all(|&v| {
            let previous = last.insert(producer_of(v), v);
            previous.is_none_or(|p| p < v)
        });
        report.check(in_order, || {
            format!(
                "window {window} (seed {}): consumer {consumer} saw a producer out of order: {:x?}",
                settings.seed, trace.popped
            )
        });
    }
    if settings.history {
        let events: Vec<_> = traces
            .iter()
            .chain([drained])
            .flat_map(|t| t.events.iter().cloned())
            .collect();
        let verdict = lincheck::check(&Fifo, &events);
        report.check(verdict.is_ok(), || {
            let window_events = lincheck::smallest_failing_window(&Fifo, &events).unwrap_or(events);
            let detail = lincheck::check(&Fifo, &window_events)
                .err()
                .map_or_else(String::new, |v| v.to_string());
            format!(
                "window {window} (seed {}): not linearizable; smallest failing window:\n{detail}",
                settings.seed
            )
        });
    }
}
