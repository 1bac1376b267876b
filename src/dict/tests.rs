use super::*;
use crate::reclaim::{Epoch, HazardPointers};
use crate::sync::{Arc, AtomicUsize, Ordering::SeqCst};
use crate::test_support::{assert_drops_settle, completes_while_stalled, Bomb, Stall, Tracked};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

/// Runs a test body on both production reclaimers, with a tiny initial table (scaling 1) so
/// that bucket initialization and doubling happen throughout.
macro_rules! on_every_reclaimer {
    ($($name:ident),* $(,)?) => {
        mod epoch {
            $(#[test] fn $name() { super::$name::<super::Epoch>() })*
        }
        mod hazard_pointers {
            $(#[test] fn $name() { super::$name::<super::HazardPointers>() })*
        }
    };
}

on_every_reclaimer!(
    sequential_semantics,
    grows_and_shrinks_without_losing_entries,
    colliding_hashes_are_told_apart,
    concurrent_writers_match_their_ledgers,
    concurrent_removes_of_a_key_have_one_winner,
    get_or_insert_with_has_one_winner,
    every_value_is_dropped_exactly_once,
    iteration_sees_stable_keys_exactly_once,
    panicking_user_code_leaves_the_map_consistent,
    panicking_value_destructors_leak_nothing,
);

/// The stall-aware progress check of iteration, on both reclaimers. Under
/// `--cfg concurrency_mutant="iterate_restarting_at_marks"` iteration restarts at a marked node
/// instead of unlinking it, and must be caught livelocking.
#[test]
#[cfg_attr(
    concurrency_mutant = "iterate_restarting_at_marks",
    should_panic(expected = "not lock-free")
)]
fn a_remove_stalled_between_mark_and_unlink_blocks_nobody() {
    remove_stalled_between_mark_and_unlink::<Epoch>();
    remove_stalled_between_mark_and_unlink::<HazardPointers>();
}

fn dict<K, V, R>() -> ConcurrentDict<K, V, RandomState, R>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    R: Reclaimer,
{
    ConcurrentDict::with_scaling_and_hasher(1, RandomState::new())
}

fn scaled(n: u64) -> u64 {
    if cfg!(miri) {
        n / 100 + 4
    } else {
        n
    }
}

fn sequential_semantics<R: Reclaimer>() {
    let d = dict::<String, u32, R>();
    assert!(d.is_empty());
    assert_eq!(d.insert("a".into(), 1), None);
    assert_eq!(d.insert("a".into(), 2), Some(1));
    assert_eq!(d.get("a"), Some(2));
    assert_eq!(d.get_with("a", |v| v * 10), Some(20));
    assert!(d.contains_key("a") && !d.contains_key("b"));
    assert_eq!(d.len(), 1);
    assert_eq!(d.remove("a"), Some(2));
    assert_eq!(d.remove("a"), None);
    assert_eq!(d.get("a"), None);
    assert_eq!(d.get_or_insert_with("b".into(), || 7), 7);
    assert_eq!(d.get_or_insert_with("b".into(), || unreachable!()), 7);
    assert_eq!(format!("{d:?}"), r#"{"b": 7}"#);
    let pinned = d.pin();
    assert_eq!(pinned.insert("c".into(), 3), None);
    assert_eq!(pinned.get("c"), Some(3));
    assert!(pinned.contains_key("c"));
    assert_eq!(pinned.remove("c"), Some(3));
    drop(pinned);
    assert_eq!(d.as_dict(), HashMap::from([("b".to_string(), 7)]));
}

fn grows_and_shrinks_without_losing_entries<R: Reclaimer>() {
    let n = scaled(20_000);
    let d = dict::<u64, u64, R>();
    for i in 0..n {
        assert_eq!(d.insert(i, i * 2), None);
    }
    assert_eq!(d.len(), n as usize);
    for i in (0..n).step_by(2) {
        assert_eq!(d.remove(&i), Some(i * 2));
    }
    for i in 0..n {
        assert_eq!(d.get(&i), (i % 2 == 1).then_some(i * 2), "key {i}");
    }
    assert_eq!(d.iter().count(), (n / 2) as usize);
    d.clear();
    assert!(d.is_empty() && d.iter().next().is_none());
}

/// Every key hashes to the same value: one split-order key, one long collision run.
#[derive(Default)]
struct Constant;

impl Hasher for Constant {
    fn finish(&self) -> u64 {
        0x5eed
    }
    fn write(&mut self, _: &[u8]) {}
}

fn colliding_hashes_are_told_apart<R: Reclaimer>() {
    let d = ConcurrentDict::<u32, u32, BuildHasherDefault<Constant>, R>::with_scaling_and_hasher(
        1,
        BuildHasherDefault::default(),
    );
    for i in 0..50 {
        d.insert(i, i);
    }
    for i in (0..50).step_by(3) {
        assert_eq!(d.remove(&i), Some(i));
    }
    for i in 0..50 {
        assert_eq!(d.get(&i), (i % 3 != 0).then_some(i));
    }
    let keys: HashSet<u32> = d.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), d.len());
}

