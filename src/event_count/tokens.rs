//! The condition the event count's tests and models wait for: a count of tokens.

use crate::sync::{AtomicUsize, Ordering};

/// Takes a token if one is there: a condition made true by a `SeqCst` RMW and re-checked with a
/// `SeqCst` load, as `notify_one_after_seqcst` requires.
pub(super) fn take(tokens: &AtomicUsize) -> Option<()> {
    // SeqCst: the re-check the fast notify pairs with.
    let mut seen = tokens.load(Ordering::SeqCst);
    while seen > 0 {
        // SeqCst: as above; failure re-reads.
        match tokens.compare_exchange(seen, seen - 1, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return Some(()),
            Err(now) => seen = now,
        }
    }
    None
}

/// Hands out `count` tokens, one `SeqCst` change each (as the fast notify requires), calling
/// `notify` after each.
pub(super) fn hand_out(tokens: &AtomicUsize, count: usize, notify: impl Fn()) {
    for _ in 0..count {
        // SeqCst: the change the fast notify pairs with.
        tokens.fetch_add(1, Ordering::SeqCst);
        notify();
    }
}
