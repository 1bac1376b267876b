//! Shared 64-bit integers and flags: ours and std's, behind one trait each.

use concurrency::{AtomicFlag, AtomicInt64};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};

/// A shared 64-bit integer.
pub(crate) trait Counter: Default + Sync {
    const NAME: &'static str;
    fn incr(&self);
    fn add(&self, v: i64);
    fn mul(&self, v: i64);
    fn get(&self) -> i64;
}

impl Counter for AtomicInt64 {
    const NAME: &'static str = "AtomicInt64";
    fn incr(&self) {
        AtomicInt64::incr(self);
    }
    fn add(&self, v: i64) {
        AtomicInt64::add(self, v);
    }
    fn mul(&self, v: i64) {
        AtomicInt64::mul(self, v);
    }
    fn get(&self) -> i64 {
        AtomicInt64::get(self)
    }
}

impl Counter for AtomicI64 {
    const NAME: &'static str = "std AtomicI64";
    fn incr(&self) {
        self.fetch_add(1, SeqCst);
    }
    fn add(&self, v: i64) {
        self.fetch_add(v, SeqCst);
    }
    fn mul(&self, v: i64) {
        let _ = self.fetch_update(SeqCst, SeqCst, |x| Some(x.wrapping_mul(v)));
    }
    fn get(&self) -> i64 {
        self.load(SeqCst)
    }
}

/// A shared boolean.
pub(crate) trait Flag: Default + Sync {
    const NAME: &'static str;
    fn set(&self, v: bool);
    fn get(&self) -> bool;
}

impl Flag for AtomicFlag {
    const NAME: &'static str = "AtomicFlag";
    fn set(&self, v: bool) {
        AtomicFlag::set(self, v);
    }
    fn get(&self) -> bool {
        AtomicFlag::get(self)
    }
}

/// std's flag with ours' orderings: `SeqCst` stores and loads.
impl Flag for AtomicBool {
    const NAME: &'static str = "std AtomicBool";
    fn set(&self, v: bool) {
        self.store(v, SeqCst);
    }
    fn get(&self) -> bool {
        self.load(SeqCst)
    }
}
