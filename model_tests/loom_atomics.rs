//! loom models of the atomics: every interleaving and every weak-memory outcome at small bounds.
//!
//! Run: `RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! --no-default-features --test loom_atomics`. Each model prints how many executions it explored.
#![cfg(loom)]

mod support;

use support::check;

use concurrency::reclaim::{Epoch, HazardPointers, Reclaimer};
use concurrency::{AtomicInt64, AtomicReference};
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;

#[test]
fn int64_cas_loops_are_atomic() {
    check("int64 add ∥ mul ∥ floordiv", || {
        let a = Arc::new(AtomicInt64::new(7));
        let adder = {
            let a = Arc::clone(&a);
            thread::spawn(move || a.add(2))
        };
        let multiplier = {
            let a = Arc::clone(&a);
            thread::spawn(move || a.mul(3))
        };
        let halved = a.floordiv(-2).unwrap();
        adder.join().unwrap();
        multiplier.join().unwrap();
        // The three operations took effect in some serial order, none lost.
        let serial_results: Vec<(i64, i64)> = SERIAL_ORDERS
            .iter()
            .map(|order| {
                let mut halved_then = 0;
                let last = order.iter().fold(7, |n, op| match op {
                    Op::Add => n + 2,
                    Op::Mul => n * 3,
                    Op::FloorDiv => {
                        halved_then = python_floordiv(n, -2);
                        halved_then
                    }
                });
                (last, halved_then)
            })
            .collect();
        let outcome = (a.get(), halved);
        assert!(
            serial_results.contains(&outcome),
            "{outcome:?} is no serial order"
        );
    });
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Mul,
    FloorDiv,
}

const SERIAL_ORDERS: [[Op; 3]; 6] = [
    [Op::Add, Op::Mul, Op::FloorDiv],
    [Op::Add, Op::FloorDiv, Op::Mul],
    [Op::Mul, Op::Add, Op::FloorDiv],
    [Op::Mul, Op::FloorDiv, Op::Add],
    [Op::FloorDiv, Op::Add, Op::Mul],
    [Op::FloorDiv, Op::Mul, Op::Add],
];

fn python_floordiv(n: i64, d: i64) -> i64 {
    let q = n / d;
    if n % d != 0 && ((n < 0) != (d < 0)) {
        q - 1
    } else {
        q
    }
}

/// A value whose drops are counted in the model.
struct Counted {
    payload: AtomicUsize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Relaxed);
    }
}

fn counted(payload: usize, drops: &Arc<AtomicUsize>) -> Counted {
    Counted {
        payload: AtomicUsize::new(payload),
        drops: Arc::clone(drops),
    }
}

/// A writer fills a value with a Relaxed store and publishes it; a reader that sees the new
/// value must see its contents. Catches a publication without Release.
fn publication<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let r = Arc::new(AtomicReference::<_, R>::with_reclaimer(counted(0, &drops)));
    let writer = {
        let (r, drops) = (Arc::clone(&r), Arc::clone(&drops));
        thread::spawn(move || {
            let fresh = counted(0, &drops);
            fresh.payload.store(42, Relaxed);
            r.set(fresh);
        })
    };
    let seen = r.get().payload.load(Relaxed);
    writer.join().unwrap();
    drop(r);
    // Assert only once every loom object is gone: a panic must not unwind through them.
    assert!(seen == 0 || seen == 42, "published value read as {seen}");
    assert_eq!(drops.load(Relaxed), 2, "every value dropped exactly once");
}

/// Under `--cfg concurrency_mutant="publish_without_release"` the install loses its Release
/// half, and loom must report the reader's unsynchronized access to the new value.
#[test]
#[cfg_attr(
    concurrency_mutant = "publish_without_release",
    should_panic(expected = "Causality violation")
)]
fn publication_epoch() {
    check("reference publication (epoch)", publication::<Epoch>);
}

/// Not a mutant check: loom joins every `SeqCst` fence with every earlier one (stronger than
/// C++11), so the fences of hazard-pointer publication and retirement hide a missing Release
/// from it. The epoch variant above is the one that proves the model bites.
#[test]
fn publication_hazard_pointers() {
    check(
        "reference publication (hazard pointers)",
        publication::<HazardPointers>,
    );
}

/// A writer exchanges while the main thread reads and then sets; reclamation runs inside the
/// model (every retirement triggers a pass under loom). Every value is dropped exactly once.
fn exchange_and_get<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let r = Arc::new(AtomicReference::<_, R>::with_reclaimer(counted(0, &drops)));
    let exchanger = {
        let (r, drops) = (Arc::clone(&r), Arc::clone(&drops));
        thread::spawn(move || r.exchange(counted(1, &drops)).payload.load(Relaxed))
    };
    let read = r.load().payload.load(Relaxed);
    r.set(counted(2, &drops));
    let old = exchanger.join().unwrap();
    let last = r.get().payload.load(Relaxed);
    drop(r);
    assert!(read <= 1, "read a value that was never installed: {read}");
    assert!(old == 0 || old == 2, "exchange returned {old}");
    assert!(last == 1 || last == 2, "final value {last}");
    assert_eq!(drops.load(Relaxed), 3, "every value dropped exactly once");
}

#[test]
fn exchange_and_get_epoch() {
    check("exchange ∥ load+set (epoch)", exchange_and_get::<Epoch>);
}

#[test]
fn exchange_and_get_hazard_pointers() {
    check(
        "exchange ∥ load+set (hazard pointers)",
        exchange_and_get::<HazardPointers>,
    );
}

/// Two threads compare-exchange from the same expected value: exactly one wins.
fn racing_compare_exchange<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let r = Arc::new(AtomicReference::<_, R>::with_reclaimer(counted(0, &drops)));
    let expected = r.get();
    let contender = {
        let (r, drops, expected) = (Arc::clone(&r), Arc::clone(&drops), Arc::clone(&expected));
        thread::spawn(move || r.compare_exchange(&expected, counted(1, &drops)))
    };
    let mine = r.compare_exchange(&expected, counted(2, &drops));
    let theirs = contender.join().unwrap();
    let winner = r.get().payload.load(Relaxed);
    drop((r, expected));
    assert!(mine ^ theirs, "exactly one compare_exchange wins");
    assert_eq!(winner, if mine { 2 } else { 1 });
    assert_eq!(drops.load(Relaxed), 3, "every value dropped exactly once");
}

#[test]
fn racing_compare_exchange_epoch() {
    check(
        "compare_exchange ∥ compare_exchange (epoch)",
        racing_compare_exchange::<Epoch>,
    );
}

#[test]
fn racing_compare_exchange_hazard_pointers() {
    check(
        "compare_exchange ∥ compare_exchange (hazard pointers)",
        racing_compare_exchange::<HazardPointers>,
    );
}
