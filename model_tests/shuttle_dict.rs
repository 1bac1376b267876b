//! shuttle models of `ConcurrentDict` with 4–8 threads on the model-only `Quarantine`
//! reclaimer: histories checked against per-thread ledgers (each thread owns the keys it
//! writes, and reads the others'), exactly-one-winner races, and growth under concurrency.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release --no-default-features --test shuttle_dict`.
//! `SHUTTLE_ITERATIONS` scales every test (default 10 000 schedules per scheduler).
#![cfg(shuttle)]

mod support;

use support::check;

use concurrency::reclaim::Quarantine;
use concurrency::ConcurrentDict;
use shuttle::thread;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

/// A fixed hasher, so that a failing schedule replays.
type Dict = ConcurrentDict<u64, u64, BuildHasherDefault<DefaultHasher>, Quarantine>;

fn tiny() -> Arc<Dict> {
    Arc::new(Dict::with_scaling_and_hasher(
        1,
        BuildHasherDefault::default(),
    ))
}

/// Thread `t` owns keys `t` and `t + 8`: it inserts, replaces and removes them, checking every
/// result against its own ledger, and reads a neighbour's key, which may only hold a value the
/// neighbour wrote. The final map matches every ledger.
fn owners_and_readers(threads: u64) {
    let d = tiny();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let d = Arc::clone(&d);
            thread::spawn(move || {
                let (a, b) = (t, t + 8);
                assert_eq!(d.insert(a, a * 100), None);
                assert_eq!(d.insert(b, b * 100), None);
                assert_eq!(d.insert(a, a * 100 + 1), Some(a * 100));
                let neighbour = (t + 1) % threads;
                let seen = d.get(&neighbour);
                assert!(
                    seen.is_none()
                        || seen == Some(neighbour * 100)
                        || seen == Some(neighbour * 100 + 1),
                    "read {seen:?} for key {neighbour}, which was never written"
                );
                assert_eq!(d.remove(&b), Some(b * 100));
                assert_eq!(d.get(&a), Some(a * 100 + 1));
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(d.len(), threads as usize);
    for t in 0..threads {
        assert_eq!((d.get(&t), d.get(&(t + 8))), (Some(t * 100 + 1), None));
    }
}

#[test]
fn four_owners_and_readers() {
    check("4 owners/readers", || owners_and_readers(4));
}

#[test]
fn eight_owners_and_readers() {
    check("8 owners/readers", || owners_and_readers(8));
}

/// Racing removes of one key have one winner; racing `get_or_insert_with` of one key agree on
/// one value.
#[test]
fn races_for_one_key_have_one_winner() {
    check("4 × remove + 4 × get_or_insert_with, one key", || {
        let d = tiny();
        d.insert(7, 70);
        let racers: Vec<_> = (0..4)
            .map(|t| {
                let d = Arc::clone(&d);
                thread::spawn(move || (d.remove(&7), d.get_or_insert_with(9, || t)))
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let removed: Vec<_> = results.iter().filter_map(|(r, _)| *r).collect();
        assert_eq!(removed, [70], "one remove wins");
        let settled: HashSet<_> = results.iter().map(|(_, v)| *v).collect();
        assert_eq!(
            settled.len(),
            1,
            "get_or_insert_with disagreed: {results:?}"
        );
        assert_eq!(d.get(&9), settled.into_iter().next());
    });
}

/// Six threads insert distinct keys into a one-bucket table (many doublings and bucket
/// initializations) while the main thread iterates: every key inserted before the iteration
/// began is seen exactly once, and all are present at the end.
#[test]
fn growth_under_concurrency() {
    check("6 inserters ∥ iteration", || {
        let d = tiny();
        for k in 0..3 {
            d.insert(1000 + k, k);
        }
        let inserters: Vec<_> = (0..6u64)
            .map(|t| {
                let d = Arc::clone(&d);
                thread::spawn(move || {
                    d.insert(t, t);
                    d.insert(t + 100, t);
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for (k, _) in d.iter() {
            assert!(seen.insert(k), "key {k} seen twice");
        }
        assert!(
            (1000..1003).all(|k| seen.contains(&k)),
            "a stable key was missed"
        );
        for inserter in inserters {
            inserter.join().unwrap();
        }
        assert_eq!(d.len(), 15);
        assert_eq!(d.iter().count(), 15);
    });
}

/// Zero-sized values: every boxed one has the same address, which the model reclaimer must not
/// take for one value retired twice. Two threads replace and remove unit values of shared keys.
#[test]
fn zero_sized_values_are_replaced_and_removed() {
    check("2 threads replace and remove () values", || {
        let d = Arc::new(
            ConcurrentDict::<u64, (), _, Quarantine>::with_scaling_and_hasher(
                1,
                BuildHasherDefault::<DefaultHasher>::default(),
            ),
        );
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let d = Arc::clone(&d);
                thread::spawn(move || {
                    for key in 0..2 {
                        d.insert(key, ());
                        d.insert(key, ());
                        d.remove(&key);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(d.len(), 0);
    });
}
