//! Bounded blocking queues: ours (`StdConcurrentQueue`), crossbeam-channel, flume, std
//! `sync_channel` and `Mutex<VecDeque>` with two `Condvar`s, behind one trait; and crossbeam's
//! non-blocking `ArrayQueue`, for the instruction counts.

use super::channels::{Channel, Flavor};
use concurrency::StdConcurrentQueue;
use std::collections::VecDeque;
use std::sync::{mpsc, Condvar, Mutex};

/// The bound of every queue.
pub(crate) const CAPACITY: usize = 64;

/// A bounded multi-producer, multi-consumer FIFO of `u64` whose put waits while it is full and
/// whose get waits while it is empty.
pub(crate) trait Bounded: Sync {
    fn name() -> String;
    fn new() -> Self;
    fn put(&self, v: u64);
    fn get(&self) -> u64;
}

impl Bounded for StdConcurrentQueue<u64> {
    fn name() -> String {
        "ours".into()
    }
    fn new() -> Self {
        StdConcurrentQueue::new(CAPACITY)
    }
    fn put(&self, v: u64) {
        StdConcurrentQueue::put(self, v).expect("queue shut down");
    }
    fn get(&self) -> u64 {
        StdConcurrentQueue::get(self).expect("queue shut down")
    }
}

impl<F: Flavor> Bounded for Channel<F> {
    fn name() -> String {
        F::NAME.into()
    }
    fn new() -> Self {
        Channel::bounded(CAPACITY)
    }
    fn put(&self, v: u64) {
        self.send(v);
    }
    fn get(&self) -> u64 {
        self.recv()
    }
}

/// crossbeam's `ArrayQueue`, which does not block: a full put or an empty get yields and
/// retries. For the one-thread instruction counts only, where neither ever waits.
pub(crate) struct ArrayQueue(crossbeam_queue::ArrayQueue<u64>);

impl Bounded for ArrayQueue {
    fn name() -> String {
        "crossbeam ArrayQueue".into()
    }
    fn new() -> Self {
        Self(crossbeam_queue::ArrayQueue::new(CAPACITY))
    }
    fn put(&self, mut v: u64) {
        while let Err(refused) = self.0.push(v) {
            v = refused;
            std::thread::yield_now();
        }
    }
    fn get(&self) -> u64 {
        loop {
            if let Some(v) = self.0.pop() {
                return v;
            }
            std::thread::yield_now();
        }
    }
}

/// std's `sync_channel`. Its `Receiver` is neither `Sync` nor `Clone`, so consumers share it
/// through a `Mutex`; a consumer sleeping in `recv` holds that lock, and the other consumers
/// sleep on it: the price of using this channel as an MPMC queue, and it is measured.
pub(crate) struct StdSyncChannel {
    tx: mpsc::SyncSender<u64>,
    rx: Mutex<mpsc::Receiver<u64>>,
}

impl Bounded for StdSyncChannel {
    fn name() -> String {
        "std sync_channel".into()
    }
    fn new() -> Self {
        let (tx, rx) = mpsc::sync_channel(CAPACITY);
        Self {
            tx,
            rx: Mutex::new(rx),
        }
    }
    fn put(&self, v: u64) {
        self.tx.send(v).expect("channel disconnected");
    }
    fn get(&self) -> u64 {
        self.rx
            .lock()
            .unwrap()
            .recv()
            .expect("channel disconnected")
    }
}

/// The textbook bounded buffer: a `VecDeque` under one `Mutex`, a `Condvar` for "not full" and
/// one for "not empty"; each side signals only when the other side has sleepers.
pub(crate) struct LockedDeque {
    state: Mutex<Deque>,
    not_full: Condvar,
    not_empty: Condvar,
}

#[derive(Default)]
pub(crate) struct Deque {
    items: VecDeque<u64>,
    putters_asleep: usize,
    getters_asleep: usize,
}

impl Bounded for LockedDeque {
    fn name() -> String {
        "Mutex<VecDeque>+Condvar".into()
    }
    fn new() -> Self {
        Self {
            state: Mutex::default(),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
        }
    }
    fn put(&self, v: u64) {
        let mut state = self.state.lock().unwrap();
        while state.items.len() == CAPACITY {
            state.putters_asleep += 1;
            state = self.not_full.wait(state).unwrap();
            state.putters_asleep -= 1;
        }
        state.items.push_back(v);
        let wake = state.getters_asleep > 0;
        drop(state);
        if wake {
            self.not_empty.notify_one();
        }
    }
    fn get(&self) -> u64 {
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(v) = state.items.pop_front() {
                let wake = state.putters_asleep > 0;
                drop(state);
                if wake {
                    self.not_full.notify_one();
                }
                return v;
            }
            state.getters_asleep += 1;
            state = self.not_empty.wait(state).unwrap();
            state.getters_asleep -= 1;
        }
    }
}
