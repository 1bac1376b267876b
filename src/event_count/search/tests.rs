use super::*;
use crate::event_count::tokens::{hand_out, take};
use crate::sync::{AtomicBool, AtomicUsize};
use std::time::Duration;

/// Searchers on a steady stream: every token reaches one, and nothing is left counted.
fn every_token_reaches_a_searcher(fenced: bool) {
    let (workers, per_worker) = (3, if cfg!(miri) { 40 } else { 2_000 });
    let events = EventCount::default();
    let tokens = AtomicUsize::new(0);
    // SeqCst: the hand-over's look, as the fast notify requires.
    let more = || tokens.load(Ordering::SeqCst) > 0;
    let notify = || {
        if fenced {
            events.notify_one_unless_searching();
        } else {
            events.notify_one_unless_searching_after_seqcst();
        }
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                for _ in 0..per_worker {
                    events.search_holding(|| (), || take(&tokens), more);
                }
            });
        }
        for _ in 0..2 {
            s.spawn(|| hand_out(&tokens, workers * per_worker / 2, notify));
        }
    });
    // SeqCst: read after the scope joined every thread.
    assert_eq!(tokens.load(Ordering::SeqCst), 0);
    // SeqCst: as above.
    assert_eq!(events.counts.searching.load(Ordering::SeqCst), 0);
    // SeqCst: as above.
    assert_eq!(events.counts.waiting.load(Ordering::SeqCst), 0);
}

#[test]
fn every_token_reaches_a_searcher_with_the_fast_notify() {
    every_token_reaches_a_searcher(false);
}

#[test]
fn every_token_reaches_a_searcher_with_the_fenced_notify() {
    every_token_reaches_a_searcher(true);
}

/// Waits until `events` counts `sleepers` announced sleepers.
fn wait_for_sleepers(events: &EventCount, sleepers: usize) {
    // SeqCst: a test handshake.
    while events.counts.waiting.load(Ordering::SeqCst) < sleepers {
        std::thread::yield_now();
    }
}

/// While a searcher is counted a notify wakes nobody; the searcher's hand-over then wakes the
/// sleeper for what it left. Before the searching protocol the first notify claimed the
/// sleeper at once.
#[test]
fn a_notify_wakes_nobody_while_a_searcher_is_counted() {
    let events = EventCount::default();
    let tokens = AtomicUsize::new(0);
    // SeqCst: the hand-over's look.
    let more = || tokens.load(Ordering::SeqCst) > 0;
    let rechecked = AtomicBool::new(false);
    // The sleeper's attempts; the one made while it is announced is its re-check, after which
    // it parks unless claimed.
    let attempt = || {
        let taken = take(&tokens);
        // SeqCst: a test handshake.
        if taken.is_none() && events.counts.waiting.load(Ordering::SeqCst) == 1 {
            // SeqCst: as above.
            rechecked.store(true, Ordering::SeqCst);
        }
        taken
    };
    std::thread::scope(|s| {
        let sleeper = s.spawn(|| events.search_holding(|| (), attempt, more));
        // SeqCst: as above.
        while !rechecked.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // This thread plays a worker that is spinning.
        events.start_searching();
        hand_out(&tokens, 2, || {
            events.notify_one_unless_searching_after_seqcst()
        });
        std::thread::sleep(Duration::from_millis(20));
        // SeqCst: a test handshake.
        assert_eq!(
            events.counts.waiting.load(Ordering::SeqCst),
            1,
            "a sleeper was woken"
        );
        // The spinner finds its token and, the last searcher, hands the other over.
        assert_eq!(take(&tokens), Some(()));
        events.found(events.stop_searching(), &more);
        sleeper.join().unwrap();
    });
    // SeqCst: read after the scope joined the sleeper.
    assert_eq!(tokens.load(Ordering::SeqCst), 0);
    // SeqCst: as above.
    assert_eq!(events.counts.searching.load(Ordering::SeqCst), 0);
}

/// Two sleepers, two tokens: the first notify's claim counts its sleeper as searching before it
/// runs, so the second notify usually skips, and the woken one's hand-over must wake the other.
#[test]
fn sleepers_woken_one_by_one_each_get_a_token() {
    let events = EventCount::default();
    let tokens = AtomicUsize::new(0);
    // SeqCst: the hand-over's look.
    let more = || tokens.load(Ordering::SeqCst) > 0;
    std::thread::scope(|s| {
        let sleepers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| events.search_holding(|| (), || take(&tokens), more)))
            .collect();
        wait_for_sleepers(&events, 2);
        hand_out(&tokens, 2, || {
            events.notify_one_unless_searching_after_seqcst()
        });
        for sleeper in sleepers {
            sleeper.join().unwrap();
        }
    });
    // SeqCst: read after the scope joined the sleepers.
    assert_eq!(tokens.load(Ordering::SeqCst), 0);
    // SeqCst: as above.
    assert_eq!(events.counts.searching.load(Ordering::SeqCst), 0);
}
