//! What every stress target shares: the run settings, the report, the shared clock for
//! histories, the seeded generator, and the watchdog that fails a run whose progress stops.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a run may go without any thread finishing an operation before it counts as a
/// deadlock.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(10);

/// The settings of one run of one target.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) threads: usize,
    pub(crate) duration: Duration,
    pub(crate) seed: u64,
    /// Record histories in windows and check them for linearizability.
    pub(crate) history: bool,
}

/// What a run found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) target: String,
    /// Operations done, per kind.
    pub(crate) ops: Vec<(&'static str, u64)>,
    /// Checks that ran (windows checked, counts compared, …).
    pub(crate) checks: u64,
    pub(crate) violations: Vec<String>,
    pub(crate) elapsed: Duration,
    /// Peak resident set size of the process, in KiB.
    pub(crate) peak_rss_kib: u64,
}

impl Report {
    pub(crate) fn new(target: &str) -> Self {
        Self {
            target: target.to_owned(),
            ..Self::default()
        }
    }

    /// Adds `n` operations of kind `kind`.
    pub(crate) fn count(&mut self, kind: &'static str, n: u64) {
        match self.ops.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => self.ops.push((kind, n)),
        }
    }

    /// Records a check and, if `ok` is false, the violation `describe()` explains.
    pub(crate) fn check(&mut self, ok: bool, describe: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            self.violations.push(describe());
        }
    }

    pub(crate) fn finish(mut self, started: Instant) -> Self {
        self.elapsed = started.elapsed();
        self.peak_rss_kib = peak_rss_kib();
        self
    }

    /// The report as one JSON object (hand-written: no string here needs escaping beyond
    /// quotes and backslashes).
    pub(crate) fn json(&self) -> String {
        let ops: Vec<String> = self
            .ops
            .iter()
            .map(|(kind, n)| format!("\"{kind}\":{n}"))
            .collect();
        let violations: Vec<String> = self
            .violations
            .iter()
            .map(|v| {
                format!(
                    "\"{}\"",
                    v.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n")
                )
            })
            .collect();
        format!(
            "{{\"target\":\"{}\",\"seconds\":{:.3},\"ops\":{{{}}},\"checks\":{},\"violations\":[{}],\"peak_rss_kib\":{}}}",
            self.target,
            self.elapsed.as_secs_f64(),
            ops.join(","),
            self.checks,
            violations.join(","),
            self.peak_rss_kib
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        writeln!(f, "== {} ({:.1} s)", self.target, secs)?;
        for (kind, n) in &self.ops {
            writeln!(
                f,
                "   {kind:<12} {n:>12} ops  {:>12.0} ops/s",
                *n as f64 / secs
            )?;
        }
        writeln!(
            f,
            "   checks {}   violations {}   peak RSS {} MiB",
            self.checks,
            self.violations.len(),
            self.peak_rss_kib / 1024
        )?;
        for v in &self.violations {
            writeln!(f, "   VIOLATION: {v}")?;
        }
        Ok(())
    }
}

/// The peak resident set size of this process (`VmHWM` in `/proc/self/status`), in KiB; 0 where
/// unavailable.
pub(crate) fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A shared monotonic clock for histories: nanoseconds since the run started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn start() -> Self {
        Self(Instant::now())
    }

    pub(crate) fn now(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// SplitMix64: a small seeded generator, one per thread.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Self(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Counts finished operations; a watchdog thread fails the run if the count stops moving for
/// [`STALL_LIMIT`], printing what every thread did last.
#[derive(Debug)]
pub(crate) struct Watchdog {
    progress: AtomicU64,
    /// Per thread, a short code of its last operation (see `describe`).
    last_op: Vec<AtomicU64>,
    done: AtomicBool,
}

impl Watchdog {
    pub(crate) fn new(threads: usize) -> Arc<Self> {
        Arc::new(Self {
            progress: AtomicU64::new(0),
            last_op: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            done: AtomicBool::new(false),
        })
    }

    /// Records that `thread` finished an operation with code `op`.
    pub(crate) fn tick(&self, thread: usize, op: u64) {
        // Relaxed, both: diagnostics read by the watchdog, which orders nothing by them.
        self.last_op[thread].store(op, Relaxed);
        self.progress.fetch_add(1, Relaxed);
    }

    /// Watches until [`stop`](Self::stop); exits the process with status 3 on a stall.
    pub(crate) fn watch(self: &Arc<Self>, target: &'static str, describe: fn(u64) -> String) {
        let dog = Arc::clone(self);
        std::thread::spawn(move || {
            let mut last = (dog.progress.load(Relaxed), Instant::now());
            while !dog.done.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let now = dog.progress.load(Relaxed);
                if now != last.0 {
                    last = (now, Instant::now());
                } else if last.1.elapsed() >= STALL_LIMIT && !dog.done.load(Relaxed) {
                    eprintln!("DEADLOCK: {target}: no progress for {STALL_LIMIT:?}");
                    for (t, op) in dog.last_op.iter().enumerate() {
                        eprintln!("  thread {t}: last finished {}", describe(op.load(Relaxed)));
                    }
                    std::process::exit(3);
                }
            }
        });
    }

    pub(crate) fn stop(&self) {
        self.done.store(true, Relaxed);
    }
}
