//! `EventCount`: threads that sleep until a lock-free condition may have become true, after
//! Vyukov's event count, with notifier-side claiming.
//!
//! A waiter first retries its condition, spinning a little (see [Spinning](#spinning)); when that fails it *announces* itself — its [`Sleeper`] joins the
//! list and `waiting` is incremented — re-checks the condition, and parks. A notifier changes
//! the shared state with its own lock-free operation and then reads `waiting`: while nobody
//! waits that is the whole cost, one load. When somebody waits, the notifier *claims* a sleeper:
//! it takes it off the list and off `waiting` under the list lock, marks it woken, and unparks
//! it after releasing the lock. So the woken thread never blocks on the lock its waker holds,
//! every needed wake-up costs one futex wake, and a push that finds every sleeper already
//! claimed pays nothing (the sleeper does not have to run before `waiting` drops).
//!
//! # Why no wake-up is lost
//! The Dekker pattern between `waiting` and the condition. The waiter announces with a `SeqCst`
//! RMW on `waiting`, issues a `SeqCst` fence, then re-checks. A notifier either
//! * issues a `SeqCst` fence after its change and then loads `waiting` ([`notify_one`],
//!   [`notify_all`]: for any condition), or
//! * made its change with a `SeqCst` read-modify-write (or store) and then does a `SeqCst` load
//!   of `waiting`, no fence ([`notify_one_after_seqcst`]), provided the waiter's re-check reads
//!   the changed location with a `SeqCst` load — or with any load, since the announcement's
//!   fence precedes the re-check (a load after a `SeqCst` fence sees every `SeqCst` change
//!   that precedes the fence in *S*; C++20 `[atomics.order]` p4). C++20 `[atomics.order]`
//!   puts every `SeqCst` operation in one total order *S* consistent with sequenced-before,
//!   and a `SeqCst` load
//!   reads the last modification before it in *S* (or a later one). If the announcement
//!   precedes the notifier's change in *S*, it precedes the notifier's load, which sees
//!   `waiting > 0`; otherwise the change precedes the re-check, which sees it. On x86-64 and
//!   AArch64 a `SeqCst` load costs what an `Acquire` load does.
//!
//! loom models `SeqCst` loads and RMWs as `AcqRel` (no single total order), so under `cfg(loom)`
//! `notify_one_after_seqcst` issues the fence of `notify_one`; the fenced protocol is what loom
//! checks, the unfenced one rests on the argument above.
//!
//! A claimed sleeper that finds its condition true *before* it parked may have taken a value
//! that another sleeper's claim was not made for (the claim was for a later change): it passes
//! the wake-up on. A sleeper woken by its claim re-checks before it looks at its deadline, so a
//! notification that reaches a waiter at its timeout is never dropped while the change it
//! announced is still there. A sleeper that times out withdraws itself under the lock; if a
//! notifier claimed it first, it takes that wake-up as its own and re-checks once more.
//!
//! # Spinning
//! Parking and unparking cost microseconds on a virtual machine, so a waiter first re-checks
//! through a few rounds of `spin_loop` (doubling each round) and then a few `yield_now`s, which
//! let a preempted notifier run on an oversubscribed machine: the spin is bounded in
//! instructions (127 `spin_loop`s, a few µs) and adapts in time through the yields, which
//! return at once on an idle core and give the core away on a busy one. Every wait spins
//! before it sleeps, also right after a wake-up that found the condition taken. A budget that
//! shrank after futile spins was measured and dropped: under a steady producer–consumer load a
//! futile spin predicts nothing (the partner is merely being woken), and halving it sent
//! waiters to sleep at once: 0.14 futex calls per item on a 1+1 bounded pipeline of 2 M
//! items, against at most 0.003 with the fixed spin (`docs/ARCHITECTURE.md`, Performance).
//! Under loom the budget is zero.
//!
//! # Progress
//! Blocking by design for waiters; notifiers never block while nobody waits, and otherwise
//! hold the list lock only to take sleepers off it.
//!
//! [`notify_one`]: EventCount::notify_one
//! [`notify_all`]: EventCount::notify_all
//! [`notify_one_after_seqcst`]: EventCount::notify_one_after_seqcst

use crate::sync::{
    fence, park, park_timeout, thread, Arc, AtomicBool, AtomicUsize, CachePadded, Mutex,
    MutexGuard, Ordering,
};
use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

/// Spin rounds of `spin_loop`, each twice as long as the one before.
#[cfg(not(loom))]
const SPIN_ROUNDS: usize = 7;
/// Rounds in all, the ones past [`SPIN_ROUNDS`] yielding the processor.
#[cfg(not(loom))]
const MAX_ROUNDS: usize = SPIN_ROUNDS + 4;

/// One parked (or parking) waiter.
struct Sleeper {
    thread: thread::Thread,
    /// Set, under the list lock, by the notifier that claimed this sleeper.
    woken: AtomicBool,
}

impl Sleeper {
    fn current() -> Arc<Self> {
        Arc::new(Self {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        })
    }
}

