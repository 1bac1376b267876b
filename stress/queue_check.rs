//! A polynomial-time linearizability checker for FIFO queue histories whose values are unique.
//!
//! The general search (`lincheck.rs`) remembers the queue's contents in its configurations,
//! and overlapping pushes multiply them: at 16 threads it gives up on many queue windows.
//! When every push puts in a different value, which the stress makes sure of, the search is not
//! needed. Henzinger, Sezgin and Vafeiadis ("Aspect-oriented linearizability proofs", CONCUR
//! 2013) and Emmi and Enea ("Sound, complete, and tractable linearizability monitoring for
//! concurrent collections", POPL 2018) show that such a history is linearizable unless it
//! contains one of a few bad patterns. This checker follows their idea, not their procedure: it
//! names the simple patterns, and decides the rest by replaying one canonical order, which the
//! argument below shows is the only one worth trying.
//!
//! # The history
//!
//! A complete history of pushes (each of a different value, each returning `None`) and pops
//! (returning `Some(value)` or `None`, the queue found empty), from an empty queue. Operation
//! `a` *precedes* `b` when `a` responded strictly before `b` was invoked; operations that
//! touch at one instant are concurrent, as in the general search. A value is *popped* if some
//! pop returned it, *unpopped* otherwise. `p(v)` is the push of `v`, `q(v)` its pop.
//!
//! # The patterns
//!
//! Each of these makes a history non-linearizable, and each is reported by name:
//!
//! 1. **From nowhere**: a pop returns a value that no push put in.
//! 2. **Twice**: two pops return the same value.
//! 3. **Before its push**: `q(v)` precedes `p(v)`.
//! 4. **Out of order**: `p(a)` precedes `p(b)`, `b` is popped, and `a` is unpopped or `q(b)`
//!    precedes `q(a)`. (`a` is ahead of `b` in the queue, so it must come out first.)
//! 5. **Empty while present**: a pop finds the queue empty although some `p(v)` precedes it
//!    and `v` is unpopped or the pop precedes `q(v)`, so `v` was in the queue throughout.
//!
//! The empty pops need more than pattern 5: the queue can be non-empty throughout a pop's
//! interval with no single value present all along (one value is pushed before the next is
//! taken out). What decides those cases is the replay below, which reports the operation it
//! could not place (**stuck**).
//!
//! # Algorithm
//!
//! Every linearization pushes the values in some *queue order* `σ`, and pops the popped ones in
//! the same order, ahead of the unpopped ones. The checker picks one order and replays it:
//!
//! * **The canonical order.** For a popped value `v`, its *latest push point* is
//!   `F(v) = min(p(v).response, q(v).response, every unpopped u's p(u).response,
//!   F(w) for every popped w such that q(v) precedes q(w))`. `σ` lists the popped values by
//!   `(F(v), q(v).invoke)`, then the unpopped ones by the response of their push.
//! * **The replay.** It linearizes the history one operation at a time, just in time as the
//!   general search does: an operation may go next only if it was invoked no later than the
//!   earliest response among the operations not yet linearized. Of those, it takes the pop of
//!   the value at the queue's head; else, if the queue is empty, an empty pop; else the push of
//!   the next value of `σ`. If none may go next, the history is not linearizable.
//!
//! The patterns cost `O(n log n)` (sorted pushes, prefix maxima, binary search), `F` as much
//! (values by decreasing pop response, a Fenwick tree of minima over pop invocations), and the
//! replay `O(n log n)` (ordered sets of pending responses and of pending empty pops): the
//! whole check is `O(n log n)` for `n` operations, with no budget and no undecided outcome.
//!
//! # Why it is sound
//!
//! A history is accepted only with the replay's order, which is a linearization: each step is
//! a legal step of the sequential queue (a pop takes the head, an empty pop finds nothing, a
//! push appends), and an operation is placed only when no operation still pending responded
//! before it was invoked, so the order respects real time. Each pattern rules out every
//! linearization by the reason given with it.
//!
//! # Why it is complete
//!
//! *The replay is exact for a fixed `σ`.* Suppose some linearization with queue order `σ`
//! continues the replay's prefix. Its next operation is one the replay may place (invoked no
//! later than the earliest pending response). If the head's pop may go next, move it to the
//! front of that continuation: only pushes can come before it there (any pop would need the
//! head first, and the head is present), and they only append behind it, so the continuation
//! stays legal. An empty pop, when the queue is empty, moves to the front the same way: the
//! queue is empty before and after it. Otherwise the continuation's next operation is neither
//! a pop of a value nor an empty pop, so it is the next push of `σ`. Either way the replay
//! keeps a prefix of some linearization, so it fails only if no linearization has order `σ`.
//!
//! *Some linearization has the canonical order.* A linearization can be given points in time,
//! one inside each operation's interval and increasing along the order: `t(x)`, the latest
//! invocation among `x` and the operations before it. An operation may move past others as
//! long as it comes after every operation that responded before it was invoked, and before
//! every operation invoked after it responded. In every linearization, `F(v)` bounds
//! `t(p(v))` from above: `p(v)` comes before its own response, before `q(v)`, before the
//! push of every unpopped value, and before `p(w)` whenever `q(v)` precedes `q(w)` (then `v` is
//! ahead of `w`). Also, if `q(a)` precedes `q(b)`, `F(a) ≤ F(b)` and `q(a).invoke <
//! q(b).invoke`, so `σ` puts `a` first. Take a linearization `L` whose queue order has the
//! fewest inversions against `σ`, and suppose it is not `σ`: then some `a` comes right before
//! `b` in `L`'s queue order while `σ` puts `b` first, so `F(b) ≤ F(a)` and `q(a)` does not
//! precede `q(b)`. (Two unpopped values swap like case A's pushes; an unpopped value is never
//! ahead of a popped one.) In `L`:
//!
//! * **A: `b` is pushed before `a` is popped.** Between `p(a)` and `p(b)` there are only pops
//!   of values ahead of `a`, each invoked before `t(p(b)) ≤ F(b) ≤ F(a) ≤ p(a).response`, so
//!   `p(a)` can move to just after `p(b)`. Between `q(a)` and `q(b)` there are only pushes of
//!   values behind `b`. Place `q(b)` then `q(a)` together among those pushes, after every push
//!   that responded before `q(b)` was invoked and before every push invoked after `q(a)`
//!   responded; such a place exists (a push of the second kind ahead of one of the first would
//!   respond after the other was invoked, against real time), and `q(b)` may come before `q(a)`
//!   as `q(a)` does not precede `q(b)`. If a push `y` were of both kinds, `q(a)` would precede
//!   `y`, which precedes `q(b)`: then `q(a)` would precede `q(b)`.
//! * **B: `a` is popped before `b` is pushed.** Between `q(a)` and `p(b)` the queue is empty and
//!   only empty pops happen; between `p(b)` and `q(b)` only pushes of values behind `b`. Move
//!   `p(a)` to just after `p(b)`: what it passes was invoked before `t(p(b)) ≤ F(a)`. Then place
//!   `q(b)` and `q(a)` among the pushes after `p(b)` as in case A; `q(a)` now passes the empty
//!   pops and `p(b)`, invoked before `t(p(b)) ≤ F(a) ≤ q(a).response`, and `a` is no longer in
//!   the queue during those empty pops.
//!
//! Either way the result is a linearization with one inversion fewer, a contradiction; so `L`
//! has order `σ`, and the replay, exact for `σ`, finds a linearization.
//!
//! The unit tests cross-check this against the general search on random small histories,
//! linearizable by construction and mutated, and against one hand-made history per pattern.

