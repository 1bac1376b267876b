//! Completing a FIFO queue witness into one for a *bounded* FIFO queue: where may the refused
//! pushes go?
//!
//! `queue_check.rs` decides the accepted pushes and the pops of a bounded queue's history as
//! an unbounded FIFO queue and returns a witness order. A refused push (the queue was full)
//! changes nothing, so it can join that order at any position where (a) the queue holds `bound`
//! values and (b) real time allows it: no operation placed before it was invoked after it
//! responded, and none placed after it responded before it was invoked. Both conditions of (b)
//! are monotone along the order — the largest invocation time of a prefix and the smallest
//! response time of a suffix only grow — so the positions real time allows form an interval,
//! and each refused push takes the first full position in its interval. Two refused pushes one
//! of which precedes the other get positions in that order (the later one's interval starts no
//! earlier), and refused pushes at one position go in invocation order.
//!
//! This is sound, not complete: the result is checked by replaying it on the bounded queue
//! (respecting real time), and a witness is only accepted if that replay succeeds. When no
//! full position fits, another linearization of the accepted operations might still have one;
//! the caller then falls back to the general search.

use crate::lincheck::Spec;
use crate::queue::QueueOp;
use crate::queue_check::QueueEvent;
use crate::std_queue::BoundedFifo;

/// The most values the queue holds along `order`, a linearization of `history`.
pub(crate) fn longest(history: &[QueueEvent], order: &[usize]) -> usize {
    held_after_each(history, order)
        .into_iter()
        .max()
        .unwrap_or(0)
}

/// `held[k]`: the values in the queue after the first `k` operations of `order`.
fn held_after_each(history: &[QueueEvent], order: &[usize]) -> Vec<usize> {
    let mut held = Vec::with_capacity(order.len() + 1);
    let mut now = 0usize;
    held.push(now);
    for &i in order {
        match (&history[i].op, history[i].ret) {
            (QueueOp::Push(_), _) => now += 1,
            (QueueOp::Pop, Some(_)) => now = now.saturating_sub(1),
            (QueueOp::Pop, None) => {}
        }
        held.push(now);
    }
    held
}

/// A linearization of all of `history` against a FIFO queue of `bound` values, built from
/// `order` (a FIFO linearization of `accepted`, the history without its refused pushes, whose
/// indices `accepted_at` maps back to `history`) by placing the refused pushes, and checked;
/// `None` if the placement fails. Indices are into `history`.
pub(crate) fn place_refusals(
    history: &[QueueEvent],
    accepted: &[QueueEvent],
    accepted_at: &[usize],
    order: &[usize],
    bound: usize,
) -> Option<Vec<usize>> {
    let held = held_after_each(accepted, order);
    let n = order.len();
    // max_invoke[k]: the latest invocation among the first k; min_response[k]: the earliest
    // response among those from k on.
    let mut max_invoke = vec![0u64; n + 1];
    for k in 0..n {
        max_invoke[k + 1] = max_invoke[k].max(accepted[order[k]].invoke);
    }
    let mut min_response = vec![u64::MAX; n + 1];
    for k in (0..n).rev() {
        min_response[k] = min_response[k + 1].min(accepted[order[k]].response);
    }
    let mut refused: Vec<usize> = (0..history.len())
        .filter(|&i| matches!(history[i].op, QueueOp::Push(_)) && history[i].ret.is_some())
        .collect();
    refused.sort_by_key(|&i| history[i].invoke);
    // (position, refused index), in the order they are merged in.
    let mut placed = Vec::with_capacity(refused.len());
    for r in refused {
        let event = &history[r];
        let first = min_response.partition_point(|&response| response < event.invoke);
        let position = (first..=n)
            .take_while(|&k| max_invoke[k] <= event.response)
            .find(|&k| held[k] == bound)?;
        placed.push((position, r));
    }
    placed.sort_by_key(|&(position, r)| (position, history[r].invoke));
    let mut merged = Vec::with_capacity(history.len());
    let mut next = placed.into_iter().peekable();
    for k in 0..=n {
        while let Some(&(_, r)) = next.peek().filter(|&&(position, _)| position == k) {
            merged.push(r);
            next.next();
        }
        if k < n {
            merged.push(accepted_at[order[k]]);
        }
    }
    replays(history, &merged, bound).then_some(merged)
}

