//! Unbounded MPMC queues: ours in every mode, crossbeam's `SegQueue`, concurrent-queue,
//! crossbeam-channel, std `mpsc`, flume and `Mutex<VecDeque>` + `Condvar`, behind one trait.

use super::channels::{Channel, Flavor};
use concurrency::{ConcurrentQueue, PopError};
use crossbeam_queue::SegQueue;
use std::collections::VecDeque;
use std::sync::{mpsc, Condvar, Mutex};

/// An unbounded multi-producer, multi-consumer FIFO of `u64`, shared by reference.
pub(crate) trait Queue: Send + Sync {
    /// Whether [`Queue::pop_wait`] exists, i.e. the competitor can sleep until an item arrives.
    const BLOCKS: bool = false;
    fn name() -> String;
    fn new() -> Self;
    fn push(&self, v: u64);
    /// Non-blocking: `None` when nothing is there right now.
    fn try_pop(&self) -> Option<u64>;
    /// Sleeps until an item arrives (only called when [`Queue::BLOCKS`]).
    fn pop_wait(&self) -> u64 {
        unreachable!("{} has no blocking pop", Self::name())
    }
}

/// [`ConcurrentQueue`] in the mode `MODE` names (see [`super::ours_queue_mode`]).
pub(crate) struct Ours<const MODE: u8>(ConcurrentQueue<u64>);

impl<const MODE: u8> Queue for Ours<MODE> {
    const BLOCKS: bool = true;
    fn name() -> String {
        super::ours_queue_mode(MODE).0.into()
    }
    fn new() -> Self {
        Self(ConcurrentQueue::with_mode(super::ours_queue_mode(MODE).1))
    }
    fn push(&self, v: u64) {
        self.0.push(v).expect("queue shut down");
    }
    fn try_pop(&self) -> Option<u64> {
        match self.0.try_pop() {
            Ok(v) => Some(v),
            Err(PopError::Empty) => None,
            Err(_) => panic!("queue shut down"),
        }
    }
    fn pop_wait(&self) -> u64 {
        self.0.pop().expect("queue shut down")
    }
}

impl Queue for SegQueue<u64> {
    fn name() -> String {
        "crossbeam SegQueue".into()
    }
    fn new() -> Self {
        SegQueue::new()
    }
    fn push(&self, v: u64) {
        SegQueue::push(self, v);
    }
    fn try_pop(&self) -> Option<u64> {
        SegQueue::pop(self)
    }
}

impl Queue for concurrent_queue::ConcurrentQueue<u64> {
    fn name() -> String {
        "concurrent-queue".into()
    }
    fn new() -> Self {
        concurrent_queue::ConcurrentQueue::unbounded()
    }
    fn push(&self, v: u64) {
        concurrent_queue::ConcurrentQueue::push(self, v).expect("queue closed");
    }
    fn try_pop(&self) -> Option<u64> {
        concurrent_queue::ConcurrentQueue::pop(self).ok()
    }
}

impl<F: Flavor> Queue for Channel<F> {
    const BLOCKS: bool = true;
    fn name() -> String {
        F::NAME.into()
    }
    fn new() -> Self {
        Channel::unbounded()
    }
    fn push(&self, v: u64) {
        self.send(v);
    }
    fn try_pop(&self) -> Option<u64> {
        self.try_recv()
    }
    fn pop_wait(&self) -> u64 {
        self.recv()
    }
}

/// std's `mpsc` channel. The `Sender` is `Sync` and shared by every producer. The `Receiver` is
/// neither `Sync` nor `Clone` (the channel has one consumer by design), so consumers share it
/// through a `Mutex` held for one `try_recv` at a time. With one consumer (`spsc`) that lock is
/// never contended; in `mpmc` and `pairs` it is the price of using this channel as an MPMC queue,
/// and it is measured.
pub(crate) struct StdMpsc {
    tx: mpsc::Sender<u64>,
    rx: Mutex<mpsc::Receiver<u64>>,
}

impl Queue for StdMpsc {
    const BLOCKS: bool = true;
    fn name() -> String {
        "std mpsc".into()
    }
    fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx,
            rx: Mutex::new(rx),
        }
    }
    fn push(&self, v: u64) {
        self.tx.send(v).expect("channel disconnected");
    }
    fn try_pop(&self) -> Option<u64> {
        self.rx.lock().unwrap().try_recv().ok()
    }
    fn pop_wait(&self) -> u64 {
        // Only `spsc_blocking` waits, and it has one consumer: nobody else needs the lock.
        self.rx
            .lock()
            .unwrap()
            .recv()
            .expect("channel disconnected")
    }
}

/// The textbook blocking queue: a `VecDeque` under one `Mutex`, and a `Condvar` for the blocking
/// pop. A push signals only when a popper sleeps (a count kept under the lock): std's futex
/// condvar enters the kernel on every `notify_one`, waiter or not, which would bill this
/// competitor for wake-ups nobody needs.
pub(crate) struct LockedDeque {
    state: Mutex<Deque>,
    ready: Condvar,
}

pub(crate) struct Deque {
    items: VecDeque<u64>,
    sleepers: usize,
}

impl Queue for LockedDeque {
    const BLOCKS: bool = true;
    fn name() -> String {
        "Mutex<VecDeque>+Condvar".into()
    }
    fn new() -> Self {
        Self {
            state: Mutex::new(Deque {
                items: VecDeque::new(),
                sleepers: 0,
            }),
            ready: Condvar::new(),
        }
    }
    fn push(&self, v: u64) {
        let mut state = self.state.lock().unwrap();
        state.items.push_back(v);
        let wake = state.sleepers > 0;
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }
    fn try_pop(&self) -> Option<u64> {
        self.state.lock().unwrap().items.pop_front()
    }
    fn pop_wait(&self) -> u64 {
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(v) = state.items.pop_front() {
                return v;
            }
            state.sleepers += 1;
            state = self.ready.wait(state).unwrap();
            state.sleepers -= 1;
        }
    }
}
