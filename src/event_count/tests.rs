use super::tokens::{hand_out, take};
use super::*;
use std::time::Duration;

fn scaled(n: usize) -> usize {
    if cfg!(miri) {
        n / 50 + 2
    } else {
        n
    }
}

/// Every token handed out with one wake-up reaches a waiter: none sleeps through its token,
/// whichever notify the producers use.
fn every_token_reaches_a_waiter(fenced: bool) {
    let (waiters, per_waiter) = (3, scaled(2_000));
    let events = EventCount::default();
    let tokens = AtomicUsize::new(0);
    let notify = || {
        if fenced {
            events.notify_one();
        } else {
            events.notify_one_after_seqcst();
        }
    };
    std::thread::scope(|s| {
        for _ in 0..waiters {
            s.spawn(|| {
                for _ in 0..per_waiter {
                    events.wait_until(None, || take(&tokens)).unwrap();
                }
            });
        }
        for _ in 0..2 {
            s.spawn(|| hand_out(&tokens, waiters * per_waiter / 2, notify));
        }
    });
    assert_eq!(tokens.load(Ordering::SeqCst), 0);
    assert_eq!(
        events.counts.waiting.load(Ordering::SeqCst),
        0,
        "a sleeper left on the count"
    );
}

#[test]
fn every_token_reaches_a_waiter_with_the_fast_notify() {
    every_token_reaches_a_waiter(false);
}

#[test]
fn every_token_reaches_a_waiter_with_the_fenced_notify() {
    every_token_reaches_a_waiter(true);
}

#[test]
fn a_deadline_ends_the_wait_and_withdraws_the_sleeper() {
    let events = EventCount::default();
    let start = Instant::now();
    let got: Option<()> = events.wait_until(Some(start + Duration::from_millis(20)), || None);
    assert_eq!(got, None);
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(events.counts.waiting.load(Ordering::SeqCst), 0);
    assert!(events.lock().is_empty());
}

#[test]
fn notify_all_wakes_every_sleeper() {
    let events = EventCount::default();
    let open = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                // SeqCst: the re-check the notify pairs with.
                events.wait_until(None, || (open.load(Ordering::SeqCst) == 1).then_some(()))
            });
        }
        while events.counts.waiting.load(Ordering::SeqCst) < 4 {
            std::thread::yield_now();
        }
        // SeqCst: the change, ordered before `notify_all`'s fence.
        open.store(1, Ordering::SeqCst);
        events.notify_all();
    });
    assert_eq!(events.counts.waiting.load(Ordering::SeqCst), 0);
}

/// A sleeper that was claimed, but found its condition true before it parked, passes the
/// wake-up on. The first waiter's re-check takes a token that arrived without a notification
/// (pushed before anyone announced), while the one notification, for the second token, claims
/// the first waiter, the oldest. Unless it passes the claim on, the second waiter sleeps with a
/// token waiting for it, and times out.
#[test]
fn a_claim_that_was_not_needed_is_passed_on() {
    let events = EventCount::default();
    let tokens = AtomicUsize::new(0);
    let (announced, go) = (AtomicBool::new(false), AtomicBool::new(false));
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            events.wait_until(None, || {
                // SeqCst: a test handshake. Before its announcement (the first try and the
                // spin) the waiter finds nothing; its re-check is the first call after it.
                if events.counts.waiting.load(Ordering::SeqCst) == 0 {
                    return None;
                }
                // SeqCst: a test handshake.
                announced.store(true, Ordering::SeqCst);
                // SeqCst: as above.
                while !go.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                take(&tokens)
            })
        });
        // SeqCst: as above.
        while !announced.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let second = s.spawn(|| {
            events.wait_until(Some(Instant::now() + Duration::from_secs(10)), || {
                take(&tokens)
            })
        });
        while events.counts.waiting.load(Ordering::SeqCst) < 2 {
            std::thread::yield_now();
        }
        // SeqCst: the change the fast notify pairs with.
        tokens.fetch_add(2, Ordering::SeqCst);
        events.notify_one_after_seqcst();
        // SeqCst: as above.
        go.store(true, Ordering::SeqCst);
        assert_eq!(first.join().unwrap(), Some(()));
        assert_eq!(
            second.join().unwrap(),
            Some(()),
            "the second waiter slept through its token"
        );
    });
}
