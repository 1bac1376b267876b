//! The run every target shares: windows of concurrent operations, checked in between.
//!
//! A run is a sequence of windows. In each, `--threads` scoped threads run a target's
//! seeded operation mix ([`Target::work`]) through a [`Worker`], which times each operation
//! for the history and tells the [`Monitor`] about it. When every thread is done, the run
//! loop — alone now — lets the target check the window ([`Target::check`]): ledgers,
//! counts, order and, with `--history`, linearizability of the window's history. Windows keep
//! histories short enough to check and make a violation easy to place.

use crate::harness::{Clock, Report, Rng, Settings};
use crate::lincheck::{self, Event, Spec};
use crate::monitor::Monitor;
use std::fmt::Debug;
use std::hash::Hash;
use std::time::Instant;

/// The most configurations the linearizability search may visit for one window's history (or
/// one key's) before it gives up on it and counts the window undecided: about 50 MiB of memo.
pub(crate) const SEARCH_BUDGET: usize = 1 << 21;

/// A structure under stress, with its operation mix and its checks.
pub(crate) trait Target: Sync {
    /// An operation of the structure's sequential specification.
    type Op: Clone + Debug + Send;
    /// What an operation returns.
    type Ret: Clone + Debug + Send;
    /// What a worker thread reports of one window besides its history.
    type Trace: Send;

    /// The kinds of operation, for the report and the watchdog; [`Worker::call`]'s `kind`
    /// indexes it.
    const KINDS: &'static [&'static str];

    /// One worker thread's part of a window.
    fn work(&self, worker: &mut Worker<'_, Self::Op, Self::Ret>) -> Self::Trace;

    /// Checks a finished window, on the run loop's thread while no worker runs; `main` runs
    /// operations there (draining, reading back) as thread number `--threads`.
    fn check(
        &mut self,
        report: &mut Report,
        main: &mut Worker<'_, Self::Op, Self::Ret>,
        window: Window<Self>,
    );
}

/// A finished window: each worker thread's trace, and the history of all of them.
pub(crate) struct Window<T: Target + ?Sized> {
    pub(crate) index: u64,
    pub(crate) traces: Vec<T::Trace>,
    pub(crate) history: Vec<Event<T::Op, T::Ret>>,
}

/// One thread's handle in a window: its seeded generator, and the recorder of its operations.
pub(crate) struct Worker<'a, Op, Ret> {
    pub(crate) thread: usize,
    pub(crate) window: u64,
    pub(crate) rng: Rng,
    clock: Clock,
    monitor: &'a Monitor,
    record: bool,
    events: Vec<Event<Op, Ret>>,
    counts: Vec<u64>,
    issued: u64,
}

impl<'a, Op, Ret: Clone> Worker<'a, Op, Ret> {
    fn new(
        thread: usize,
        window: u64,
        settings: &Settings,
        clock: Clock,
        monitor: &'a Monitor,
        kinds: usize,
    ) -> Self {
        Self {
            thread,
            window,
            rng: Rng::new(settings.seed, window << 16 | thread as u64),
            clock,
            monitor,
            record: settings.history,
            events: Vec::new(),
            counts: vec![0; kinds],
            issued: 0,
        }
    }

    /// Runs `f`, which performs `op` (of kind `kind`, an index into [`Target::KINDS`]) on the
    /// structure, and returns what it returned; with `--history`, records the call.
    pub(crate) fn call(&mut self, kind: usize, op: Op, f: impl FnOnce() -> Ret) -> Ret {
        let invoke = self.clock.now();
        let ret = self.run(kind, f);
        let response = self.clock.now();
        if self.record {
            self.events.push(Event {
                thread: self.thread,
                op,
                ret: ret.clone(),
                invoke,
                response,
            });
        }
        ret
    }

    /// Runs `f`, an operation of kind `kind` that the specification does not model (such as
    /// `task_done`): counted, not recorded.
    pub(crate) fn run<T>(&mut self, kind: usize, f: impl FnOnce() -> T) -> T {
        let result = f();
        self.monitor.tick(self.thread, kind);
        self.counts[kind] += 1;
        result
    }

    /// Counts `n` operations of kind `kind` that ran on threads the run does not own (an
    /// executor's workers).
    pub(crate) fn add(&mut self, kind: usize, n: u64) {
        self.counts[kind] += n;
    }

    /// The run's clock, for operations recorded on threads the run does not own.
    pub(crate) fn clock(&self) -> Clock {
        self.clock
    }

    /// Whether the run records histories (`--history`).
    pub(crate) fn records(&self) -> bool {
        self.record
    }

