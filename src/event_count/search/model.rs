//! loom models of the searching protocol (`cargo test --lib` under `--cfg loom`; `.ci/test`
//! stage `loom`): two workers each wait, as searchers, for one token of the two a producer
//! hands out, notifying after each unless a searcher is counted. A wake-up lost to a skipped
//! notify leaves a worker asleep with a token waiting, which loom reports as a deadlock.
//! Under `--cfg concurrency_mutant="search_without_hand_over"` a searcher that finds a token
//! never wakes a sleeper for the rest: with both workers asleep, the first token's claim
//! counts one as searching, the second token's notify skips, and the other worker sleeps
//! through it (`.ci/test` stage `loom-mutant` reads loom's deadlock report from its output,
//! since loom aborts while it unwinds through the parked threads).

use crate::event_count::tokens::{hand_out, take};
use crate::event_count::EventCount;
use crate::model_support::check;
use crate::sync::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Two searchers, two tokens, the producer's notify `fenced` or after its `SeqCst` change.
fn two_searchers_two_tokens(fenced: bool) {
    let events = Arc::new(EventCount::default());
    let tokens = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (events, tokens) = (Arc::clone(&events), Arc::clone(&tokens));
            thread::spawn(move || {
                events.search_holding(
                    || (),
                    || take(&tokens),
                    // SeqCst: the look of the hand-over, as the notify requires.
                    || tokens.load(Ordering::SeqCst) > 0,
                );
            })
        })
        .collect();
    hand_out(&tokens, 2, || {
        if fenced {
            events.notify_one_unless_searching();
        } else {
            events.notify_one_unless_searching_after_seqcst();
        }
    });
    for worker in workers {
        worker.join().unwrap();
    }
    // SeqCst: read after every thread was joined.
    assert_eq!(tokens.load(Ordering::SeqCst), 0);
    // SeqCst: as above.
    assert_eq!(events.counts.searching.load(Ordering::SeqCst), 0);
}

#[test]
fn searchers_take_every_token_with_the_fast_notify() {
    check("searchers ∥ producer, fast notify", || {
        two_searchers_two_tokens(false)
    });
}

#[test]
fn searchers_take_every_token_with_the_fenced_notify() {
    check("searchers ∥ producer, fenced notify", || {
        two_searchers_two_tokens(true)
    });
}
