use super::*;
use crate::sync::{Arc, AtomicUsize};
use crate::test_support::{assert_drops_settle, Bomb, Tracked};
use std::panic::AssertUnwindSafe;
use std::thread;
use std::time::Duration;

#[test]
fn yields_in_key_order_whatever_the_insertion_order() {
    let gather = ConcurrentGatheringIterator::with_scaling(2);
    for key in [3, 1, 4, 0, 2, 9] {
        gather.insert(key, key * 10);
    }
    gather.insert(4, 44);
    let read: Vec<_> = gather.iterator(4, false).map(Result::unwrap).collect();
    assert_eq!(read, [0, 10, 20, 30, 44]);
    let read_again: Vec<_> = gather.iterator(4, true).map(Result::unwrap).collect();
    assert_eq!(read, read_again);
    assert_eq!(gather.entries(), 1, "only the key above max_key is left");
}

#[test]
fn a_reader_sleeps_until_the_missing_key_arrives() {
    let gather = ConcurrentGatheringIterator::new();
    let rounds = if cfg!(miri) { 10 } else { 1_000 };
    thread::scope(|s| {
        for producer in 0..2u64 {
            let gather = &gather;
            s.spawn(move || {
                for key in (producer..rounds).step_by(2) {
                    gather.insert(key, key);
                }
            });
        }
        let read: Vec<_> = gather.drain(rounds - 1).map(Result::unwrap).collect();
        assert_eq!(read, (0..rounds).collect::<Vec<_>>());
    });
}

#[test]
fn failing_ends_a_waiting_reader_after_the_present_keys() {
    let gather = ConcurrentGatheringIterator::new();
    gather.insert(0, 'a');
    gather.insert(1, 'b');
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(5));
            gather.fail();
        });
        let read: Vec<_> = gather.iterator(10, false).collect();
        assert_eq!(read, [Ok('a'), Ok('b'), Err(GatherError::Failed)]);
    });
    assert_eq!(
        gather.drain(1).count(),
        2,
        "present keys stay readable after a failure"
    );
}

#[test]
fn values_are_moved_out_or_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let gather = ConcurrentGatheringIterator::new();
        for key in 0..6 {
            gather.insert(key, Tracked::new(key, &drops));
        }
        gather.insert(5, Tracked::new(50, &drops));
        for (key, value) in gather.drain(2).enumerate() {
            assert_eq!(value.unwrap().verify(), key as u64);
        }
    }
    assert_drops_settle(&drops, 7);
}

#[test]
#[should_panic(expected = "scaling must be at least 1")]
fn zero_scaling_is_refused() {
    let _ = ConcurrentGatheringIterator::<u8>::with_scaling(0);
}

#[test]
fn it_is_shareable_and_debuggable() {
    fn shareable<X: Send + Sync>() {}
    shareable::<ConcurrentGatheringIterator<String>>();
    let gather = ConcurrentGatheringIterator::<u8>::default();
    assert!(format!("{gather:?}").starts_with("ConcurrentGatheringIterator { entries: 0"));
    assert!(format!("{:?}", gather.drain(3)).contains("max_key: 3"));
    assert!(!GatherError::Failed.to_string().is_empty());
}

/// Slots per leaf, as a key count.
const LEAF: u64 = slot::LEAF_SLOTS as u64;

impl<T: Send + 'static, R: Reclaimer> ConcurrentGatheringIterator<T, R> {
    /// Interior nodes and leaves.
    fn footprint(&self) -> (usize, usize) {
        self.entries.footprint(&mut self.reclaimer.guard())
    }
}

#[test]
fn a_huge_key_costs_its_path_only() {
    let gather = ConcurrentGatheringIterator::new();
    gather.insert(0, 'a');
    gather.insert(1 << 40, 'b');
    gather.insert(u64::MAX, 'c');
    let (interiors, leaves) = gather.footprint();
    assert_eq!(leaves, 3);
    // One path per key below the root, sharing the root: at most 64 interior nodes each.
    assert!(interiors <= 3 * 64, "{interiors} interior nodes");
    assert_eq!(gather.drain(0).next(), Some(Ok('a')));
    assert_eq!(gather.entries(), 2, "the huge keys are left alone");
}

