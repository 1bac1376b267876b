//! Searching waiters: the event count's mode for a pool of interchangeable workers, after the
//! "searching" workers of tokio's scheduler (and Go's spinning Ms).
//!
//! A worker that found nothing at its first look becomes a *searcher*: counted in `searching`
//! while it spins on the processor, and again from the moment it runs after a wake-up until its
//! spin ends. A notifier that sees a searcher wakes nobody: the searcher will look again. So a
//! submission wakes a sleeping worker only when no worker is awake and idle.
//!
//! A searcher is counted only while it holds the processor: not inside a `yield_now` of its
//! spin, nor while its wake-up is on its way. A yield (or a wake-up) may leave the processor to
//! other threads for a whole time slice, and a notifier that counted on such a searcher would
//! leave the work queued for milliseconds while sleepers could take it: measured on a
//! two-worker pool fed a batch of 10 000 tasks, one yield of a counted searcher took 880 µs,
//! 95% of the pushes skipped their wake-up, and the batch took twice as long as with no
//! skipping. So it stops counting before each yield and starts again after it; each stop
//! carries the same duty as the last one (below).
//!
//! Skipping is safe because a searcher always looks once more after it stops being counted:
//! * one whose spin ends without finding anything has stopped counting; it announces itself
//!   and re-checks before it parks;
//! * one that finds something, there or after it stopped, and was *the last searcher* when it
//!   stopped, then looks whether anybody sleeps and anything else is left (`more`), and wakes a
//!   sleeper for it — the hand-over (tokio's "last searcher notifies"). So the workers come up
//!   one after another, each woken by one that found work while more was queued. A sleeper
//!   that a notifier claimed but that found something at its re-check, before it parked, hands
//!   over the same way, whether it was the last searcher or not: the claim may have been meant
//!   for something that is still there.
//!
//! # Why no wake-up is lost
//! A notifier changes the condition, then loads `searching` (`SeqCst`, or `Relaxed` after a
//! `SeqCst` fence), then `waiting` as the plain event count does. If it reads zero, the plain
//! argument holds: it sees the announcement of a searcher that stopped before it, or that
//! searcher's re-check sees the change. If it reads a count, some searcher's stop (a `SeqCst`
//! RMW) comes after that read in modification order, hence after it in the single total order
//! *S* (a read is coherence-ordered before the write it did not see). After its stop the
//! searcher issues a `SeqCst` fence (the announcement's, or the hand-over's) before it looks
//! again, so its look sees the change (C++20 `[atomics.order]` p4; for a notifier that fences
//! instead, the fence-to-fence rule, as the plain protocol argues). If that look takes the
//! change, nothing was skipped; if it takes something else and the change is still there, the
//! searcher was either not the last — and the count it saw belongs to a searcher whose own stop
//! comes later still, so the argument repeats for that one — or the last, and its hand-over
//! sees the change. It loads `waiting` after its fence and before its look: a sleeper it does
//! not count announced after that fence (a load is coherence-ordered before the write it
//! misses, so the fence precedes the announcement's fence in *S*), and that sleeper's re-check
//! sees the change; one it counts is woken when the look sees the change. A yielding round that
//! finds something after the stop is a look like the others: its hand-over still fences first.
//! The increments that start a search need no order of their own: a notifier that reads one
//! only skips, and what makes that safe is the stop after it.
//!
//! # Progress
//! As the plain event count: blocking by design for waiters; a notifier never blocks while a
//! searcher is counted or nobody sleeps.

use super::{spin_busy, spin_yielding, EventCount, Sleeper};
use crate::sync::{fence, Ordering};

impl EventCount {
    /// Returns the first `Some` that `attempt` gives, as a searcher (see the
    /// [module documentation](self)): tries, then spins counted as searching, yields, and sleeps
    /// until a notifier claims it, then spins counted again. `more` says whether anything is
    /// left for another waiter once this one found its own; `hold` is kept alive across the
    /// first attempt and the first spin, as in
    /// [`wait_until_holding`](EventCount::wait_until_holding).
    pub(crate) fn search_holding<R, H>(
        &self,
        hold: impl FnOnce() -> H,
        mut attempt: impl FnMut() -> Option<R>,
        more: impl Fn() -> bool,
    ) -> R {
        let searched = {
            let _held = hold();
            if let Some(done) = attempt() {
                return done;
            }
            self.search(&mut attempt, &more)
        };
        let mut last = match searched {
            Ok(done) => return done,
            Err(last) => last,
        };
        let sleeper = Sleeper::current();
        loop {
            self.announce(&sleeper);
            if let Some(done) = attempt() {
                // Claimed before it slept: the claim may have been meant for something else
                // that is still there, so it is handed over as by the last searcher.
                let claimed = !self.withdraw(&sleeper);
                self.found(last || claimed, &more);
                return done;
            }
            self.sleep(&sleeper, None);
            // Relaxed: nobody else reads it until the next announcement, whose lock
            // publishes it.
            sleeper.woken.store(false, Ordering::Relaxed);
            match self.search(&mut attempt, &more) {
                Ok(done) => return done,
                Err(was_last) => last = was_last,
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

    /// One search: spins counted as searching, then yields, counted only between its yields.
    /// What `attempt` gave, or, if it gave nothing, whether this was the last searcher at one
    /// of its stops (a conservative answer: a later searcher would do).
    fn search<R>(
        &self,
        attempt: &mut impl FnMut() -> Option<R>,
        more: &impl Fn() -> bool,
    ) -> Result<R, bool> {
        self.start_searching();
        if let Some(done) = spin_busy(attempt) {
            self.found(self.stop_searching(), more);
            return Ok(done);
        }
        let mut last = self.stop_searching();
        let yielded = spin_yielding(&mut || {
            self.start_searching();
            let done = attempt();
            last |= self.stop_searching();
            done
        });
        match yielded {
            Some(done) => {
                self.found(last, more);
                Ok(done)
            }
            None => Err(last),
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
    /// searching, somebody sleeps, and anything is left (`more`), a sleeper is woken for it.
    /// The count of sleepers is read before `more`, which may be the dearer look: after the
    /// fence, a sleeper this load misses announced after it, and its own re-check sees
    /// everything the look would (see "Why no wake-up is lost"). The mutant
    /// `search_without_hand_over` skips the hand-over, for the models to catch the worker that
    /// sleeps through a queued job.
    fn found(&self, last: bool, more: &impl Fn() -> bool) {
        if last && !cfg!(concurrency_mutant = "search_without_hand_over") {
            // SeqCst: orders the stop before the loads below; pairs with the fence of a
            // notifier that fences (`notify_one_unless_searching`) and with the one in
            // `announce`.
            fence(Ordering::SeqCst);
            // Relaxed: ordered by the fence above.
            if self.counts.waiting.load(Ordering::Relaxed) != 0 && more() {
                self.wake_one();
            }
        }
    }
}

#[cfg(all(test, loom))]
mod model;
#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