fn concurrent_writers_match_their_ledgers<R: Reclaimer>() {
    let per_thread = scaled(3_000);
    let d = dict::<u64, u64, R>();
    thread::scope(|s| {
        for t in 0..3u64 {
            let d = &d;
            s.spawn(move || {
                // Each thread owns the keys ≡ t (mod 3): insert all, replace some, remove some.
                let pinned = d.pin();
                for i in 0..per_thread {
                    let key = i * 3 + t;
                    assert_eq!(pinned.insert(key, key), None);
                    if i % 2 == 0 {
                        assert_eq!(pinned.insert(key, key + 1), Some(key));
                    }
                    if i % 5 == 0 {
                        assert!(pinned.remove(&key).is_some());
                    }
                }
            });
        }
    });
    let snapshot = d.as_dict();
    for t in 0..3u64 {
        for i in 0..per_thread {
            let key = i * 3 + t;
            let expected = if i % 5 == 0 {
                None
            } else if i % 2 == 0 {
                Some(key + 1)
            } else {
                Some(key)
            };
            assert_eq!(d.get(&key), expected, "key {key}");
            assert_eq!(snapshot.get(&key).copied(), expected);
        }
    }
    assert_eq!(d.len(), snapshot.len());
}

fn concurrent_removes_of_a_key_have_one_winner<R: Reclaimer>() {
    let d = dict::<u64, u64, R>();
    for round in 0..scaled(300) {
        d.insert(round, round);
        let winners = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    if d.remove(&round).is_some() {
                        winners.fetch_add(1, SeqCst);
                    }
                });
            }
        });
        assert_eq!(winners.into_inner(), 1, "round {round}");
    }
    assert!(d.is_empty());
}

