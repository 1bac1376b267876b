//! The thread that watches a run: it fails the run on a stall (a deadlock) and shows
//! progress — a live bar on a terminal, plain periodic lines otherwise. The monitor also keeps
//! what the run loop samples of the resident set size.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a run may go without any thread finishing an operation before it counts as a
/// deadlock.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(10);

/// How often the monitor wakes.
const PERIOD: Duration = Duration::from_millis(100);

/// How often the plain (non-terminal) progress line is printed.
const LINE_PERIOD: Duration = Duration::from_secs(5);

/// What the monitor saw of the process's memory, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    /// Resident set size when the baseline was taken (after the first window).
    pub(crate) baseline_kib: u64,
    /// The largest resident set size sampled after the baseline (at the start of each window,
    /// when the structure holds its working set and the checker's memory of the last window is
    /// freed).
    pub(crate) peak_kib: u64,
}

/// Shared between the workers, the run loop and the monitor thread.
#[derive(Debug)]
pub(crate) struct Monitor {
    /// Operations finished by all threads.
    progress: AtomicU64,
    /// Per thread, the kind of its last finished operation (an index into `kinds`, plus one).
    last_op: Vec<AtomicU64>,
    kinds: &'static [&'static str],
    violations: AtomicU64,
    done: AtomicBool,
    memory: Mutex<Option<Memory>>,
}

impl Monitor {
    /// A monitor for `threads` worker threads (the run loop, which also runs operations between
    /// windows, is thread `threads`) running operations of the given kinds.
    pub(crate) fn new(threads: usize, kinds: &'static [&'static str]) -> Arc<Self> {
        Arc::new(Self {
            progress: AtomicU64::new(0),
            last_op: (0..=threads).map(|_| AtomicU64::new(0)).collect(),
            kinds,
            violations: AtomicU64::new(0),
            done: AtomicBool::new(false),
            memory: Mutex::new(None),
        })
    }

    /// Records that `thread` finished an operation of kind `kind`.
    pub(crate) fn tick(&self, thread: usize, kind: usize) {
        // Relaxed, both: diagnostics read by the monitor thread, which orders nothing by them.
        self.last_op[thread].store(kind as u64 + 1, Relaxed);
        self.progress.fetch_add(1, Relaxed);
    }

    /// Shows `n` more violations in the progress output.
    pub(crate) fn add_violations(&self, n: usize) {
        // Relaxed: a displayed count only.
        self.violations.fetch_add(n as u64, Relaxed);
    }

    /// Takes the memory baseline now (the run loop calls it after the first window, when the
    /// structures and buffers have reached their working size).
    pub(crate) fn take_baseline(&self) {
        let now = rss_kib();
        let mut memory = self.memory.lock().unwrap();
        memory.get_or_insert(Memory {
            baseline_kib: now,
            peak_kib: now,
        });
    }

    /// What the monitor saw of memory; `None` before the baseline.
    pub(crate) fn memory(&self) -> Option<Memory> {
        *self.memory.lock().unwrap()
    }

    /// Samples the resident set size (after the baseline).
    pub(crate) fn sample_memory(&self) {
        if let Some(memory) = self.memory.lock().unwrap().as_mut() {
            memory.peak_kib = memory.peak_kib.max(rss_kib());
        }
    }

    fn describe(&self, code: u64) -> &'static str {
        match code {
            0 => "nothing yet",
            code => self.kinds.get(code as usize - 1).copied().unwrap_or("?"),
        }
    }

    /// Starts the monitor thread for a run of `target` lasting `duration`; it runs until
    /// [`stop`](Self::stop) and exits the process with status 3 on a stall.
    pub(crate) fn watch(self: &Arc<Self>, target: &str, duration: Duration) -> JoinHandle<()> {
        let monitor = Arc::clone(self);
        let target = target.to_owned();
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut display = Display::new(&target, duration);
            let mut last = (monitor.progress.load(Relaxed), Instant::now());
            while !monitor.done.load(Relaxed) {
                std::thread::sleep(PERIOD);
                let now = monitor.progress.load(Relaxed);
                display.show(started.elapsed(), now, monitor.violations.load(Relaxed));
                if now != last.0 {
                    last = (now, Instant::now());
                } else if last.1.elapsed() >= STALL_LIMIT && !monitor.done.load(Relaxed) {
                    display.finish();
                    eprintln!("DEADLOCK: {target}: no progress for {STALL_LIMIT:?}");
                    for (t, op) in monitor.last_op.iter().enumerate() {
                        let code = op.load(Relaxed);
                        eprintln!("  thread {t}: last finished {}", monitor.describe(code));
                    }
                    std::process::exit(3);
                }
            }
            display.finish();
        })
    }

    /// Stops the monitor thread.
    pub(crate) fn stop(&self) {
        // Relaxed: the run loop joins the monitor thread after this, which orders the rest.
        self.done.store(true, Relaxed);
    }
}

/// Progress output: a bar on a terminal, a line every [`LINE_PERIOD`] otherwise.
enum Display {
    Bar(ProgressBar),
    Lines { target: String, last: Instant },
}

impl Display {
    fn new(target: &str, duration: Duration) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::Lines {
                target: target.to_owned(),
                last: Instant::now(),
            };
        }
        let bar = ProgressBar::new(duration.as_millis().max(1) as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:30}] {elapsed:>4} / {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(target.to_owned());
        Self::Bar(bar)
    }

    fn show(&mut self, elapsed: Duration, ops: u64, violations: u64) {
        let rate = ops as f64 / elapsed.as_secs_f64().max(1e-9);
        match self {
            Self::Bar(bar) => {
                bar.set_position(elapsed.as_millis() as u64);
                bar.set_message(format!(
                    "{ops} ops, {:.2} M ops/s, {violations} violations",
                    rate / 1e6
                ));
            }
            Self::Lines { target, last } => {
                if last.elapsed() >= LINE_PERIOD {
                    *last = Instant::now();
                    eprintln!(
                        "  {target}: {:.0} s, {ops} ops, {:.2} M ops/s, {violations} violations",
                        elapsed.as_secs_f64(),
                        rate / 1e6
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// A line of `/proc/self/status`, in KiB; 0 where unavailable.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The resident set size of this process now, in KiB.
pub(crate) fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// The peak resident set size of this process so far, in KiB.
pub(crate) fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}
