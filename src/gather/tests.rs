use super::*;
use crate::sync::{Arc, AtomicUsize};
use crate::test_support::{assert_drops_settle, Tracked};
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
fn zero_scaling_gives_an_ordinary_gatherer() {
    let gather = ConcurrentGatheringIterator::with_scaling(0);
    gather.insert(1, 'b');
    gather.insert(0, 'a');
    let read: Vec<_> = gather.drain(1).map(Result::unwrap).collect();
    assert_eq!(read, ['a', 'b']);
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