#[test]
fn drained_leaves_are_freed_and_their_keys_can_come_back() {
    let gather = ConcurrentGatheringIterator::new();
    for key in 0..3 * LEAF {
        gather.insert(key, key);
    }
    let read: Vec<_> = gather.drain(3 * LEAF - 1).map(Result::unwrap).collect();
    assert_eq!(read, (0..3 * LEAF).collect::<Vec<_>>());
    assert_eq!(gather.footprint().1, 0, "every drained leaf is freed");
    gather.insert(5, 55);
    assert_eq!(
        gather.footprint().1,
        1,
        "a fresh leaf for the key inserted again"
    );
    assert_eq!(gather.entries(), 1, "keys 0..5 are gone");
    gather.insert(0, 0);
    for key in 1..5 {
        gather.insert(key, key);
    }
    let again: Vec<_> = gather.drain(5).map(Result::unwrap).collect();
    assert_eq!(again, [0, 1, 2, 3, 4, 55]);
}

#[test]
fn a_leaf_with_keys_above_max_key_stays() {
    let gather = ConcurrentGatheringIterator::new();
    for key in 0..LEAF {
        gather.insert(key, key);
    }
    assert_eq!(gather.drain(LEAF - 2).count(), (LEAF - 1) as usize);
    assert_eq!(gather.footprint().1, 1);
    assert_eq!(gather.entries(), 1);
    gather.insert(0, 100);
    let read: Vec<_> = gather.iterator(0, false).map(Result::unwrap).collect();
    assert_eq!(read, [100]);
}

#[test]
fn a_repeated_key_replaces_and_drops_the_old_value() {
    let drops = Arc::new(AtomicUsize::new(0));
    let gather = ConcurrentGatheringIterator::new();
    gather.insert(0, Tracked::new(1, &drops));
    gather.insert(0, Tracked::new(2, &drops));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the replaced value is dropped"
    );
    assert_eq!(gather.drain(0).next().unwrap().unwrap().verify(), 2);
    assert_drops_settle(&drops, 2);
}

/// A value whose clone panics.
#[derive(Debug, PartialEq)]
struct NoClone(u8);

impl Clone for NoClone {
    fn clone(&self) -> Self {
        panic!("clone of {}", self.0)
    }
}

#[test]
fn a_panicking_clone_leaves_the_value_in_place() {
    let gather = ConcurrentGatheringIterator::new();
    gather.insert(0, NoClone(7));
    let cloned = std::panic::catch_unwind(AssertUnwindSafe(|| gather.iterator(0, false).next()));
    assert!(cloned.is_err());
    assert_eq!(gather.drain(0).next(), Some(Ok(NoClone(7))));
}

#[test]
fn teardown_drops_every_value_even_if_one_panics() {
    let drops = Arc::new(AtomicUsize::new(0));
    let gather = ConcurrentGatheringIterator::new();
    for key in 0..2 * LEAF + 3 {
        gather.insert(key, Bomb::new(key == LEAF, &drops));
    }
    gather.insert(1 << 40, Bomb::new(false, &drops));
    let dropped = std::panic::catch_unwind(AssertUnwindSafe(|| drop(gather)));
    assert!(dropped.is_err(), "the armed destructor's panic is resumed");
    assert_drops_settle(&drops, 2 * LEAF as usize + 4);
}

#[test]
fn several_readers_see_every_key() {
    let keys = if cfg!(miri) { 2 * LEAF } else { 20 * LEAF };
    let gather = ConcurrentGatheringIterator::new();
    thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let read: Vec<u64> = gather
                        .iterator(keys - 1, false)
                        .map(Result::unwrap)
                        .collect();
                    assert_eq!(read, (0..keys).collect::<Vec<_>>());
                })
            })
            .collect();
        for producer in 0..2 {
            let gather = &gather;
            s.spawn(move || {
                for key in (producer..keys).step_by(2) {
                    gather.insert(key, key);
                }
            });
        }
        readers.into_iter().for_each(|r| r.join().unwrap());
    });
    let drained: Vec<_> = gather.drain(keys - 1).map(Result::unwrap).collect();
    assert_eq!(drained.len() as u64, keys);
}

/// A tracked value whose clones are tracked too, each counted as made.
#[derive(Debug)]
struct Counted {
    value: Tracked,
    drops: Arc<AtomicUsize>,
    made: Arc<AtomicUsize>,
}

impl Counted {
    fn new(id: u64, drops: &Arc<AtomicUsize>, made: &Arc<AtomicUsize>) -> Self {
        made.fetch_add(1, Ordering::SeqCst);
        Self {
            value: Tracked::new(id, drops),
            drops: Arc::clone(drops),
            made: Arc::clone(made),
        }
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Self::new(self.value.verify(), &self.drops, &self.made)
    }
}