/// The counts notifiers read, on one cache line.
#[derive(Default)]
struct Counts {
    /// Announced sleepers that no notifier has claimed yet.
    waiting: AtomicUsize,
    /// Searching waiters (`search.rs`); zero on an event count nobody searches.
    searching: AtomicUsize,
}

/// Sleeping waiters of one condition: see the [module documentation](self).
pub(crate) struct EventCount {
    counts: CachePadded<Counts>,
    sleepers: Mutex<VecDeque<Arc<Sleeper>>>,
}

impl Default for EventCount {
    fn default() -> Self {
        Self {
            counts: CachePadded::new(Counts::default()),
            sleepers: Mutex::new(VecDeque::new()),
        }
    }
}

impl EventCount {
    /// Returns the first `Some` that `attempt` gives, sleeping between tries while it gives
    /// `None`; returns `None` once `deadline` (if any) has passed. `attempt` runs at least once.
    pub(crate) fn wait_until<R>(
        &self,
        deadline: Option<Instant>,
        attempt: impl FnMut() -> Option<R>,
    ) -> Option<R> {
        self.wait_until_holding(deadline, || (), attempt)
    }

    /// [`wait_until`](Self::wait_until), keeping what `hold` returns alive across the first
    /// attempt and the spin, and dropping it before the thread sleeps: a queue's guard, say,
    /// in which each attempt's own guard nests (on epochs a nested pin costs a counter
    /// increment instead of a fence), without a sleeper holding back reclamation.
    pub(crate) fn wait_until_holding<R, H>(
        &self,
        deadline: Option<Instant>,
        hold: impl FnOnce() -> H,
        mut attempt: impl FnMut() -> Option<R>,
    ) -> Option<R> {
        let spun = {
            let _held = hold();
            attempt().or_else(|| spin(&mut attempt))
        };
        spun.or_else(|| self.sleep_until(deadline, attempt))
    }

    /// The sleeping part of [`wait_until`](Self::wait_until), for a caller that already tried
    /// `attempt` and spun: announces at once.
    fn sleep_until<R>(
        &self,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> Option<R>,
    ) -> Option<R> {
        let sleeper = Sleeper::current();
        loop {
            self.announce(&sleeper);
            // The mutant `sleep_without_recheck` skips the re-check, for the loom suite to
            // catch the wake-up it loses.
            let recheck = if cfg!(concurrency_mutant = "sleep_without_recheck") {
                None
            } else {
                attempt()
            };
            if let Some(done) = recheck {
                if !self.withdraw(&sleeper) {
                    // Claimed before it slept: the claim may have been meant for another
                    // change, which another sleeper still needs to hear of.
                    self.notify_one();
                }
                return Some(done);
            }
            let timed_out = !self.sleep(&sleeper, deadline);
            if let Some(done) = attempt() {
                return Some(done);
            }
            if timed_out {
                return None;
            }
            // Woken, but another thread took what the wake-up announced.
            if let Some(done) = spin(&mut attempt) {
                return Some(done);
            }
            // Relaxed: nobody else reads it until the announcement below, whose lock
            // publishes it.
            sleeper.woken.store(false, Ordering::Relaxed);
        }
    }

    /// Puts `sleeper` on the list and counts it as waiting.
    fn announce(&self, sleeper: &Arc<Sleeper>) {
        let mut sleepers = self.lock();
        sleepers.push_back(Arc::clone(sleeper));
        // SeqCst: the announcement, in the single total order with the notifiers' changes and
        // loads of `waiting` (see "Why no wake-up is lost").
        self.counts.waiting.fetch_add(1, Ordering::SeqCst);
        drop(sleepers);
        // SeqCst: orders the announcement before the re-check for notifiers that fence
        // (`notify_one`, `notify_all`); pairs with their fence.
        fence(Ordering::SeqCst);
    }