    /// A value no other call returns in this run, larger than any this thread had before:
    /// the thread in the top bits, then the window, then a counter.
    pub(crate) fn unique(&mut self) -> u64 {
        self.issued += 1;
        (self.thread as u64) << 48 | self.window << 20 | self.issued
    }

    /// The history this worker recorded so far, leaving it empty.
    pub(crate) fn take_history(&mut self) -> Vec<Event<Op, Ret>> {
        std::mem::take(&mut self.events)
    }
}

/// The thread a value made by [`Worker::unique`] came from.
pub(crate) fn thread_of(unique: u64) -> usize {
    (unique >> 48) as usize
}

/// Runs `target` for `settings.duration` and reports what it found; the target is dropped
/// before this returns.
pub(crate) fn run<T: Target>(name: &str, settings: &Settings, mut target: T) -> Report {
    let started = Instant::now();
    let mut report = Report::new(name);
    let clock = Clock::start();
    let monitor = Monitor::new(settings.threads, T::KINDS);
    let watcher = monitor.watch(name, settings.duration);
    let mut counts = vec![0u64; T::KINDS.len()];
    let mut index = 0;
    while started.elapsed() < settings.duration {
        monitor.sample_memory();
        let target_ref = &target;
        let workers: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..settings.threads)
                .map(|t| {
                    let kinds = T::KINDS.len();
                    let mut worker = Worker::new(t, index, settings, clock, &monitor, kinds);
                    s.spawn(move || (target_ref.work(&mut worker), worker))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut traces = Vec::with_capacity(workers.len());
        let mut history = Vec::new();
        for (trace, mut worker) in workers {
            add(&mut counts, &worker.counts);
            history.append(&mut worker.events);
            traces.push(trace);
        }
        let kinds = T::KINDS.len();
        let mut main = Worker::new(settings.threads, index, settings, clock, &monitor, kinds);
        let before = report.violations.len();
        report.window = Some(index);
        let window = Window {
            index,
            traces,
            history,
        };
        target.check(&mut report, &mut main, window);
        report.window = None;
        add(&mut counts, &main.counts);
        monitor.add_violations(report.violations.len() - before);
        if index == 0 {
            monitor.take_baseline();
        }
        index += 1;
    }
    monitor.stop();
    watcher.join().expect("the monitor thread does not panic");
    for (kind, n) in T::KINDS.iter().zip(counts) {
        report.count(kind, n);
    }
    report.windows = index;
    if let Some(memory) = monitor.memory() {
        let growth = memory.peak_kib.saturating_sub(memory.baseline_kib);
        report.rss_growth_kib = growth;
        if let Some(limit_mib) = settings.rss_limit_mib {
            report.check(growth <= limit_mib * 1024, || {
                format!(
                    "resident set grew by {} MiB over the run (limit {limit_mib} MiB)",
                    growth / 1024
                )
            });
        }
    }
    drop(target);
    report.finish(started)
}

fn add(total: &mut [u64], more: &[u64]) {
    for (t, m) in total.iter_mut().zip(more) {
        *t += m;
    }
}

/// Checks `history`, which starts from `init`, against `spec`; a violation is reported with
/// the smallest failing window of the history, a check that exceeds [`SEARCH_BUDGET`] as
/// undecided.
pub(crate) fn check_linearizable<S: Spec>(
    report: &mut Report,
    spec: &S,
    init: S::State,
    history: &[Event<S::Op, S::Ret>],
) {
    let verdict = lincheck::check_within(spec, init.clone(), history, SEARCH_BUDGET);
    if matches!(verdict, Ok(false)) {
        report.undecided += 1;
        return;
    }
    report.check(verdict.is_ok(), || {
        let shortest = lincheck::smallest_failing_window_from(spec, &init, history)
            .unwrap_or_else(|| history.to_vec());
        let detail = lincheck::check_from(spec, init, &shortest)
            .err()
            .map_or_else(String::new, |v| v.to_string());
        format!("not linearizable; smallest failing window:\n{detail}")
    });
}

/// [`check_linearizable`] per part of an object whose parts are independent (the keys of a
/// map): `key` names an operation's part, `init` the state the part starts the window in.
pub(crate) fn check_linearizable_per_key<S: Spec, K: Eq + Hash>(
    report: &mut Report,
    spec: &S,
    history: &[Event<S::Op, S::Ret>],
    key: impl Fn(&S::Op) -> K,
    init: impl Fn(&K) -> S::State,
) {
    for (k, part) in lincheck::partition(history, key) {
        check_linearizable(report, spec, init(&k), &part);
    }
}
