//! What every stress target shares: the run settings, the report, the shared clock for
//! histories, and the seeded generator.

use crate::monitor::peak_rss_kib;
use std::fmt;
use std::time::{Duration, Instant};

/// The settings of one run of one target.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) threads: usize,
    pub(crate) duration: Duration,
    pub(crate) seed: u64,
    /// Record histories in windows and check them for linearizability.
    pub(crate) history: bool,
    /// How much the resident set may grow over the baseline taken after the first window
    /// before the run fails, in MiB; `None`: no bound.
    pub(crate) rss_limit_mib: Option<u64>,
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
    /// History checks that gave up undecided (see `windows::SEARCH_BUDGET`).
    pub(crate) undecided: u64,
    /// The window being checked, named in violations; `None` outside windows.
    pub(crate) window: Option<u64>,
    /// Windows run.
    pub(crate) windows: u64,
    pub(crate) elapsed: Duration,
    /// Peak resident set size of the process, in KiB.
    pub(crate) peak_rss_kib: u64,
    /// Growth of the resident set over the baseline taken after the first window, in KiB.
    pub(crate) rss_growth_kib: u64,
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
            let violation = match self.window {
                Some(window) => format!("window {window}: {}", describe()),
                None => describe(),
            };
            self.violations.push(violation);
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
            "{{\"target\":\"{}\",\"seconds\":{:.3},\"windows\":{},\"ops\":{{{}}},\"checks\":{},\"undecided\":{},\"violations\":[{}],\"peak_rss_kib\":{},\"rss_growth_kib\":{}}}",
            self.target,
            self.elapsed.as_secs_f64(),
            self.windows,
            ops.join(","),
            self.checks,
            self.undecided,
            violations.join(","),
            self.peak_rss_kib,
            self.rss_growth_kib
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        writeln!(
            f,
            "== {} ({:.1} s, {} windows)",
            self.target, secs, self.windows
        )?;
        for (kind, n) in &self.ops {
            writeln!(
                f,
                "   {kind:<12} {n:>12} ops  {:>12.0} ops/s",
                *n as f64 / secs
            )?;
        }
        writeln!(
            f,
            "   checks {} (undecided {})   violations {}   peak RSS {} MiB   RSS growth {} MiB",
            self.checks,
            self.undecided,
            self.violations.len(),
            self.peak_rss_kib / 1024,
            self.rss_growth_kib / 1024
        )?;
        for v in &self.violations {
            writeln!(f, "   VIOLATION: {v}")?;
        }
        Ok(())
    }
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