use crate::lincheck::Event;
use crate::queue::QueueOp;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write;

/// A recorded queue operation: a push returns `None`, a pop what it took.
pub(crate) type QueueEvent = Event<QueueOp, Option<u64>>;

/// Why a queue history is not linearizable; the indices are into the checked history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// Pop `pop` returned a value that no push put in.
    FromNowhere { pop: usize },
    /// Pops `first` and `second` returned the same value.
    Twice { first: usize, second: usize },
    /// Pop `pop` responded before `push`, the push of its value, was invoked.
    BeforeItsPush { push: usize, pop: usize },
    /// Push `ahead` responded before push `behind` was invoked, yet `behind`'s value came out
    /// first: `ahead`'s value never did, or only after `behind`'s pop had responded.
    OutOfOrder { ahead: usize, behind: usize },
    /// Pop `pop` found the queue empty, yet the value of `push` was in it throughout.
    EmptyWhilePresent { pop: usize, push: usize },
    /// No operation could be linearized before `overdue` responded, with `queue` (oldest first)
    /// in the queue, in the canonical order (see the module doc).
    Stuck { overdue: usize, queue: Vec<u64> },
}

impl Violation {
    /// The violation with the events it names, from `history`, the checked history.
    pub(crate) fn explain(&self, history: &[QueueEvent]) -> String {
        let (what, events): (&str, Vec<usize>) = match self {
            Violation::FromNowhere { pop } => ("a pop returned a value never pushed", vec![*pop]),
            Violation::Twice { first, second } => {
                ("two pops returned one value", vec![*first, *second])
            }
            Violation::BeforeItsPush { push, pop } => (
                "a pop returned a value before its push was invoked",
                vec![*push, *pop],
            ),
            Violation::OutOfOrder { ahead, behind } => (
                "a value pushed later came out first (FIFO order)",
                vec![*ahead, *behind],
            ),
            Violation::EmptyWhilePresent { pop, push } => (
                "a pop found the queue empty while a value was certainly in it",
                vec![*push, *pop],
            ),
            Violation::Stuck { overdue, queue } => {
                let mut text = format!(
                    "no linearization: nothing can be linearized before this operation \
                     responds, with the queue holding {queue:x?}"
                );
                write!(text, "\n  {}", history[*overdue]).expect("writing to a String");
                return text;
            }
        };
        let mut text = what.to_owned();
        for &i in &events {
            write!(text, "\n  {}", history[i]).expect("writing to a String");
        }
        text
    }
}