#[test]
fn replacing_while_readers_clone_and_drain_keeps_values_intact() {
    let rounds = if cfg!(miri) { 5 } else { 2_000 };
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let gather = ConcurrentGatheringIterator::new();
    thread::scope(|s| {
        s.spawn(|| {
            for round in 0..rounds {
                for key in 0..LEAF {
                    gather.insert(key, Counted::new(round * LEAF + key, &drops, &made));
                }
            }
            gather.fail();
        });
        s.spawn(|| {
            for value in gather.iterator(LEAF - 1, false).flatten() {
                value.value.verify();
            }
        });
        for value in gather.drain(LEAF - 1).flatten() {
            value.value.verify();
        }
    });
    drop(gather);
    assert_drops_settle(&drops, made.load(Ordering::SeqCst));
}

#[test]
fn clearing_readers_race_for_the_same_leaves() {
    let keys = if cfg!(miri) { 3 * LEAF } else { 30 * LEAF };
    let drops = Arc::new(AtomicUsize::new(0));
    let gather = ConcurrentGatheringIterator::new();
    let taken = thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| gather.drain(keys - 1).take_while(Result::is_ok).count()))
            .collect();
        for key in 0..keys {
            gather.insert(key, Tracked::new(key, &drops));
            if key % 3 == 0 {
                gather.insert(key, Tracked::new(key, &drops));
            }
        }
        gather.fail();
        readers
            .into_iter()
            .map(|r| r.join().unwrap())
            .sum::<usize>()
    });
    let left = gather.entries();
    assert!(taken + left >= keys as usize, "{taken} taken, {left} left");
    drop(gather);
    assert_drops_settle(&drops, (keys + keys.div_ceil(3)) as usize);
}

#[cfg(not(miri))]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        /// Inserts keys `start..start + len` with values `key + tag`.
        Run(u64, u64, u64),
        /// Inserts one far key.
        Far(u64),
        /// Reads in order up to `max_key` (clearing or cloning) as far as the keys go.
        Read(u64, bool),
        /// Fails, then reads everything up to `max_key`.
        FailAndRead(u64, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 0..4 * LEAF;
        prop_oneof![
            6 => (key.clone(), 1..2 * LEAF, 0..4u64).prop_map(|(k, n, t)| Op::Run(k, n, t)),
            1 => (0..40u32).prop_map(|b| Op::Far(1 << (b + 24))),
            4 => (key.clone(), any::<bool>()).prop_map(|(k, c)| Op::Read(k, c)),
            1 => (key, any::<bool>()).prop_map(|(k, c)| Op::FailAndRead(k, c)),
        ]
    }

    /// What a sequential gatherer's reader yields from `model`: keys from 0 while present,
    /// removing them if `clear`.
    fn read_model(model: &mut BTreeMap<u64, u64>, max_key: u64, clear: bool) -> Vec<u64> {
        let mut read = Vec::new();
        for key in 0..=max_key {
            let value = if clear {
                model.remove(&key)
            } else {
                model.get(&key).copied()
            };
            match value {
                Some(value) => read.push(value),
                None => break,
            }
        }
        read
    }

    proptest! {
        #[test]
        fn matches_a_sequential_gatherer(ops in prop::collection::vec(op(), 0..40)) {
            let gather = ConcurrentGatheringIterator::<u64>::new();
            let mut model = BTreeMap::new();
            let mut failed = false;
            for op in ops {
                match op {
                    Op::Run(start, len, tag) => {
                        for key in start..start + len {
                            gather.insert(key, key + tag);
                            model.insert(key, key + tag);
                        }
                    }
                    Op::Far(key) => {
                        gather.insert(key, key);
                        model.insert(key, key);
                    }
                    Op::Read(max_key, clear) => {
                        let expected = read_model(&mut model, max_key, clear);
                        let read: Vec<_> = gather
                            .iterator(max_key, clear)
                            .take(expected.len())
                            .map(Result::unwrap)
                            .collect();
                        prop_assert_eq!(read, expected);
                    }
                    Op::FailAndRead(max_key, clear) => {
                        gather.fail();
                        failed = true;
                        let expected = read_model(&mut model, max_key, clear);
                        let read: Vec<_> = gather.iterator(max_key, clear).collect();
                        let stopped = expected.len() as u64 <= max_key;
                        prop_assert_eq!(read.len(), expected.len() + usize::from(stopped));
                        prop_assert!(read.iter().zip(&expected).all(|(r, e)| r == &Ok(*e)));
                        if stopped {
                            prop_assert_eq!(read.last(), Some(&Err(GatherError::Failed)));
                        }
                    }
                }
                prop_assert_eq!(gather.entries(), model.len());
            }
            prop_assert!(failed || !gather.failed());
        }
    }
}
