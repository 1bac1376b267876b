//! `AtomicInt64::incr` and `add` next to std's `fetch_add`, for the codegen check in
//! `.ci/test`: built with `--emit asm`, each pair must compile to the same instructions (one
//! `lock xadd` on x86-64).

use concurrency::AtomicInt64;
use std::sync::atomic::{AtomicI64, Ordering::SeqCst};

/// `AtomicInt64::incr`.
#[inline(never)]
#[no_mangle]
pub fn ours_incr(a: &AtomicInt64) -> i64 {
    a.incr()
}

/// The std equivalent of `ours_incr`.
#[inline(never)]
#[no_mangle]
pub fn std_incr(a: &AtomicI64) -> i64 {
    a.fetch_add(1, SeqCst).wrapping_add(1)
}

/// `AtomicInt64::add`.
#[inline(never)]
#[no_mangle]
pub fn ours_add(a: &AtomicInt64, v: i64) -> i64 {
    a.add(v)
}

/// The std equivalent of `ours_add`.
#[inline(never)]
#[no_mangle]
pub fn std_add(a: &AtomicI64, v: i64) -> i64 {
    a.fetch_add(v, SeqCst).wrapping_add(v)
}

fn main() {
    let (ours, theirs) = (AtomicInt64::new(0), AtomicI64::new(0));
    assert_eq!(ours_incr(&ours), std_incr(&theirs));
    assert_eq!(ours_add(&ours, 5), std_add(&theirs, 5));
    println!("incr and add agree: {}", ours.get());
}