    /// Takes `sleeper` off the list; `false` if a notifier claimed it first (it is then woken).
    fn withdraw(&self, sleeper: &Arc<Sleeper>) -> bool {
        let mut sleepers = self.lock();
        let Some(at) = sleepers.iter().position(|s| Arc::ptr_eq(s, sleeper)) else {
            return false;
        };
        sleepers.remove(at);
        // Relaxed: under the lock, which orders it with every claim; notifiers' fast-path
        // loads only see a larger count for a moment, which costs them a needless lock.
        self.counts.waiting.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Parks until claimed (`true`) or until `deadline` passes unclaimed (`false`, withdrawn).
    fn sleep(&self, sleeper: &Arc<Sleeper>, deadline: Option<Instant>) -> bool {
        // Acquire: pairs with the Release store of the claiming notifier, so what it changed
        // before claiming is visible to the re-check.
        while !sleeper.woken.load(Ordering::Acquire) {
            match deadline {
                None => park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        // A claim that beat the withdrawal is a wake-up: take it.
                        return !self.withdraw(sleeper);
                    }
                    park_timeout(deadline - now);
                }
            }
        }
        true
    }

    /// Wakes one sleeper, if any. For a condition the caller made true with a `SeqCst`
    /// read-modify-write or store, and that waiters re-check with `SeqCst` loads: then a single
    /// load of `waiting` suffices (see "Why no wake-up is lost").
    #[inline]
    pub(crate) fn notify_one_after_seqcst(&self) {
        #[cfg(loom)]
        fence(Ordering::SeqCst);
        // SeqCst: ordered after the caller's SeqCst change in the single total order (see
        // "Why no wake-up is lost").
        if self.counts.waiting.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
    }

    /// Wakes every sleeper, if any: [`notify_all`](Self::notify_all) for a condition made
    /// true as [`notify_one_after_seqcst`](Self::notify_one_after_seqcst) requires.
    #[inline]
    pub(crate) fn notify_all_after_seqcst(&self) {
        #[cfg(loom)]
        fence(Ordering::SeqCst);
        // SeqCst: as in `notify_one_after_seqcst`.
        if self.counts.waiting.load(Ordering::SeqCst) != 0 {
            self.wake_all();
        }
    }

    /// Wakes one sleeper, if any; call after making the condition true (any ordering).
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.announced() {
            self.wake_one();
        }
    }

    /// Wakes every sleeper; call after making the condition true for all of them.
    #[inline]
    pub(crate) fn notify_all(&self) {
        if self.announced() {
            self.wake_all();
        }
    }

    /// Whether a waiter may be asleep or about to sleep, after the caller's change.
    #[inline]
    fn announced(&self) -> bool {
        // SeqCst: orders the caller's change before the read of `waiting`; pairs with the
        // fence in `announce`.
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        self.counts.waiting.load(Ordering::Relaxed) != 0
    }

    /// Claims the oldest sleeper, if any is left, and unparks it outside the lock.
    #[cold]
    fn wake_one(&self) {
        let mut sleepers = self.lock();
        let Some(sleeper) = sleepers.pop_front() else {
            return;
        };
        self.claim(&sleeper);
        drop(sleepers);
        sleeper.thread.unpark();
    }

    /// Claims every sleeper and unparks them outside the lock.
    #[cold]
    fn wake_all(&self) {
        let mut sleepers = self.lock();
        let claimed = std::mem::take(&mut *sleepers);
        for sleeper in &claimed {
            self.claim(sleeper);
        }
        drop(sleepers);
        for sleeper in claimed {
            sleeper.thread.unpark();
        }
    }

    /// Books the claim of `sleeper`, just taken off the list (the caller holds the lock).
    fn claim(&self, sleeper: &Sleeper) {
        // Relaxed: under the lock, as in `withdraw`.
        self.counts.waiting.fetch_sub(1, Ordering::Relaxed);
        // Release: pairs with the Acquire load in `sleep`.
        sleeper.woken.store(true, Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Sleeper>>> {
        // No user code runs under this lock, so a poisoned one still guards a consistent list.
        self.sleepers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for EventCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a diagnostic snapshot.
        let waiting = self.counts.waiting.load(Ordering::Relaxed);
        // Relaxed: as above.
        let searching = self.counts.searching.load(Ordering::Relaxed);
        f.debug_struct("EventCount")
            .field("waiting", &waiting)
            .field("searching", &searching)
            .finish()
    }
}

mod search;
#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;
#[cfg(all(test, not(shuttle)))]
mod tokens;

/// Retries `attempt` through the spin rounds (see [Spinning](self#spinning)); the first `Some`
/// it gives, or `None` once the rounds are spent.
pub(crate) fn spin<R>(attempt: &mut impl FnMut() -> Option<R>) -> Option<R> {
    spin_busy(attempt).or_else(|| spin_yielding(attempt))
}

/// The rounds of [`spin`] that keep the processor: `spin_loop`s, doubling each round.
#[cfg(not(loom))]
pub(crate) fn spin_busy<R>(attempt: &mut impl FnMut() -> Option<R>) -> Option<R> {
    (0..SPIN_ROUNDS).find_map(|round| {
        for _ in 0..1u32 << round {
            crate::sync::spin_loop();
        }
        attempt()
    })
}

/// The rounds of [`spin`] that yield the processor.
#[cfg(not(loom))]
pub(crate) fn spin_yielding<R>(attempt: &mut impl FnMut() -> Option<R>) -> Option<R> {
    (SPIN_ROUNDS..MAX_ROUNDS).find_map(|_| {
        crate::sync::yield_now();
        attempt()
    })
}

/// Under loom the spin budget is zero: spinning adds interleavings, none that the sleep
/// path does not have already.
#[cfg(loom)]
pub(crate) fn spin_busy<R>(_: &mut impl FnMut() -> Option<R>) -> Option<R> {
    None
}

/// Under loom, as [`spin_busy`]: no rounds.
#[cfg(loom)]
pub(crate) fn spin_yielding<R>(_: &mut impl FnMut() -> Option<R>) -> Option<R> {
    None
}