fn get_or_insert_with_has_one_winner<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = AtomicUsize::new(0);
    let rounds = scaled(200);
    {
        let d = dict::<u64, Arc<Tracked>, R>();
        for round in 0..rounds {
            let results: Vec<u64> = thread::scope(|s| {
                let racers: Vec<_> = (0..3)
                    .map(|t| {
                        let (d, drops, made) = (&d, &drops, &made);
                        s.spawn(move || {
                            let value = d.get_or_insert_with(round, || {
                                made.fetch_add(1, SeqCst);
                                Arc::new(Tracked::new(round * 10 + t, drops))
                            });
                            value.verify()
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert!(
                results.windows(2).all(|w| w[0] == w[1]),
                "two winners: {results:?}"
            );
            assert_eq!(d.get(&round).unwrap().verify(), results[0]);
        }
        assert_eq!(d.get_or_insert_with(0, || unreachable!()).id / 10, 0);
    }
    assert_drops_settle(&drops, made.into_inner());
}

fn every_value_is_dropped_exactly_once<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let n = scaled(1_000);
    {
        let d = dict::<u64, Arc<Tracked>, R>();
        thread::scope(|s| {
            for t in 0..2u64 {
                let (d, drops) = (&d, &drops);
                s.spawn(move || {
                    for i in 0..n {
                        let key = i % 64;
                        d.insert(key, Arc::new(Tracked::new(t * n + i, drops)));
                        if i % 3 == 0 {
                            d.remove(&key);
                        }
                        d.get_with(&key, |v| v.verify());
                    }
                });
            }
        });
        d.clear();
        for i in 0..10 {
            d.insert(i, Arc::new(Tracked::new(i, &drops)));
        }
    }
    assert_drops_settle(&drops, 2 * n as usize + 10);
}

fn iteration_sees_stable_keys_exactly_once<R: Reclaimer>() {
    let stable = scaled(2_000);
    let d = dict::<u64, u64, R>();
    for i in 0..stable {
        d.insert(i, i);
    }
    let stop = crate::sync::AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            // Churn around the stable keys: inserts, removes and doublings.
            let mut i = 0;
            while !stop.load(SeqCst) {
                let key = stable + i % 5_000;
                d.insert(key, key);
                d.remove(&(key.saturating_sub(7).max(stable)));
                i += 1;
            }
        });
        for _ in 0..if cfg!(miri) { 1 } else { 20 } {
            let mut seen = HashSet::new();
            for (k, v) in d.iter() {
                assert_eq!(k, v);
                assert!(seen.insert(k), "key {k} seen twice");
            }
            assert!(
                (0..stable).all(|k| seen.contains(&k)),
                "a stable key was missed"
            );
        }
        stop.store(true, SeqCst);
    });
}

/// A key whose `Hash` or `Eq` panics on demand.
#[derive(Clone, Debug)]
struct Touchy {
    id: u64,
    panic_in_hash: bool,
    panic_in_eq: bool,
}

impl Hash for Touchy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        assert!(!self.panic_in_hash, "Hash panicked");
        self.id.hash(state);
    }
}

impl PartialEq for Touchy {
    fn eq(&self, other: &Self) -> bool {
        assert!(!self.panic_in_eq && !other.panic_in_eq, "Eq panicked");
        self.id == other.id
    }
}

impl Eq for Touchy {}

fn panicking_user_code_leaves_the_map_consistent<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let key = |id, panic_in_hash, panic_in_eq| Touchy {
        id,
        panic_in_hash,
        panic_in_eq,
    };
    {
        let d = dict::<Touchy, Arc<Tracked>, R>();
        for id in 0..20 {
            d.insert(key(id, false, false), Arc::new(Tracked::new(id, &drops)));
        }
        let fails = |f: &dyn Fn()| assert!(catch_unwind(AssertUnwindSafe(f)).is_err());
        fails(&|| {
            d.insert(key(99, true, false), Arc::new(Tracked::new(99, &drops)));
        });
        fails(&|| {
            d.get(&key(3, false, true));
        });
        fails(&|| {
            d.remove(&key(4, false, true));
        });
        fails(&|| {
            d.get_or_insert_with(key(50, false, false), || panic!("make panicked"));
        });
        fails(&|| {
            d.get_with(&key(5, false, false), |_| panic!("reader panicked"));
        });
        assert_eq!(d.len(), 20);
        for id in 0..20 {
            assert_eq!(d.get(&key(id, false, false)).unwrap().verify(), id);
        }
        assert!(!d.contains_key(&key(50, false, false)));
    }
    assert_drops_settle(&drops, 21);
}

/// Values whose `Drop` panics: the ones replaced or removed are destroyed later by the
/// reclaimer, where the panic stops; the map keeps working; dropping the map drops every value
/// and then reports the first panic.
fn panicking_value_destructors_leak_nothing<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = dict::<u64, Bomb, R>();
    for key in 0..8 {
        d.insert(key, Bomb::new(key % 2 == 0, &drops));
    }
    assert!(d.insert(0, Bomb::new(false, &drops)).is_some());
    assert!(d.remove(&2).is_some());
    assert!(d.remove(&3).is_some());
    for key in 8..40 {
        d.insert(key, Bomb::new(false, &drops));
    }
    assert_eq!(d.len(), 38);
    assert!(d.contains_key(&0) && !d.contains_key(&2) && d.contains_key(&4));
    let teardown = catch_unwind(AssertUnwindSafe(move || drop(d)));
    assert!(teardown.is_err(), "the first destructor panic resumes");
    assert_drops_settle(&drops, 41);
}

