//! Shared, atomically replaceable `Arc`s: ours on each reclaimer, arc-swap and `RwLock<Arc>`,
//! behind one trait.

use arc_swap::ArcSwap;
use concurrency::reclaim::Reclaimer;
use concurrency::AtomicReference;
use std::sync::{Arc, RwLock};

/// The value every reference competitor holds: a checksum lets readers detect a torn or freed
/// read.
#[derive(Debug)]
pub(crate) struct Payload {
    id: u64,
    check: u64,
}

impl Payload {
    pub(crate) fn new(id: u64) -> Self {
        Self { id, check: !id }
    }

    pub(crate) fn verify(&self) -> u64 {
        assert_eq!(self.check, !self.id, "torn read");
        self.id
    }
}

/// A shared, atomically replaceable `Arc<Payload>`.
pub(crate) trait SharedRef: Sync {
    fn name() -> String;
    fn make(v: Payload) -> Self;
    /// An owned `Arc` of the current value (`get` / `load_full` / clone under a read lock).
    fn get_full(&self) -> u64;
    /// A borrowed read without reference-count traffic, where the competitor has one.
    fn borrow_read(&self) -> u64;
    fn swap(&self, v: Payload);
    /// One successful compare-and-swap, retried until it wins.
    fn cas(&self, id: u64);
}

impl<R: Reclaimer> SharedRef for AtomicReference<Payload, R> {
    fn name() -> String {
        format!("ours/{}", R::NAME)
    }
    fn make(v: Payload) -> Self {
        Self::with_reclaimer(v)
    }
    fn get_full(&self) -> u64 {
        self.get().verify()
    }
    fn borrow_read(&self) -> u64 {
        self.load().verify()
    }
    fn swap(&self, v: Payload) {
        self.set(v);
    }
    fn cas(&self, id: u64) {
        let fresh = Arc::new(Payload::new(id));
        loop {
            let seen = self.get();
            if self.compare_exchange(&seen, Arc::clone(&fresh)) {
                return;
            }
        }
    }
}

impl SharedRef for ArcSwap<Payload> {
    fn name() -> String {
        "arc-swap".into()
    }
    fn make(v: Payload) -> Self {
        ArcSwap::from_pointee(v)
    }
    fn get_full(&self) -> u64 {
        self.load_full().verify()
    }
    fn borrow_read(&self) -> u64 {
        self.load().verify()
    }
    fn swap(&self, v: Payload) {
        self.store(Arc::new(v));
    }
    fn cas(&self, id: u64) {
        let fresh = Arc::new(Payload::new(id));
        loop {
            let seen = self.load_full();
            let previous = self.compare_and_swap(&seen, Arc::clone(&fresh));
            if Arc::ptr_eq(&previous, &seen) {
                return;
            }
        }
    }
}

impl SharedRef for RwLock<Arc<Payload>> {
    fn name() -> String {
        "RwLock<Arc>".into()
    }
    fn make(v: Payload) -> Self {
        RwLock::new(Arc::new(v))
    }
    fn get_full(&self) -> u64 {
        Arc::clone(&self.read().unwrap()).verify()
    }
    fn borrow_read(&self) -> u64 {
        self.read().unwrap().verify()
    }
    fn swap(&self, v: Payload) {
        *self.write().unwrap() = Arc::new(v);
    }
    fn cas(&self, id: u64) {
        // Under the write lock a compare-and-swap always wins at its first try.
        *self.write().unwrap() = Arc::new(Payload::new(id));
    }
}
