//! The atomics through their public API only, on real threads.

use concurrency::reclaim::HazardPointers;
use concurrency::{AtomicFlag, AtomicInt64, AtomicReference, DivisionByZero};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread;

const THREADS: usize = 4;
const ROUNDS: i64 = 10_000;

#[test]
fn int64_increments_are_never_lost() {
    let a = AtomicInt64::new(0);
    thread::scope(|s| {
        for t in 0..THREADS as i64 {
            let a = &a;
            s.spawn(move || {
                for _ in 0..ROUNDS {
                    a.incr();
                    a.add(t);
                    a.sub(t);
                    a.decr();
                    a.incr();
                }
            });
        }
    });
    assert_eq!(a.get(), THREADS as i64 * ROUNDS);
}

#[test]
fn int64_compare_exchange_hands_out_each_ticket_once() {
    let next = AtomicInt64::new(0);
    let taken = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let mut mine = Vec::new();
                while mine.len() < 1000 {
                    let seen = next.get();
                    if next.compare_exchange(seen, seen + 1) == Ok(seen) {
                        mine.push(seen);
                    }
                }
                taken.lock().unwrap().extend(mine);
            });
        }
    });
    let taken = taken.into_inner().unwrap();
    let distinct: HashSet<_> = taken.iter().collect();
    assert_eq!(distinct.len(), taken.len());
    assert_eq!(next.get(), taken.len() as i64);
}

#[test]
fn int64_cas_loops_compose() {
    // mul by -1 an even number of times in total leaves the sign; interleaved xor pairs cancel.
    let a = AtomicInt64::new(5);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..1000 {
                    a.mul(-1);
                    a.xor(0b1000_0000);
                    a.xor(0b1000_0000);
                }
            });
        }
    });
    assert_eq!(a.get(), 5);
    assert_eq!(a.floordiv(0), Err(DivisionByZero));
    assert_eq!(a.floordiv(-2), Ok(-3));
}

#[test]
fn flag_stops_a_spinning_thread() {
    let stop = Arc::new(AtomicFlag::default());
    let spinner = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.get() {
                thread::yield_now();
            }
        })
    };
    stop.set(true);
    spinner.join().unwrap();
    assert_eq!(format!("{:?}", AtomicFlag::from(true)), "AtomicFlag(true)");
}

#[test]
fn reference_compare_exchange_counts_every_winner_once() {
    let r = AtomicReference::<u64, HazardPointers>::with_reclaimer(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..2000 {
                    loop {
                        let seen = r.get();
                        if r.compare_exchange(&seen, *seen + 1) {
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(*r.get(), THREADS as u64 * 2000);
}

#[test]
fn reference_exchange_returns_each_value_once() {
    let r = AtomicReference::new(0u64);
    let returned = Mutex::new(Vec::new());
    thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let (r, returned) = (&r, &returned);
            s.spawn(move || {
                let mine: Vec<u64> = (1..=1000).map(|i| *r.exchange(t * 1000 + i)).collect();
                returned.lock().unwrap().extend(mine);
            });
        }
    });
    let mut returned = returned.into_inner().unwrap();
    returned.push(*r.get());
    let distinct: HashSet<_> = returned.iter().collect();
    assert_eq!(distinct.len(), returned.len(), "a value came out twice");
    assert_eq!(
        returned.len(),
        THREADS * 1000 + 1,
        "every value came out once"
    );
}

#[test]
fn every_public_type_is_shareable_and_debug() {
    fn shareable<T: Send + Sync + std::fmt::Debug>() {}
    shareable::<AtomicInt64>();
    shareable::<AtomicFlag>();
    shareable::<AtomicReference<String>>();
    shareable::<AtomicReference<String, HazardPointers>>();
    shareable::<DivisionByZero>();
    let _: &dyn std::error::Error = &DivisionByZero;
}
