//! Values gathered by key and read back in key order: ours, a `Mutex<BTreeMap>` with a
//! `Condvar`, and crossbeam-channel with a reorder buffer, behind one trait.

use concurrency::ConcurrentGatheringIterator;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Condvar, Mutex};

/// The value a producer gives `key`, so the reader can check it.
pub(crate) fn value_of(key: u64) -> u64 {
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Values inserted by key from any thread and read back in key order by one reader.
pub(crate) trait Gather: Sync {
    fn name() -> &'static str;
    fn new() -> Self;
    fn insert(&self, key: u64, value: u64);
    /// Reads keys `0..n` in order, calling `each(key, value)`.
    fn read_in_order(&self, n: u64, each: impl FnMut(u64, u64));
}

impl Gather for ConcurrentGatheringIterator<u64> {
    fn name() -> &'static str {
        "ours"
    }
    fn new() -> Self {
        ConcurrentGatheringIterator::new()
    }
    fn insert(&self, key: u64, value: u64) {
        ConcurrentGatheringIterator::insert(self, key, value);
    }
    fn read_in_order(&self, n: u64, mut each: impl FnMut(u64, u64)) {
        let mut key = 0;
        for value in self.drain(n - 1) {
            each(key, value.expect("no producer fails"));
            key += 1;
        }
        assert_eq!(key, n, "values missing");
    }
}

/// A `BTreeMap` under a `Mutex`; the reader sleeps on the `Condvar` until its next key is
/// there, and a producer signals only when the reader sleeps.
pub(crate) struct LockedTree {
    state: Mutex<Tree>,
    arrived: Condvar,
}

#[derive(Default)]
pub(crate) struct Tree {
    values: BTreeMap<u64, u64>,
    reader_asleep: bool,
}

impl Gather for LockedTree {
    fn name() -> &'static str {
        "Mutex<BTreeMap>+Condvar"
    }
    fn new() -> Self {
        Self {
            state: Mutex::default(),
            arrived: Condvar::new(),
        }
    }
    fn insert(&self, key: u64, value: u64) {
        let mut state = self.state.lock().unwrap();
        state.values.insert(key, value);
        let wake = state.reader_asleep;
        drop(state);
        if wake {
            self.arrived.notify_one();
        }
    }
    fn read_in_order(&self, n: u64, mut each: impl FnMut(u64, u64)) {
        let mut state = self.state.lock().unwrap();
        for key in 0..n {
            let value = loop {
                if let Some(value) = state.values.remove(&key) {
                    break value;
                }
                state.reader_asleep = true;
                state = self.arrived.wait(state).unwrap();
                state.reader_asleep = false;
            };
            each(key, value);
        }
    }
}

/// A crossbeam channel of `(key, value)`; the reader keeps early arrivals in a min-heap.
pub(crate) struct ChannelReorder {
    tx: crossbeam_channel::Sender<(u64, u64)>,
    rx: crossbeam_channel::Receiver<(u64, u64)>,
}

impl Gather for ChannelReorder {
    fn name() -> &'static str {
        "crossbeam-channel+BinaryHeap"
    }
    fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { tx, rx }
    }
    fn insert(&self, key: u64, value: u64) {
        self.tx.send((key, value)).expect("channel disconnected");
    }
    fn read_in_order(&self, n: u64, mut each: impl FnMut(u64, u64)) {
        let mut early = BinaryHeap::new();
        for key in 0..n {
            let value = loop {
                if let Some(&Reverse((k, v))) = early.peek() {
                    if k == key {
                        early.pop();
                        break v;
                    }
                }
                let (k, v) = self.rx.recv().expect("channel disconnected");
                if k == key {
                    break v;
                }
                early.push(Reverse((k, v)));
            };
            each(key, value);
        }
    }
}