/// Checks that `history`, a complete history of a FIFO queue that starts empty, is
/// linearizable; on success returns a linearization, as indices into `history`.
///
/// # Panics
///
/// If two pushes put in the same value, a push returned something (a refused push: leave it
/// out), or an event responds before it is invoked.
pub(crate) fn check(history: &[QueueEvent]) -> Result<Vec<usize>, Violation> {
    let values = Values::collect(history)?;
    values.find_patterns(history)?;
    let order = values.canonical_order(history);
    replay(history, &values, &order)
}

/// The push and the pop (if any) of one value, as indices into the history.
#[derive(Debug, Clone, Copy)]
struct Value {
    push: usize,
    pop: Option<usize>,
}

/// The values of a history, and its empty pops.
struct Values {
    values: Vec<Value>,
    empty_pops: Vec<usize>,
}

impl Values {
    /// Pairs each pop with the push of its value: patterns 1 to 3.
    fn collect(history: &[QueueEvent]) -> Result<Self, Violation> {
        let mut by_value = HashMap::new();
        let mut values = Vec::new();
        for (i, e) in history.iter().enumerate() {
            assert!(
                e.invoke <= e.response,
                "event responds before it is invoked: {e}"
            );
            if let QueueOp::Push(v) = e.op {
                assert!(
                    e.ret.is_none(),
                    "a refused push is not a queue operation: {e}"
                );
                let previous = by_value.insert(v, values.len());
                assert!(previous.is_none(), "value {v:#x} pushed twice");
                values.push(Value { push: i, pop: None });
            }
        }
        let mut empty_pops = Vec::new();
        for (i, e) in history.iter().enumerate() {
            match (&e.op, e.ret) {
                (QueueOp::Pop, None) => empty_pops.push(i),
                (QueueOp::Pop, Some(v)) => {
                    let &id = by_value.get(&v).ok_or(Violation::FromNowhere { pop: i })?;
                    let value = &mut values[id];
                    if let Some(first) = value.pop {
                        return Err(Violation::Twice { first, second: i });
                    }
                    if e.response < history[value.push].invoke {
                        return Err(Violation::BeforeItsPush {
                            push: value.push,
                            pop: i,
                        });
                    }
                    value.pop = Some(i);
                }
                (QueueOp::Push(_), _) => {}
            }
        }
        Ok(Self { values, empty_pops })
    }

