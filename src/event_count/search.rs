//! Searching waiters: the event count's mode for a pool of interchangeable workers, after the
//! "searching" workers of tokio's scheduler (and Go's spinning Ms).
//!
//! A worker that found nothing at its first look becomes a *searcher*: counted in `searching`
//! while it spins, and again from the moment a notifier claims it asleep until it finds work or
//! gives up. A notifier that sees a searcher wakes nobody: the searcher will look again. So a
//! submission wakes a sleeping worker only when no worker is awake and idle, and a batch pushed
//! while one worker is waking costs one wake-up, not one per item.
//!
//! Skipping is safe because a searcher always looks once more after it stops being counted:
//! * one that gives up stops counting, announces itself and re-checks before it parks;
//! * one that finds something stops counting and, *if it was the last searcher*, looks
//!   whether anything else is left (`more`) and then wakes a sleeper for it — the hand-over
//!   (tokio's "last searcher notifies"). The woken one is counted as searching from its claim
//!   on, so the workers come up one at a time, each woken by the one before once it found
//!   work, and never more than the work needs.
//!
//! # Why no wake-up is lost
//! A notifier changes the condition, then loads `searching` (`SeqCst`, or `Relaxed` after a
//! `SeqCst` fence), then `waiting` as the plain event count does. If it reads zero, the plain
//! argument holds: it sees the announcement of a searcher that stopped before it, or that
//! searcher's re-check sees the change. If it reads a count, some searcher's stop (a `SeqCst`
//! RMW) comes after that read in modification order, hence after it in the single total order
//! *S* (a read is coherence-ordered before the write it did not see). After its stop the
//! searcher issues a `SeqCst` fence (the announcement's, or the hand-over's) before it looks
//! again, so its look sees the change (C++20 `[atomics.order]` p4; for a notifier that
//! fences instead, the fence-to-fence rule, as the plain protocol argues). If that look takes
//! the change, nothing was skipped; if it takes something else and the change is still there,
//! the searcher was either not the last — and the count it saw belongs to a searcher whose own
//! stop comes later still, so the argument repeats for that one — or the last, and its
//! hand-over sees the change and wakes a sleeper (the plain protocol from there: the fence
//! between its look and its load of `waiting`). The increments that start a search need no
//! order of their own: a notifier that reads one only skips, and what makes that safe is the
//! stop after it.
//!
//! # Progress
//! As the plain event count: blocking by design for waiters; a notifier never blocks while a
//! searcher is counted or nobody sleeps.

use super::{spin, EventCount, Sleeper};
use crate::sync::{fence, Ordering};

impl EventCount {
    /// Returns the first `Some` that `attempt` gives, as a searcher (see the
    /// [module documentation](self)): tries, then spins counted as searching, then sleeps until a
    /// notifier claims it, counting as searching again from the claim. `more` says whether
    /// anything is left for another waiter once this one found its own; `hold` is kept alive
    /// across the first attempt and the spin, as in
    /// [`wait_until_holding`](EventCount::wait_until_holding).
    pub(crate) fn search_holding<R, H>(
        &self,
        hold: impl FnOnce() -> H,
        mut attempt: impl FnMut() -> Option<R>,
        more: impl Fn() -> bool,
    ) -> R {
        {
            let _held = hold();
            if let Some(done) = attempt() {
                return done;
            }
            self.start_searching();
            if let Some(done) = spin(&mut attempt) {
                self.found(self.stop_searching(), &more);
                return done;
            }
        }
        let sleeper = Sleeper::current(true);
        loop {
            let mut last = self.stop_searching();
            self.announce(&sleeper);
            if let Some(done) = attempt() {
                if !self.withdraw(&sleeper) {
                    // Claimed before it slept, which counted it as searching again.
                    last |= self.stop_searching();
                }
                self.found(last, &more);
                return done;
            }
            self.sleep(&sleeper, None);
            // Relaxed: nobody else reads it until the next announcement, whose lock
            // publishes it.
            sleeper.woken.store(false, Ordering::Relaxed);
            // Claimed, and counted as searching since.
            if let Some(done) = attempt().or_else(|| spin(&mut attempt)) {
                self.found(self.stop_searching(), &more);
                return done;
            }
        }
    }

    /// Wakes one sleeper unless a searcher is counted; for a condition made true as
    /// [`notify_one_after_seqcst`](EventCount::notify_one_after_seqcst) requires.
    #[inline]
    pub(crate) fn notify_one_unless_searching_after_seqcst(&self) {
        #[cfg(loom)]
        fence(Ordering::SeqCst);
        // SeqCst: ordered after the caller's SeqCst change in the single total order, and
        // before the stop of any searcher it counts (see "Why no wake-up is lost").
        if self.counts.searching.load(Ordering::SeqCst) == 0 {
            // SeqCst: as in `notify_one_after_seqcst`.
            if self.counts.waiting.load(Ordering::SeqCst) != 0 {
                self.wake_one();
            }
        }
    }

    /// Wakes one sleeper unless a searcher is counted; call after making the condition true
    /// (any ordering).
    #[inline]
    pub(crate) fn notify_one_unless_searching(&self) {
        // SeqCst: orders the caller's change before the loads below; pairs with the fences a
        // searcher issues after its stop (the announcement's, the hand-over's).
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        let searching = self.counts.searching.load(Ordering::Relaxed);
        // Relaxed: as above.
        if searching == 0 && self.counts.waiting.load(Ordering::Relaxed) != 0 {
            self.wake_one();
        }
    }

    fn start_searching(&self) {
        // Relaxed: a notifier that reads this increment only skips its wake-up; the stop that
        // follows it in modification order is what orders the skip (see "Why no wake-up is
        // lost").
        self.counts.searching.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops counting this waiter as searching; `true` if it was the last searcher.
    fn stop_searching(&self) -> bool {
        // SeqCst: the stop, after every notifier's load that counted this searcher in the
        // single total order (see "Why no wake-up is lost").
        self.counts.searching.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// The hand-over of a searcher that found what it looked for: if it was the `last` one
    /// searching, and anything is left (`more`), a sleeper is woken for it. The mutant
    /// `search_without_hand_over` skips it, for the loom model to catch the worker that
    /// sleeps through a queued job.
    fn found(&self, last: bool, more: &impl Fn() -> bool) {
        if last && !cfg!(concurrency_mutant = "search_without_hand_over") {
            // SeqCst: orders the stop before the look at what is left; pairs with the fence of
            // a notifier that fences (`notify_one_unless_searching`).
            fence(Ordering::SeqCst);
            if more() {
                self.notify_one();
            }
        }
    }
}

#[cfg(all(test, loom))]
mod model;
#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
