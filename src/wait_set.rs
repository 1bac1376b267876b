//! `WaitSet`: threads that sleep until a lock-free condition may have become true.
//!
//! A waiter retries its condition, and only when it fails announces itself, re-checks and
//! sleeps on a condition variable. A notifier changes the shared state with its own lock-free
//! operation and then takes the lock only if somebody announced itself, so the notifier's fast
//! path is one fence and one load: no lock, no syscall while nobody sleeps.
//!
//! # Why no wake-up is lost
//! This is the Dekker pattern between `sleepers` and the condition:
//! * the waiter, holding `lock`, increments `sleepers`, issues a `SeqCst` fence, and re-checks
//!   the condition before it sleeps (the condvar wait releases `lock` atomically);
//! * the notifier makes the condition true, issues a `SeqCst` fence, and reads `sleepers`.
//!
//! The two fences are totally ordered. If the waiter's comes first, the notifier reads
//! `sleepers > 0`, takes `lock` — which it can only get once the waiter sleeps or gave up — and
//! notifies. If the notifier's comes first, the waiter's re-check sees the condition true and
//! does not sleep. A woken waiter always re-checks before it looks at its deadline, so a
//! notification that reaches a waiter at its timeout is never dropped while the item it
//! announced sits in the structure.
//!
//! # Progress
//! Blocking by design for waiters; notifiers never block while nobody sleeps.

use crate::sync::{fence, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};
use std::fmt;
use std::time::Instant;

/// Sleeping waiters of one condition: see the [module documentation](self).
#[derive(Default)]
pub(crate) struct WaitSet {
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wakeup: Condvar,
}

impl WaitSet {
    /// Returns the first `Some` that `attempt` gives, sleeping between tries while it gives
    /// `None`; returns `None` once `deadline` (if any) has passed. `attempt` runs at least once.
    pub(crate) fn wait_until<R>(
        &self,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> Option<R>,
    ) -> Option<R> {
        if let Some(done) = attempt() {
            return Some(done);
        }
        let mut guard = self.lock();
        // Relaxed: the increment is ordered before the re-check by the SeqCst fence below.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let outcome = loop {
            // SeqCst: orders the announcement above before the re-check of the condition; pairs
            // with the fence in `notify_one`/`notify_all` (see "Why no wake-up is lost").
            fence(Ordering::SeqCst);
            if let Some(done) = attempt() {
                break Some(done);
            }
            guard = match deadline {
                None => self.wakeup.wait(guard).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break None;
                    }
                    let (guard, _) = self
                        .wakeup
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(|e| e.into_inner());
                    guard
                }
            };
        };
        // Relaxed: only notifiers read it, and a stale non-zero costs them a needless lock.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        drop(guard);
        outcome
    }

    /// Wakes one sleeper, if any; call after making the condition true.
    pub(crate) fn notify_one(&self) {
        if self.announced() {
            let _guard = self.lock();
            self.wakeup.notify_one();
        }
    }

    /// Wakes every sleeper; call after making the condition true for all of them.
    pub(crate) fn notify_all(&self) {
        if self.announced() {
            let _guard = self.lock();
            self.wakeup.notify_all();
        }
    }

    /// Whether a waiter may be asleep or about to sleep.
    fn announced(&self) -> bool {
        // SeqCst: orders the caller's update of the condition before the read of `sleepers`;
        // pairs with the fence in `wait_until`.
        fence(Ordering::SeqCst);
        // Relaxed: ordered by the fence above.
        self.sleepers.load(Ordering::Relaxed) > 0
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for WaitSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a diagnostic snapshot.
        let sleepers = self.sleepers.load(Ordering::Relaxed);
        f.debug_struct("WaitSet")
            .field("sleepers", &sleepers)
            .finish()
    }
}