#[test]
#[should_panic(expected = "scaling must be at least 1")]
fn zero_scaling_is_refused() {
    ConcurrentDict::<u8, u8>::with_scaling(0);
}

#[test]
fn the_dict_is_shareable_and_builds_from_iterators() {
    fn shareable<X: Send + Sync>() {}
    shareable::<ConcurrentDict<String, Vec<u8>>>();
    shareable::<ConcurrentDict<u8, u8, RandomState, HazardPointers>>();
    let mut d: ConcurrentDict<u8, char> = [(1, 'a')].into_iter().collect();
    d.extend([(2, 'b')]);
    assert_eq!(d.len(), 2);
    assert_eq!(ConcurrentDict::<u8, u8>::default().len(), 0);
    assert_eq!(format!("{:?}", d.pin()), "PinnedDict { .. }");
    // A call from inside another through the same pinned view takes a guard of its own.
    let pinned = d.pin();
    assert_eq!(
        pinned.get_with(&1, |a| (*a, pinned.get(&2))),
        Some(('a', Some('b')))
    );
    let _ = ConcurrentDict::<u8, u8, RandomState, Epoch>::with_hasher(RandomState::new());
}

#[cfg(not(miri))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        Remove(u8),
        Get(u8),
        GetOrInsert(u8, u16),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => any::<u8>().prop_map(Op::Remove),
            3 => any::<u8>().prop_map(Op::Get),
            2 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        #[test]
        fn matches_a_hashmap(ops in prop::collection::vec(op(), 0..200)) {
            let d = ConcurrentDict::<u8, u16>::with_scaling(1);
            let mut model = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(d.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(d.remove(&k), model.remove(&k)),
                    Op::Get(k) => prop_assert_eq!(d.get(&k), model.get(&k).copied()),
                    Op::GetOrInsert(k, v) => {
                        prop_assert_eq!(d.get_or_insert_with(k, || v), *model.entry(k).or_insert(v));
                    }
                    Op::Clear => {
                        d.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(d.len(), model.len());
            }
            prop_assert_eq!(d.as_dict(), model);
        }
    }
}

/// A remove stalled after it marked its node and before it unlinked it (a preempted thread):
/// every other operation — inserts and removes around the node, lookups, iteration, which all
/// meet the marked node — completes; once released the remove finishes.
fn remove_stalled_between_mark_and_unlink<R: Reclaimer>() {
    let d = Arc::new(dict::<u64, u64, R>());
    let keys = if cfg!(miri) { 8 } else { 200 };
    for key in 0..keys {
        d.insert(key, key);
    }
    let stall = Arc::new(Stall::new("dict::remove::marked"));
    let remover = {
        let (d, stall) = (Arc::clone(&d), Arc::clone(&stall));
        thread::spawn(move || {
            stall.arm();
            d.remove(&(keys / 2))
        })
    };
    stall.wait_reached();
    let others = Arc::clone(&d);
    completes_while_stalled("dict operations around a marked node", move || {
        // Iteration first, before any lookup unlinks the marked node on its way.
        assert_eq!(others.iter().count() as u64, keys - 1);
        for key in 0..keys {
            if key != keys / 2 {
                assert_eq!(others.get(&key), Some(key));
                others.insert(key, key + 1);
            }
        }
        assert_eq!(others.get(&(keys / 2)), None);
        assert_eq!(others.iter().count() as u64, keys - 1);
        for key in (0..keys).step_by(2).filter(|&key| key != keys / 2) {
            assert_eq!(others.remove(&key), Some(key + 1));
        }
    });
    stall.release();
    assert_eq!(remover.join().unwrap(), Some(keys / 2));
    assert_eq!(d.len() as u64, keys / 2 - u64::from(keys / 2 % 2 == 1));
}

mod review;