    /// Patterns 4 and 5: for the pushes that respond before a given time, the latest
    /// invocation of their values' pops (an unpopped value's counts as never).
    fn find_patterns(&self, history: &[QueueEvent]) -> Result<(), Violation> {
        let pop_invoke = |value: &Value| value.pop.map_or(u64::MAX, |q| history[q].invoke);
        let mut by_push_response: Vec<&Value> = self.values.iter().collect();
        by_push_response.sort_by_key(|value| history[value.push].response);
        // latest[k]: the value with the latest pop invocation among the first k + 1.
        let mut latest: Vec<&Value> = Vec::with_capacity(by_push_response.len());
        for &value in &by_push_response {
            let keep = match latest.last() {
                Some(&best) if pop_invoke(best) >= pop_invoke(value) => best,
                _ => value,
            };
            latest.push(keep);
        }
        // The value pushed before `time` whose pop is invoked last, if any.
        let latest_before = |time: u64| {
            let pushed = by_push_response.partition_point(|v| history[v.push].response < time);
            pushed.checked_sub(1).map(|k| latest[k])
        };
        for behind in &self.values {
            let Some(pop) = behind.pop else { continue };
            if let Some(ahead) = latest_before(history[behind.push].invoke) {
                if pop_invoke(ahead) > history[pop].response {
                    return Err(Violation::OutOfOrder {
                        ahead: ahead.push,
                        behind: behind.push,
                    });
                }
            }
        }
        for &pop in &self.empty_pops {
            if let Some(present) = latest_before(history[pop].invoke) {
                if pop_invoke(present) > history[pop].response {
                    return Err(Violation::EmptyWhilePresent {
                        pop,
                        push: present.push,
                    });
                }
            }
        }
        Ok(())
    }

    /// The queue order `σ` of the module doc, as indices into `values`.
    fn canonical_order(&self, history: &[QueueEvent]) -> Vec<usize> {
        let (popped, unpopped): (Vec<usize>, Vec<usize>) =
            (0..self.values.len()).partition(|&id| self.values[id].pop.is_some());
        let pop_of = |id: usize| &history[self.values[id].pop.expect("a popped value")];
        let push_response = |id: usize| history[self.values[id].push].response;
        let first_unpopped = unpopped.iter().map(|&id| push_response(id)).min();
        // Positions by decreasing pop invocation: "q(w) invoked after t" is a prefix.
        let mut by_pop_invoke = popped.clone();
        by_pop_invoke.sort_by_key(|&id| std::cmp::Reverse(pop_of(id).invoke));
        let mut position = vec![0; self.values.len()];
        for (k, &id) in by_pop_invoke.iter().enumerate() {
            position[id] = k;
        }
        // Every w that q(v) precedes has a later pop response than v, so it is done first.
        let mut by_pop_response = popped.clone();
        by_pop_response.sort_by_key(|&id| std::cmp::Reverse(pop_of(id).response));
        let mut latest_push = vec![u64::MAX; self.values.len()];
        let mut minima = PrefixMinima::new(popped.len());
        for &id in &by_pop_response {
            let pop = pop_of(id);
            let followers = by_pop_invoke.partition_point(|&w| pop_of(w).invoke > pop.response);
            let bound = [
                push_response(id),
                pop.response,
                first_unpopped.unwrap_or(u64::MAX),
                minima.below(followers),
            ];
            latest_push[id] = bound.into_iter().min().expect("four bounds");
            minima.lower(position[id], latest_push[id]);
        }
        let mut order = popped;
        order.sort_by_key(|&id| (latest_push[id], pop_of(id).invoke, id));
        let mut unpopped = unpopped;
        unpopped.sort_by_key(|&id| (push_response(id), id));
        order.extend(unpopped);
        order
    }
}

/// A Fenwick tree of minima: lower the value at a position, read the minimum of a prefix.
struct PrefixMinima(Vec<u64>);

impl PrefixMinima {
    fn new(len: usize) -> Self {
        Self(vec![u64::MAX; len + 1])
    }

    /// Lowers the value at `position` to `value` if that is lower.
    fn lower(&mut self, position: usize, value: u64) {
        let mut i = position + 1;
        while i < self.0.len() {
            self.0[i] = self.0[i].min(value);
            i += i & i.wrapping_neg();
        }
    }

    /// The minimum of the values at the first `len` positions (`u64::MAX` if none).
    fn below(&self, len: usize) -> u64 {
        let mut i = len;
        let mut min = u64::MAX;
        while i > 0 {
            min = min.min(self.0[i]);
            i -= i & i.wrapping_neg();
        }
        min
    }
}

