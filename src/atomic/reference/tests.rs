use super::*;
use crate::reclaim::{Epoch, HazardPointers};
use crate::sync::{AtomicUsize, Ordering::SeqCst};
use crate::test_support::{assert_drops_settle, Tracked};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

/// Runs a test body on both production reclaimers.
macro_rules! on_every_reclaimer {
    ($($name:ident),* $(,)?) => {
        mod epoch { $(#[test] fn $name() { super::$name::<super::Epoch>() })* }
        mod hazard_pointers { $(#[test] fn $name() { super::$name::<super::HazardPointers>() })* }
    };
}

on_every_reclaimer!(
    sequential_semantics,
    compare_exchange_is_by_identity,
    every_value_dropped_exactly_once_under_contention,
    readers_see_only_intact_values,
    a_panicking_thread_leaks_nothing,
    load_guard_keeps_a_replaced_value_alive,
);

fn sequential_semantics<R: Reclaimer>() {
    let r = AtomicReference::<_, R>::with_reclaimer(1);
    assert_eq!(*r.get(), 1);
    assert_eq!(*r.load(), 1);
    r.set(2);
    assert_eq!(*r.exchange(3), 2);
    r.set(Arc::new(4));
    assert_eq!(*r.get(), 4);
    assert_eq!(format!("{r:?}"), "AtomicReference(4)");
    assert_eq!(format!("{:?}", r.load()), "RefGuard(4)");
    let d = AtomicReference::<String, R>::default();
    assert_eq!(*d.get(), "");
}

fn compare_exchange_is_by_identity<R: Reclaimer>() {
    let r = AtomicReference::<_, R>::with_reclaimer(10);
    let equal_but_other = Arc::new(10);
    assert!(!r.compare_exchange(&equal_but_other, 11));
    let seen = r.get();
    assert!(r.compare_exchange(&seen, 12));
    assert!(!r.compare_exchange(&seen, 13));
    assert_eq!(*r.get(), 12);
}

fn every_value_dropped_exactly_once_under_contention<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let threads = 4u64;
    let rounds = if cfg!(miri) { 20 } else { 2_000 };
    let made = {
        let r = AtomicReference::<_, R>::with_reclaimer(Tracked::new(0, &drops));
        thread::scope(|s| {
            for t in 0..threads {
                let (r, drops) = (&r, &drops);
                s.spawn(move || {
                    for i in 0..rounds {
                        let id = 1 + t * rounds + i;
                        match i % 4 {
                            0 => r.set(Tracked::new(id, drops)),
                            1 => drop(r.exchange(Tracked::new(id, drops))),
                            2 => {
                                let seen = r.get();
                                r.compare_exchange(&seen, Tracked::new(id, drops));
                            }
                            _ => {
                                r.load().verify();
                            }
                        }
                    }
                });
            }
        });
        1 + threads as usize * (rounds as usize / 4 * 3)
    };
    assert_drops_settle(&drops, made);
}

fn readers_see_only_intact_values<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let writes = if cfg!(miri) { 30 } else { 5_000 };
    {
        let r = AtomicReference::<_, R>::with_reclaimer(Tracked::new(0, &drops));
        thread::scope(|s| {
            s.spawn(|| {
                for id in 1..=writes {
                    r.set(Tracked::new(id, &drops));
                }
            });
            for _ in 0..2 {
                s.spawn(|| {
                    let mut last = 0;
                    while last < writes {
                        let now = r.get().verify();
                        assert!(now >= last, "went back from {last} to {now}");
                        last = r.load().verify().max(now);
                    }
                });
            }
        });
    }
    assert_drops_settle(&drops, writes as usize + 1);
}

fn a_panicking_thread_leaks_nothing<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let r = AtomicReference::<_, R>::with_reclaimer(Tracked::new(0, &drops));
        let outcome = thread::scope(|s| {
            s.spawn(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    let _held = r.get();
                    let _borrowed = r.load();
                    r.set(Tracked::new(1, &drops));
                    panic!("task failed midway");
                }))
            })
            .join()
        });
        assert!(outcome.unwrap().is_err());
        r.set(Tracked::new(2, &drops));
        assert_eq!(r.get().verify(), 2);
    }
    assert_drops_settle(&drops, 3);
}

fn load_guard_keeps_a_replaced_value_alive<R: Reclaimer>() {
    let drops = Arc::new(AtomicUsize::new(0));
    let r = AtomicReference::<_, R>::with_reclaimer(Tracked::new(7, &drops));
    let guard = r.load();
    for id in 8..40 {
        r.set(Tracked::new(id, &drops));
    }
    assert_eq!(guard.verify(), 7);
    drop(guard);
    drop(r);
    assert_drops_settle(&drops, 33);
}

#[test]
fn reference_is_send_and_sync_when_its_value_is() {
    fn shareable<X: Send + Sync>() {}
    shareable::<AtomicReference<String>>();
    shareable::<AtomicReference<Vec<u8>, HazardPointers>>();
    shareable::<AtomicReference<u8, Epoch>>();
}

#[test]
fn hazard_pointers_dispose_when_the_reference_drops() {
    let drops = Arc::new(AtomicUsize::new(0));
    let r = AtomicReference::<_, HazardPointers>::with_reclaimer(Tracked::new(0, &drops));
    for id in 1..10 {
        r.set(Tracked::new(id, &drops));
    }
    drop(r);
    assert_eq!(
        drops.load(SeqCst),
        10,
        "a private domain frees everything on drop"
    );
}
