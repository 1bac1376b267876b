//! `Waiter`: one blocked call (`result`, `exception`, `wait`, `as_completed`) and the futures it
//! watches.
//!
//! The call registers the same waiter on every future it watches, each under its own token. A
//! future that completes fires the tokens registered on it and wakes the waiter, so a waiting
//! call sleeps until something it watches finishes or its deadline passes: no polling.
//! Registration and completion both happen under the future's watcher lock, so a completion
//! cannot slip between a check and a registration (see `future.rs`).

use crate::sync::{Condvar, Mutex};
use std::fmt;
use std::time::Instant;

/// A blocked call: see the [module documentation](self).
#[derive(Default)]
pub(super) struct Waiter {
    fired: Mutex<Vec<usize>>,
    wakeup: Condvar,
}

impl Waiter {
    /// Records that the future registered under `token` is done, and wakes the waiting call.
    pub(super) fn fire(&self, token: usize) {
        let mut fired = self
            .fired
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        fired.push(token);
        self.wakeup.notify_one();
    }

    /// The tokens fired since the last call, sleeping until there is at least one or
    /// `deadline` (if any) passes; empty only after the deadline.
    pub(super) fn take_fired(&self, deadline: Option<Instant>) -> Vec<usize> {
        let mut fired = self
            .fired
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        while fired.is_empty() {
            fired = match deadline {
                None => self
                    .wakeup
                    .wait(fired)
                    .unwrap_or_else(|poison| poison.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    self.wakeup
                        .wait_timeout(fired, deadline - now)
                        .unwrap_or_else(|poison| poison.into_inner())
                        .0
                }
            };
        }
        std::mem::take(&mut *fired)
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}
