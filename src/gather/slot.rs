//! One key's slot and a leaf of them: the per-slot protocol of the gatherer (see the module
//! documentation of `crate::gather`, "Slots").

use crate::sync::{spin_loop, yield_now, AtomicU8, Ordering, UnsafeCell};
use crate::unwind::Teardown;
use std::mem::MaybeUninit;

/// Bits of a key that pick its slot within a leaf: small under the checkers, so that leaves
/// are created, drained and retired inside small models.
pub(super) const LEAF_BITS: u32 = if cfg!(loom) {
    1
} else if cfg!(any(miri, shuttle)) {
    2
} else {
    8
};

/// Slots per leaf.
pub(super) const LEAF_SLOTS: usize = 1 << LEAF_BITS;

/// No value.
const EMPTY: u8 = 0;
/// Holds a value.
const FULL: u8 = 1;
/// One thread has the slot to itself (writing, moving out or cloning its value).
const BUSY: u8 = 2;
/// Closed by a sweep of its leaf (see [`Leaf::close`]).
const DEAD: u8 = 3;

/// Spin rounds (doubling) before a waiter for a busy slot yields instead.
const SPIN_ROUNDS: u32 = 4;

/// One key's state and value (inline: no allocation per entry).
struct Slot<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Consecutive keys' slots.
pub(super) struct Leaf<T> {
    slots: [Slot<T>; LEAF_SLOTS],
}

/// What a reader does with a present value.
pub(super) enum Read<T> {
    /// Leave it, clone it.
    Clone(fn(&T) -> T),
    /// Move it out, leaving the slot empty.
    Take,
}

impl<T> Clone for Read<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Read<T> {}

/// Waits a little for the holder of a busy slot or a closing leaf: spins, then yields (so a
/// preempted holder can run, and the model checkers see every wait as a scheduling point).
pub(super) fn backoff(round: &mut u32) {
    if *round < SPIN_ROUNDS {
        for _ in 0..1u32 << *round {
            spin_loop();
        }
        *round += 1;
    } else {
        yield_now();
    }
}

/// Puts a cloning reader's slot back to `FULL` however the clone ends, a panic included.
struct Unbusy<'a>(&'a AtomicU8);

impl Drop for Unbusy<'_> {
    fn drop(&mut self) {
        // Release: the value is intact; pairs with the Acquire of the next holder's CAS.
        self.0.store(FULL, Ordering::Release);
    }
}

impl<T> Leaf<T> {
    pub(super) fn new() -> Box<Self> {
        Box::new(Self {
            slots: std::array::from_fn(|_| Slot {
                state: AtomicU8::new(EMPTY),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }),
        })
    }

    fn slot(&self, key: u64) -> &Slot<T> {
        &self.slots[key as usize % LEAF_SLOTS]
    }

    /// Stores `value` for `key`, returning the value it replaces; `Err` gives `value` back if
    /// the leaf is closed or closing (the caller looks the leaf up again).
    pub(super) fn put(&self, key: u64, value: T) -> Result<Option<T>, T> {
        let slot = self.slot(key);
        let mut round = 0;
        let was = loop {
            // Relaxed: only picks which CAS to try.
            let seen = match slot.state.load(Ordering::Relaxed) {
                DEAD => return Err(value),
                BUSY => {
                    backoff(&mut round);
                    continue;
                }
                seen => seen,
            };
            // Acquire: pairs with the Release (or SeqCst) store that ended the last holder's
            // turn, so its accesses to the value happen before ours. Failure Relaxed: retried.
            if slot
                .state
                .compare_exchange(seen, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                break seen;
            }
        };
        // SAFETY: BUSY gives this thread the value to itself; it is initialized iff the slot
        // was FULL.
        let old = slot.value.with_mut(|cell| unsafe {
            let old = (was == FULL).then(|| (*cell).assume_init_read());
            (*cell).write(value);
            old
        });
        // SeqCst: publishes the value (Release; pairs with the readers' Acquire CAS) and is
        // the change the fence-free wake-up pairs with ("Memory orderings").
        slot.state.store(FULL, Ordering::SeqCst);
        Ok(old)
    }

    /// The value of `key` read as `read` says, or `None` if there is none (an empty slot, or
    /// one closed by a sweep).
    pub(super) fn get(&self, key: u64, read: Read<T>) -> Option<T> {
        let slot = self.slot(key);
        let mut round = 0;
        loop {
            // Acquire: the wake-up re-check (see "Memory orderings"); the CAS below acquires
            // the value.
            match slot.state.load(Ordering::Acquire) {
                FULL => {}
                BUSY => {
                    backoff(&mut round);
                    continue;
                }
                _ => return None,
            }
            // Acquire: pairs with the SeqCst store of `put` (or the Release that ended a
            // clone), so the value is visible. Failure Relaxed: retried.
            if slot
                .state
                .compare_exchange(FULL, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            return Some(match read {
                Read::Take => {
                    // SAFETY: BUSY gives this thread the value, which FULL says is there;
                    // the EMPTY below records that it moved out.
                    let value = slot
                        .value
                        .with(|cell| unsafe { (*cell).assume_init_read() });
                    // Release: ends our turn; pairs with the next holder's Acquire CAS.
                    slot.state.store(EMPTY, Ordering::Release);
                    value
                }
                Read::Clone(clone) => {
                    let _unbusy = Unbusy(&slot.state);
                    // SAFETY: as above; the value stays, and `_unbusy` makes it FULL again.
                    slot.value
                        .with(|cell| clone(unsafe { (*cell).assume_init_ref() }))
                }
            });
        }
    }

    /// Closes every slot if all are empty (`true`: no value can be stored here any more, and
    /// the leaf can be unlinked); otherwise reopens the ones it closed and returns `false`.
    pub(super) fn close(&self) -> bool {
        for (closed, slot) in self.slots.iter().enumerate() {
            // Acquire: pairs with the Release store of the last holder, so its access to the
            // value happens before the reopening store below, and so before any later
            // holder's. Failure Relaxed: the sweep stops.
            if slot
                .state
                .compare_exchange(EMPTY, DEAD, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                for slot in &self.slots[..closed] {
                    // Release: hands the slot on (see the Acquire above).
                    slot.state.store(EMPTY, Ordering::Release);
                }
                return false;
            }
        }
        true
    }

    /// How many slots hold a value (a snapshot).
    pub(super) fn count(&self) -> usize {
        self.slots
            .iter()
            // Relaxed: a snapshot; nothing is read through it.
            .filter(|slot| slot.state.load(Ordering::Relaxed) == FULL)
            .count()
    }

    /// Drops the values left in the leaf (the structure is being dropped).
    pub(super) fn drop_values(&mut self, teardown: &mut Teardown) {
        for slot in &self.slots {
            // Relaxed: `&mut self` is exclusive; whatever handed it over synchronized.
            if slot.state.load(Ordering::Relaxed) == FULL {
                // SAFETY: FULL says the value is initialized, and nobody else can reach it.
                teardown.run(|| {
                    drop(
                        slot.value
                            .with(|cell| unsafe { (*cell).assume_init_read() }),
                    )
                });
            }
        }
    }
}
