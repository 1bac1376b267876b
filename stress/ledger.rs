//! Drop accounting: every value a target puts into a structure is a [`Tracked`], counted when
//! made and when dropped, so that the end of a run can check that each was dropped exactly
//! once — none leaked, none dropped twice.

use crate::harness::Report;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the end-of-run check waits for deferred destruction (epoch reclamation frees in
/// batches, at later pins) before it calls the values still alive leaked.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// Counts the [`Tracked`] values of one run.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    made: AtomicU64,
    dropped: AtomicU64,
}

/// A value whose drop is counted in its run's [`Ledger`]; a clone is a new value, counted too.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) value: u64,
    ledger: Arc<Ledger>,
}

impl Ledger {
    /// A ledger for one run, shared with its values: a reclaimer may drop them after the
    /// structure that held them.
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Makes a tracked `value`.
    pub(crate) fn track(self: &Arc<Self>, value: u64) -> Tracked {
        // Relaxed: a count, read at the end after the workers are joined.
        self.made.fetch_add(1, Relaxed);
        Tracked {
            value,
            ledger: Arc::clone(self),
        }
    }

    /// Checks, once every structure holding tracked values is dropped, that each value made was
    /// dropped exactly once; waits up to [`SETTLE_LIMIT`] for deferred destruction, pinning and
    /// flushing the epoch collector to move it along.
    pub(crate) fn settle(&self, report: &mut Report) {
        self.settle_within(report, SETTLE_LIMIT);
    }

    fn settle_within(&self, report: &mut Report, limit: Duration) {
        let started = Instant::now();
        // Relaxed loads: the counts only move towards balance; the final comparison is made
        // after the deadline or once they balance, and a stale read only delays it.
        while self.dropped.load(Relaxed) != self.made.load(Relaxed) && started.elapsed() < limit {
            crossbeam_epoch::pin().flush();
            std::thread::sleep(Duration::from_millis(1));
        }
        let (made, dropped) = (self.made.load(Relaxed), self.dropped.load(Relaxed));
        report.check(made == dropped, || {
            format!(
                "{made} values made, {dropped} dropped after {limit:?}: {}",
                if dropped < made {
                    "leaked"
                } else {
                    "dropped twice"
                }
            )
        });
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        self.ledger.track(self.value)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Relaxed: see `track`.
        self.ledger.dropped.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_never_dropped_is_reported() {
        let ledger = Ledger::new();
        drop(ledger.track(1));
        let mut report = Report::new("ledger");
        ledger.settle_within(&mut report, Duration::ZERO);
        assert!(report.violations.is_empty(), "{report}");
        std::mem::forget(ledger.track(2));
        ledger.settle_within(&mut report, Duration::from_millis(10));
        assert_eq!(report.violations.len(), 1, "{report}");
        assert!(report.violations[0].contains("leaked"), "{report}");
    }
}
