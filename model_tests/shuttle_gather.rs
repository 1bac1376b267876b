//! shuttle models of `ConcurrentGatheringIterator` on four-slot leaves and four-child interior
//! nodes (under shuttle), on the model-only `Quarantine` reclaimer, which fails the model if a
//! leaf is protected after it was retired.
//!
//! Checked: producers inserting (and re-inserting) interleaved keys, one of them far away so
//! that the tree grows at the root, while a clearing reader and a cloning reader walk the keys
//! — the clearing reader gets every key once, in order, with a value inserted for it; the
//! cloning reader sees values in key order too; values are dropped exactly once; a reader
//! waiting when a producer fails ends with the failure; no lost wake-up (a sleeper never woken
//! is a deadlock, which shuttle reports).
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release --no-default-features --test shuttle_gather`.
//! `SHUTTLE_ITERATIONS` scales every test (default 10 000 schedules per scheduler).
#![cfg(shuttle)]

mod support;

use support::check;

use concurrency::reclaim::Quarantine;
use concurrency::{ConcurrentGatheringIterator, GatherError};
use shuttle::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use shuttle::thread;
use std::sync::Arc;

/// Keys every model gathers: three leaves of four.
const KEYS: u64 = 12;
/// A far key: the tree grows to cover it.
const FAR: u64 = 1 << 20;

/// A value that knows its key and counts its making (clones included) and its drops.
#[derive(Debug)]
struct Value {
    key: u64,
    made: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

impl Value {
    fn new(key: u64, made: &Arc<AtomicUsize>, drops: &Arc<AtomicUsize>) -> Self {
        made.fetch_add(1, SeqCst);
        Value {
            key,
            made: Arc::clone(made),
            drops: Arc::clone(drops),
        }
    }
}

impl Clone for Value {
    fn clone(&self) -> Self {
        Value::new(self.key, &self.made, &self.drops)
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

type Gather = ConcurrentGatheringIterator<Value, Quarantine>;

/// Two producers insert the even and the odd keys (the first also re-inserts every third key,
/// and the far key); a clearing and a cloning reader walk `0..KEYS`.
fn gather_with_two_readers() {
    let drops = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(AtomicUsize::new(0));
    let gather = Arc::new(Gather::with_reclaimer());
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let (gather, drops, made) =
                (Arc::clone(&gather), Arc::clone(&drops), Arc::clone(&made));
            thread::spawn(move || {
                let value = |key| Value::new(key, &made, &drops);
                for key in (p..KEYS).step_by(2) {
                    gather.insert(key, value(key));
                    if p == 0 && key % 3 == 0 {
                        gather.insert(key, value(key));
                    }
                }
                if p == 0 {
                    gather.insert(FAR, value(FAR));
                }
            })
        })
        .collect();
    let cloner = {
        let gather = Arc::clone(&gather);
        thread::spawn(move || {
            let keys: Vec<u64> = gather
                .iterator(KEYS - 1, false)
                .map_while(Result::ok)
                .map(|v| v.key)
                .collect();
            assert!(keys.iter().copied().eq(0..keys.len() as u64), "{keys:?}");
        })
    };
    let drained: Vec<u64> = gather.drain(KEYS - 1).map(|v| v.unwrap().key).collect();
    assert!(drained.iter().copied().eq(0..KEYS), "{drained:?}");
    producers.into_iter().for_each(|p| p.join().unwrap());
    // The cloner may wait for a key the drain took: the failure ends it.
    gather.fail();
    cloner.join().unwrap();
    // Left: the far key, and any key inserted again after the drain took it.
    let debug = format!("{gather:?}");
    assert!(
        !debug.contains("entries: 0,"),
        "the far key is gone: {debug}"
    );
    drop(gather);
    assert_eq!(drops.load(SeqCst), made.load(SeqCst), "values dropped");
}

#[test]
fn two_producers_two_readers() {
    check(
        "gather: 2 producers ∥ drain ∥ clone",
        gather_with_two_readers,
    );
}

/// A producer fails while two clearing readers wait for a key it never inserts: both end
/// with the failure, after the keys that were there.
#[test]
fn failure_ends_racing_drains() {
    check("gather: insert + fail ∥ drain ∥ drain", || {
        let gather = Arc::new(ConcurrentGatheringIterator::<u64, Quarantine>::with_reclaimer());
        let producer = {
            let gather = Arc::clone(&gather);
            thread::spawn(move || {
                (0..5).for_each(|key| gather.insert(key, key));
                gather.fail();
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let gather = Arc::clone(&gather);
                thread::spawn(move || gather.drain(KEYS).collect::<Vec<_>>())
            })
            .collect();
        producer.join().unwrap();
        let reads: Vec<Vec<_>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        for read in &reads {
            assert_eq!(read.last(), Some(&Err(GatherError::Failed)), "{read:?}");
        }
        let taken = reads.iter().flatten().filter(|r| r.is_ok()).count();
        assert!(taken <= 5, "{reads:?}");
    });
}
