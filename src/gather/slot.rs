//! One key's slot and a leaf of them: the per-slot protocol of the gatherer (see the module
//! documentation of `crate::gather`, "Slots").

use crate::sync::{spin_loop, yield_now, AtomicBool, AtomicU8, Ordering, UnsafeCell};
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

/// Spin rounds (doubling) before a waiter for a busy slot yields instead.
const SPIN_ROUNDS: u32 = 4;

/// One key's state and value (inline: no allocation per entry).
struct Slot<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Consecutive keys' slots. `closing` comes after the slots, away from the lines producers are
/// filling (for `T = u64` it sits alone on the line after the last slot).
pub(super) struct Leaf<T> {
    slots: [Slot<T>; LEAF_SLOTS],
    /// Set by a sweep (see [`Leaf::close`]); stays set once the sweep succeeded.
    closing: AtomicBool,
}

/// What an insertion did.
pub(super) struct Put<T> {
    /// The value it replaced.
    pub(super) replaced: Option<T>,
    /// A value to insert again in a fresh leaf: this one is closing.
    pub(super) retry: Option<T>,
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

impl<T> Slot<T> {
    /// Moves the slot to BUSY from its state, once no other thread holds it, if `from`
    /// accepts that state; returns the state it came from, or `None` if `from` refused it.
    fn acquire(&self, from: impl Fn(u8) -> bool) -> Option<u8> {
        loop {
            let seen = self.load_waiting();
            if !from(seen) {
                return None;
            }
            // Acquire: pairs with the Release (or SeqCst) store that ended the last holder's
            // turn, so its accesses to the value happen before ours. Failure Relaxed: retried.
            if self
                .state
                .compare_exchange(seen, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Some(seen);
            }
        }
    }

    /// The state, once no other thread holds the slot BUSY.
    fn load_waiting(&self) -> u8 {
        let mut round = 0;
        loop {
            // Acquire: the wake-up re-check reads the state with it (see "Memory orderings").
            match self.state.load(Ordering::Acquire) {
                BUSY => backoff(&mut round),
                state => return state,
            }
        }
    }

    /// Moves the value out of a slot this thread holds BUSY from FULL, leaving it EMPTY.
    fn take(&self) -> T {
        // SAFETY: the caller holds the slot BUSY from FULL, so the value is there and ours;
        // the EMPTY below records that it moved out.
        let value = self
            .value
            .with(|cell| unsafe { (*cell).assume_init_read() });
        // Release: ends our turn; pairs with the next holder's Acquire CAS.
        self.state.store(EMPTY, Ordering::Release);
        value
    }

    /// Takes back whatever value an insertion left in a closing leaf's slot; `None` if a
    /// reader took it first.
    fn retract(&self) -> Option<T> {
        self.acquire(|state| state == FULL).map(|_| self.take())
    }
}

impl<T> Leaf<T> {
    pub(super) fn new() -> Box<Self> {
        Box::new(Self {
            slots: std::array::from_fn(|_| Slot {
                state: AtomicU8::new(EMPTY),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            closing: AtomicBool::new(false),
        })
    }

    fn slot(&self, key: u64) -> &Slot<T> {
        &self.slots[key as usize % LEAF_SLOTS]
    }

    /// Stores `value` for `key`; if the leaf is closing, the value that cannot stay here (ours,
    /// or one stored after it) comes back in [`Put::retry`].
    pub(super) fn put(&self, key: u64, value: T) -> Put<T> {
        let slot = self.slot(key);
        // Every state but BUSY (which `acquire` waits out) takes a value.
        let was = slot.acquire(|_| true);
        // SAFETY: BUSY gives this thread the value to itself; it is initialized iff the slot
        // was FULL.
        let replaced = slot.value.with_mut(|cell| unsafe {
            let old = (was == Some(FULL)).then(|| (*cell).assume_init_read());
            (*cell).write(value);
            old
        });
        // SeqCst: publishes the value (Release; pairs with the readers' Acquire CAS); in the
        // single total order with the sweep's CAS of `closing` and its loads of the states
        // (see "Clearing and reclamation"); and the change the fence-free wake-up pairs with.
        slot.state.store(FULL, Ordering::SeqCst);
        // loom models SeqCst accesses as AcqRel: the fence gives it the store→load order.
        #[cfg(loom)]
        crate::sync::fence(Ordering::SeqCst);
        // SeqCst: the other half of the sweep's Dekker check (see above). The mutant
        // `put_without_closing_check` skips it, for the loom suite to catch the value it loses.
        let check = !cfg!(concurrency_mutant = "put_without_closing_check");
        let retry = if check && self.closing.load(Ordering::SeqCst) {
            slot.retract()
        } else {
            None
        };
        Put { replaced, retry }
    }

    /// The value of `key` read as `read` says, or `None` if the slot is empty.
    pub(super) fn get(&self, key: u64, read: Read<T>) -> Option<T> {
        let slot = self.slot(key);
        slot.acquire(|state| state == FULL)?;
        Some(match read {
            Read::Take => slot.take(),
            Read::Clone(clone) => {
                let _unbusy = Unbusy(&slot.state);
                // SAFETY: BUSY gives this thread the value, which FULL said is there; it
                // stays, and `_unbusy` makes the slot FULL again.
                slot.value
                    .with(|cell| clone(unsafe { (*cell).assume_init_ref() }))
            }
        })
    }

    /// Closes the leaf if every slot is empty (`true`: no value is here, and none will stay,
    /// so the leaf can be unlinked); otherwise, or if another sweep is under way, `false`.
    pub(super) fn close(&self) -> bool {
        // SeqCst: in the single total order with the insertions' stores and loads (see
        // `put`); only one sweep at a time, and a closed leaf stays closed. Failure Relaxed:
        // the other sweep decides.
        if self
            .closing
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // As in `put`.
        #[cfg(loom)]
        crate::sync::fence(Ordering::SeqCst);
        // SeqCst: the other half of the Dekker check with `put`; its Acquire half orders
        // every access a last holder made to the value before the leaf's disposal.
        let empty = (self.slots.iter()).all(|slot| slot.state.load(Ordering::SeqCst) == EMPTY);
        if !empty {
            // Relaxed: publishes nothing; inserters that saw the leaf closing retry.
            self.closing.store(false, Ordering::Relaxed);
        }
        empty
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
