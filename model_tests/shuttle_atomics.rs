//! shuttle models of the atomics: random and PCT schedules over more threads and longer
//! histories than loom can afford. shuttle treats every atomic as `SeqCst`, so these are
//! evidence about interleavings, never about orderings (that is loom's and Miri's job).
//! `AtomicReference` runs on the model-only `Quarantine` reclaimer, which turns a would-be
//! use-after-free into a panic.
//!
//! Run: `RUSTFLAGS="--cfg shuttle" cargo test --release --no-default-features --test shuttle_atomics`.
//! `SHUTTLE_ITERATIONS` scales every test (default 10 000 schedules per scheduler).
#![cfg(shuttle)]

mod support;

use support::check;

use concurrency::reclaim::Quarantine;
use concurrency::{AtomicFlag, AtomicInt64, AtomicReference};
use shuttle::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use shuttle::sync::Mutex;
use shuttle::thread;
use std::collections::HashSet;
use std::sync::Arc;

#[test]
fn int64_counts_every_increment() {
    check("int64 4 threads × incr/decr/add", || {
        let a = Arc::new(AtomicInt64::new(0));
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let a = Arc::clone(&a);
                thread::spawn(move || {
                    for _ in 0..3 {
                        a.incr();
                        a.add(t);
                        a.decr();
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(a.get(), 3 * (1 + 2 + 3));
    });
}

#[test]
fn int64_cas_loops_lose_nothing() {
    check("int64 mul ∥ mul ∥ mul ∥ compare_exchange", || {
        let a = Arc::new(AtomicInt64::new(1));
        let multipliers: Vec<_> = [2, 3, 5]
            .into_iter()
            .map(|m| {
                let a = Arc::clone(&a);
                thread::spawn(move || {
                    a.mul(m);
                })
            })
            .collect();
        let mut swapped = 0;
        loop {
            let seen = a.get();
            if a.compare_exchange(seen, seen * 7).is_ok() {
                swapped += 1;
                break;
            }
        }
        for m in multipliers {
            m.join().unwrap();
        }
        assert_eq!((swapped, a.get()), (1, 2 * 3 * 5 * 7));
    });
}

#[test]
fn flag_hands_over_a_message() {
    check("flag message passing", || {
        let message = Arc::new(AtomicInt64::new(0));
        let ready = Arc::new(AtomicFlag::new(false));
        let sender = {
            let (message, ready) = (Arc::clone(&message), Arc::clone(&ready));
            thread::spawn(move || {
                message.set(42);
                ready.set(true);
            })
        };
        while !ready.get() {
            thread::yield_now();
        }
        assert_eq!(message.get(), 42);
        sender.join().unwrap();
    });
}

/// A value whose drops are counted; reading it after a free would trip its checksum.
struct Tracked {
    id: usize,
    check: usize,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: usize, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            id,
            check: !id,
            drops: Arc::clone(drops),
        }
    }

    fn verify(&self) -> usize {
        assert_eq!(
            self.check, !self.id,
            "value {} read torn or after free",
            self.id
        );
        self.id
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.verify();
        self.check = 0;
        self.drops.fetch_add(1, SeqCst);
    }
}

/// Four threads mix set / exchange / compare_exchange / get / load. Every value is dropped
/// exactly once; every value an `exchange` or a winning `compare_exchange` took out was installed
/// once and taken out once.
#[test]
fn reference_mixed_operations() {
    check("reference 4 threads mixed", || {
        let drops = Arc::new(AtomicUsize::new(0));
        let taken_out = Arc::new(Mutex::new(Vec::new()));
        let r = Arc::new(AtomicReference::<_, Quarantine>::with_reclaimer(
            Tracked::new(0, &drops),
        ));
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (r, drops, taken_out) =
                    (Arc::clone(&r), Arc::clone(&drops), Arc::clone(&taken_out));
                thread::spawn(move || {
                    for i in 0..3 {
                        let id = 1 + t * 3 + i;
                        match (t + i) % 4 {
                            0 => r.set(Tracked::new(id, &drops)),
                            1 => {
                                let old = r.exchange(Tracked::new(id, &drops));
                                taken_out.lock().unwrap().push(old.verify());
                            }
                            2 => {
                                let seen = r.get();
                                if r.compare_exchange(&seen, Tracked::new(id, &drops)) {
                                    taken_out.lock().unwrap().push(seen.verify());
                                }
                            }
                            _ => {
                                r.load().verify();
                            }
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let installed = 1
            + (0..4)
                .flat_map(|t| (0..3).map(move |i| (t + i) % 4))
                .filter(|k| *k != 3)
                .count();
        let last = r.get().verify();
        let taken_out = taken_out.lock().unwrap();
        let distinct: HashSet<_> = taken_out.iter().collect();
        assert_eq!(
            distinct.len(),
            taken_out.len(),
            "a value was taken out twice"
        );
        assert!(
            !distinct.contains(&last),
            "the current value was also taken out"
        );
        drop(r);
        assert_eq!(
            drops.load(SeqCst),
            installed,
            "every value dropped exactly once"
        );
    });
}

/// A reader racing a writer protects only values that were not retired yet. With
/// `--cfg concurrency_mutant="unvalidated_protect"` the validation is skipped, and the
/// quarantine must report the use-after-free a real hazard pointer would have allowed.
#[test]
#[cfg_attr(
    concurrency_mutant = "unvalidated_protect",
    should_panic(expected = "use after free")
)]
fn reference_reader_never_reaches_a_retired_value() {
    check("reference reader ∥ writer", || {
        let drops = Arc::new(AtomicUsize::new(0));
        let r = Arc::new(AtomicReference::<_, Quarantine>::with_reclaimer(
            Tracked::new(0, &drops),
        ));
        let writer = {
            let (r, drops) = (Arc::clone(&r), Arc::clone(&drops));
            thread::spawn(move || {
                for id in 1..=3 {
                    r.set(Tracked::new(id, &drops));
                }
            })
        };
        let mut last = 0;
        for _ in 0..3 {
            let now = r.load().verify();
            assert!(now >= last);
            last = now;
        }
        writer.join().unwrap();
        drop(r);
        assert_eq!(drops.load(SeqCst), 4);
    });
}