/// Whether `order` respects real time and replays on [`BoundedFifo`] of `bound` values with
/// every operation returning what `history` recorded.
fn replays(history: &[QueueEvent], order: &[usize], bound: usize) -> bool {
    let spec = BoundedFifo { bound };
    let mut state = spec.init();
    let mut latest_invoke = 0;
    for &i in order {
        let event = &history[i];
        if event.response < latest_invoke {
            return false;
        }
        latest_invoke = latest_invoke.max(event.invoke);
        let (after, ret) = spec.step(&state, &event.op);
        if ret != event.ret {
            return false;
        }
        state = after;
    }
    order.len() == history.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Rng;
    use crate::lincheck::{self, Event, Spec};
    use crate::queue_check;
    use crate::queue_check::tests::{mutate, simulate};

    /// This checker's verdict: `Some(true)` accepted with a witness, `None` left to the
    /// general search.
    fn decide(history: &[QueueEvent], bound: usize) -> Option<bool> {
        let accepted_at: Vec<usize> = (0..history.len())
            .filter(|&i| !(matches!(history[i].op, QueueOp::Push(_)) && history[i].ret.is_some()))
            .collect();
        let accepted: Vec<QueueEvent> = accepted_at.iter().map(|&i| history[i].clone()).collect();
        let order = queue_check::check(&accepted).ok()?;
        (longest(&accepted, &order) <= bound
            && place_refusals(history, &accepted, &accepted_at, &order, bound).is_some())
        .then_some(true)
    }

    fn put(thread: usize, v: u64, accepted: bool, invoke: u64, response: u64) -> QueueEvent {
        Event::at(
            thread,
            QueueOp::Push(v),
            (!accepted).then_some(v),
            invoke,
            response,
        )
    }

    /// Bound 1: 1 is put, a put of 2 is refused while 1 is in, then 1 is got.
    fn refused_while_full() -> [QueueEvent; 3] {
        [
            put(0, 1, true, 0, 1),
            put(1, 2, false, 2, 3),
            Event::at(0, QueueOp::Pop, Some(1), 4, 5),
        ]
    }

    #[test]
    fn a_refusal_goes_where_the_queue_is_full() {
        assert_eq!(decide(&refused_while_full(), 1), Some(true));
        // The refusal after the get, with the queue empty again: no full point fits.
        let history = [
            put(0, 1, true, 0, 1),
            Event::at(0, QueueOp::Pop, Some(1), 2, 3),
            put(1, 2, false, 4, 5),
        ];
        assert_eq!(decide(&history, 1), None);
        assert!(lincheck::check(&BoundedFifo { bound: 1 }, &history).is_err());
    }

    #[test]
    fn a_replay_rejects_wrong_returns_and_real_time() {
        let history = refused_while_full();
        assert!(replays(&history, &[0, 1, 2], 1));
        // With room for 2, its put is not refused.
        assert!(!replays(&history, &[0, 1, 2], 2));
        // An order that leaves an operation out.
        assert!(!replays(&history, &[0, 1], 1));
        // Two values put, then the younger one got first.
        let history = [
            put(0, 1, true, 0, 1),
            put(0, 2, true, 2, 3),
            Event::at(1, QueueOp::Pop, Some(2), 4, 5),
        ];
        assert!(!replays(&history, &[0, 1, 2], 2));
        // The two puts replay in either order, but the second began after the first ended.
        assert!(replays(&history[..2], &[0, 1], 2));
        assert!(!replays(&history[..2], &[1, 0], 2));
    }

    /// On random histories of a bounded queue (some changed so that they may not be
    /// linearizable), whatever this checker accepts the general search accepts too, and it
    /// decides most linearizable ones itself.
    #[test]
    fn what_it_accepts_the_general_search_accepts() {
        let mut rng = Rng::new(48, 0);
        let (mut decided, mut linearizable) = (0, 0);
        for round in 0..10_000 {
            let bound = 1 + round % 3;
            let spec = BoundedFifo { bound };
            let threads = 2 + round % 3;
            let ops = 2 + (rng.next() % 9) as usize;
            let push_percent = 50 + rng.next() % 30;
            let mut history = simulate(&spec, &mut rng, threads, ops, push_percent);
            if round % 2 == 1 {
                mutate(&mut rng, &mut history);
            }
            let general = lincheck::check_from(&spec, spec.init(), &history).is_ok();
            let ours = decide(&history, bound);
            assert!(
                ours.is_none() || general,
                "accepted a non-linearizable history: {history:?}"
            );
            linearizable += usize::from(general);
            decided += usize::from(ours.is_some());
        }
        assert!(
            decided * 10 >= linearizable * 9,
            "decided {decided} of {linearizable}"
        );
    }
}