/// Replays `history` with queue order `order` (indices into `values`), just in time (see the
/// module doc); returns the linearization found.
fn replay(
    history: &[QueueEvent],
    values: &Values,
    order: &[usize],
) -> Result<Vec<usize>, Violation> {
    let value_of = |id: usize| match history[values.values[id].push].op {
        QueueOp::Push(v) => v,
        QueueOp::Pop => unreachable!("a value's push is a push"),
    };
    let mut pending: BTreeSet<(u64, usize)> = history
        .iter()
        .enumerate()
        .map(|(i, e)| (e.response, i))
        .collect();
    let mut empty_pops: BTreeSet<(u64, usize)> = values
        .empty_pops
        .iter()
        .map(|&i| (history[i].invoke, i))
        .collect();
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut next_push = order.iter().copied().peekable();
    let mut linearization = Vec::with_capacity(history.len());
    while let Some(&(deadline, overdue)) = pending.first() {
        let may_go = |i: usize| history[i].invoke <= deadline;
        let head_pop = queue.front().and_then(|&id| values.values[id].pop);
        let empty_pop = empty_pops.first().map(|&(_, pop)| pop);
        let next = if let Some(pop) = head_pop.filter(|&pop| may_go(pop)) {
            queue.pop_front();
            pop
        } else if let Some(pop) = empty_pop.filter(|&pop| queue.is_empty() && may_go(pop)) {
            empty_pops.pop_first();
            pop
        } else if let Some(id) = next_push.next_if(|&id| may_go(values.values[id].push)) {
            queue.push_back(id);
            values.values[id].push
        } else {
            let queue = queue.iter().map(|&id| value_of(id)).collect();
            return Err(Violation::Stuck { overdue, queue });
        };
        pending.remove(&(history[next].response, next));
        linearization.push(next);
    }
    Ok(linearization)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::harness::Rng;
    use crate::lincheck::{self, Spec};
    use crate::queue::Fifo;

    fn push(thread: usize, v: u64, invoke: u64, response: u64) -> QueueEvent {
        Event::at(thread, QueueOp::Push(v), None, invoke, response)
    }

    fn pop(thread: usize, got: Option<u64>, invoke: u64, response: u64) -> QueueEvent {
        Event::at(thread, QueueOp::Pop, got, invoke, response)
    }

    /// What the general search says of `history`.
    fn general(history: &[QueueEvent]) -> bool {
        lincheck::check_from(&Fifo, Fifo.init(), history).is_ok()
    }

    /// Asserts that `order` is a linearization of `history`: every event once, real time
    /// respected, and a legal run of the sequential queue.
    fn assert_linearization(history: &[QueueEvent], order: &[usize]) {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..history.len()).collect::<Vec<_>>(),
            "{history:?}"
        );
        for (k, &later) in order.iter().enumerate() {
            for &earlier in &order[..k] {
                assert!(
                    history[earlier].invoke <= history[later].response,
                    "{later} precedes {earlier}: {history:?}"
                );
            }
        }
        let mut state = Fifo.init();
        for &i in order {
            let (after, ret) = Fifo.step(&state, &history[i].op);
            assert_eq!(ret, history[i].ret, "{i} in {order:?}: {history:?}");
            state = after;
        }
    }

    /// Checks `history`, asserts that the checker and the general search agree, and returns
    /// the verdict.
    fn agree(history: &[QueueEvent]) -> Result<(), Violation> {
        let verdict = check(history);
        assert_eq!(
            verdict.is_ok(),
            general(history),
            "{verdict:?}: {history:?}"
        );
        if let Ok(order) = &verdict {
            assert_linearization(history, order);
        }
        verdict.map(|_| ())
    }

    #[test]
    fn empty_and_sequential_histories_are_linearizable() {
        assert_eq!(agree(&[]), Ok(()));
        let history = [
            push(0, 1, 0, 1),
            push(1, 2, 2, 3),
            pop(0, Some(1), 4, 5),
            pop(1, Some(2), 6, 7),
            pop(0, None, 8, 9),
            push(0, 3, 10, 11),
        ];
        assert_eq!(agree(&history), Ok(()));
    }

    #[test]
    fn overlapping_pushes_may_come_out_against_invocation_order() {
        let history = [
            push(0, 1, 0, 50),
            push(1, 2, 10, 20),
            pop(1, Some(2), 30, 40),
            pop(1, Some(1), 60, 70),
        ];
        assert_eq!(agree(&history), Ok(()));
    }

    #[test]
    fn a_pop_overlapping_the_only_push_may_find_the_queue_empty() {
        let history = [
            push(0, 1, 0, 50),
            pop(1, None, 10, 60),
            pop(1, Some(1), 70, 80),
        ];
        assert_eq!(agree(&history), Ok(()));
    }

    #[test]
    fn a_value_from_nowhere_is_rejected() {
        let history = [push(0, 1, 0, 10), pop(1, Some(7), 5, 15)];
        assert_eq!(agree(&history), Err(Violation::FromNowhere { pop: 1 }));
    }

    #[test]
    fn a_value_popped_twice_is_rejected() {
        let history = [
            push(0, 1, 0, 10),
            pop(1, Some(1), 5, 15),
            pop(2, Some(1), 6, 16),
        ];
        assert_eq!(
            agree(&history),
            Err(Violation::Twice {
                first: 1,
                second: 2
            })
        );
    }

    #[test]
    fn a_value_popped_before_its_push_is_rejected() {
        let history = [pop(1, Some(1), 0, 10), push(0, 1, 11, 20)];
        assert_eq!(
            agree(&history),
            Err(Violation::BeforeItsPush { push: 1, pop: 0 })
        );
    }

    #[test]
    fn pops_against_the_order_of_the_pushes_are_rejected() {
        let reversed = [
            push(0, 1, 0, 10),
            push(0, 2, 20, 30),
            pop(1, Some(2), 25, 35),
            pop(1, Some(1), 40, 50),
        ];
        assert_eq!(
            agree(&reversed),
            Err(Violation::OutOfOrder {
                ahead: 0,
                behind: 1
            })
        );
        let overtaken = [
            push(0, 1, 0, 10),
            push(0, 2, 20, 30),
            pop(1, Some(2), 25, 35),
        ];
        assert_eq!(
            agree(&overtaken),
            Err(Violation::OutOfOrder {
                ahead: 0,
                behind: 1
            })
        );
    }

    #[test]
    fn an_empty_pop_while_a_value_is_present_throughout_is_rejected() {
        let history = [
            push(0, 1, 0, 10),
            pop(1, None, 20, 30),
            pop(0, Some(1), 40, 50),
        ];
        assert_eq!(
            agree(&history),
            Err(Violation::EmptyWhilePresent { pop: 1, push: 0 })
        );
    }

    #[test]
    fn an_empty_pop_while_values_take_turns_in_the_queue_is_rejected() {
        // 1 is in the queue until its pop, invoked at 40; 2 is in by 35 and stays: no instant
        // of the empty pop's [20, 80] finds the queue empty, though no single value is in it
        // throughout.
        let history = [
            push(0, 1, 0, 10),
            pop(1, None, 20, 80),
            push(0, 2, 30, 35),
            pop(2, Some(1), 40, 60),
            pop(2, Some(2), 90, 100),
        ];
        assert!(matches!(
            agree(&history),
            Err(Violation::Stuck { overdue: 1, .. })
        ));
    }

    #[test]
    fn a_violation_names_its_events() {
        let history = [
            push(0, 1, 0, 10),
            pop(1, None, 20, 30),
            pop(0, Some(1), 40, 50),
        ];
        let text = check(&history).unwrap_err().explain(&history);
        assert!(text.contains("certainly in it"), "{text}");
        assert!(text.contains("thread 0 [0, 10]: Push(1) -> None"), "{text}");
        assert!(text.contains("thread 1 [20, 30]: Pop -> None"), "{text}");
    }

    /// A simulated thread's operation: what it does, when it was invoked, and what it returns
    /// once it has taken effect.
    type InFlight = (QueueOp, u64, Option<Option<u64>>);

    /// A random history of the sequential queue `spec` run by `threads` simulated threads: at
    /// each tick one thread moves on by one phase (invoke, take effect, respond), so the history
    /// is linearizable and operations overlap. Pushes take fresh values; `push_percent` of the
    /// operations are pushes.
    pub(crate) fn simulate<S>(
        spec: &S,
        rng: &mut Rng,
        threads: usize,
        ops: usize,
        push_percent: u64,
    ) -> Vec<QueueEvent>
    where
        S: Spec<State = VecDeque<u64>, Op = QueueOp, Ret = Option<u64>>,
    {
        let mut queue = VecDeque::new();
        let mut running: Vec<Option<InFlight>> = vec![None; threads];
        let mut history = Vec::with_capacity(ops);
        let (mut started, mut clock, mut fresh) = (0, 0, 0);
        while history.len() < ops {
            clock += 1;
            let thread = (rng.next() % threads as u64) as usize;
            running[thread] = match running[thread].take() {
                None if started < ops => {
                    started += 1;
                    fresh += 1;
                    let op = if rng.chance(push_percent) {
                        QueueOp::Push(fresh)
                    } else {
                        QueueOp::Pop
                    };
                    Some((op, clock, None))
                }
                None => None,
                Some((op, invoke, None)) => {
                    let (after, ret) = spec.step(&queue, &op);
                    queue = after;
                    Some((op, invoke, Some(ret)))
                }
                Some((op, invoke, Some(ret))) => {
                    history.push(Event::at(thread, op, ret, invoke, clock));
                    None
                }
            };
        }
        history
    }

    /// Changes one thing in `history` that may make it non-linearizable: a pop's result, or
    /// an event's interval.
    pub(crate) fn mutate(rng: &mut Rng, history: &mut [QueueEvent]) {
        let i = (rng.next() % history.len() as u64) as usize;
        let event = &mut history[i];
        match rng.next() % 4 {
            0 if event.op == QueueOp::Pop => {
                event.ret = match event.ret {
                    Some(_) => None,
                    None => Some(1 + rng.next() % 8),
                }
            }
            1 if event.op == QueueOp::Pop => event.ret = Some(1 + rng.next() % 8),
            2 => {
                let shift = rng.next() % 8;
                event.invoke += shift;
                event.response += shift;
            }
            _ => event.invoke = event.invoke.saturating_sub(rng.next() % 8),
        }
    }

    #[test]
    fn random_small_histories_agree_with_the_general_search() {
        let mut rng = Rng::new(16, 0);
        let mut outcomes = [0; 2];
        for round in 0..20_000 {
            let threads = 2 + round % 3;
            let ops = 2 + (rng.next() % 9) as usize;
            let push_percent = 30 + rng.next() % 40;
            let mut history = simulate(&Fifo, &mut rng, threads, ops, push_percent);
            let mutations = rng.next() % 3;
            for _ in 0..mutations {
                mutate(&mut rng, &mut history);
            }
            outcomes[usize::from(agree(&history).is_ok())] += 1;
        }
        assert!(outcomes.iter().all(|&n| n > 4000), "{outcomes:?}");
    }

    #[test]
    fn random_histories_of_any_shape_agree_with_the_general_search() {
        let mut rng = Rng::new(32, 0);
        let mut outcomes = [0; 2];
        for _ in 0..20_000 {
            let ops = 1 + rng.next() % 7;
            let history: Vec<QueueEvent> = (0..ops)
                .map(|k| {
                    let invoke = rng.next() % 12;
                    let response = invoke + rng.next() % 12;
                    if rng.chance(45) {
                        push(k as usize, k + 1, invoke, response)
                    } else {
                        let got = rng.next() % (ops + 1);
                        pop(k as usize, (got > 0).then_some(got), invoke, response)
                    }
                })
                .collect();
            outcomes[usize::from(agree(&history).is_ok())] += 1;
        }
        assert!(outcomes.iter().all(|&n| n > 4000), "{outcomes:?}");
    }

    #[test]
    fn long_histories_of_many_threads_are_accepted_with_a_linearization() {
        let mut rng = Rng::new(64, 0);
        for threads in [4, 16, 32] {
            let history = simulate(&Fifo, &mut rng, threads, 6000, 40);
            let order = check(&history).unwrap_or_else(|v| panic!("{}", v.explain(&history)));
            assert_linearization(&history, &order);
        }
    }

    #[test]
    fn mutated_medium_histories_agree_with_the_general_search() {
        let mut rng = Rng::new(128, 0);
        let mut outcomes = [0; 2];
        for _ in 0..2000 {
            let mut history = simulate(&Fifo, &mut rng, 3, 30, 45);
            mutate(&mut rng, &mut history);
            outcomes[usize::from(agree(&history).is_ok())] += 1;
        }
        assert!(outcomes.iter().all(|&n| n > 200), "{outcomes:?}");
    }
}
