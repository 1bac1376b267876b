//! `WorkerDeque`: a worker's own queue of jobs, which other workers steal from.
//!
//! # Algorithm
//! The work-stealing deque of Chase and Lev ("Dynamic circular work-stealing deque", SPAA
//! 2005), with the C11 orderings of Lê, Pop, Cohen and Zappa Nardelli ("Correct and efficient
//! work-stealing for weak memory models", PPoPP 2013), on a fixed ring of [`CAPACITY`] slots:
//! a push to a full deque is refused and goes to the pool's shared queue instead, so the ring
//! never grows and no buffer is ever reclaimed. The owner pushes and takes at the bottom
//! (newest first, where its caches are warm); thieves steal at the top (oldest first) with a
//! CAS on `top`. The owner's take of the last job races the thieves through the same CAS.
//!
//! # Invariants
//! 1. `top <= bottom + 1` always, and `top <= bottom` outside the owner's `take`; the jobs are
//!    the slots `top..bottom` (modulo the ring).
//! 2. A job belongs to whoever advances `top` past its slot (a thief's CAS, or the owner's CAS
//!    for the last job), or to the owner when it takes `bottom - 1` with `top` still below it.
//! 3. The owner writes a slot only at `bottom`, with `bottom - top < CAPACITY` seen after the
//!    last steal it knows of, so it never overwrites a job. A thief may read a slot the owner
//!    overwrote after other thieves moved `top` on; its CAS then fails and it drops what it
//!    read (the slots are atomics, so that read is no data race).
//!
//! # Progress
//! Push and take are wait-free; a steal is lock-free (its CAS fails only when another steal or
//! the owner's take of the last job succeeded).
//!
//! # Memory orderings
//! See the comments at each operation; the two `SeqCst` fences are the paper's, and order the
//! owner's write of `bottom` before its read of `top` (take) against a thief's read of `top`
//! before its read of `bottom` (steal): the store→load pattern no weaker ordering gives. Every
//! store of `bottom` is `Release`, the take's too (the paper's are relaxed): a thief's
//! `Acquire` load synchronizes with whichever store it reads, and a `Relaxed` store would not
//! continue the release sequence of the push before it, so a thief that read a lowered
//! `bottom` could read a slot as never written (Miri found it, on the aarch64 target; the loom
//! model `a_thief_sees_every_slot_below_the_bottom_it_read` crashes on it).

use super::cell::Job;
use crate::sync::{fence, AtomicIsize, AtomicPtr, Ordering};
use std::fmt;
use std::ptr;

/// Slots in a worker's ring: jobs beyond it go to the shared queue.
pub(super) const CAPACITY: usize = 256;

/// A worker's deque: see the [module documentation](self).
pub(super) struct WorkerDeque {
    top: AtomicIsize,
    bottom: AtomicIsize,
    slots: Box<[AtomicPtr<()>]>,
}

/// What a steal found.
pub(super) enum Steal {
    Empty,
    /// Lost a race to another steal or to the owner: there may be more.
    Retry,
    Taken(Job),
}

impl WorkerDeque {
    pub(super) fn new() -> Self {
        Self {
            top: AtomicIsize::new(0),
            bottom: AtomicIsize::new(0),
            slots: (0..CAPACITY)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
        }
    }

    fn slot(&self, index: isize) -> &AtomicPtr<()> {
        &self.slots[index.rem_euclid(CAPACITY as isize) as usize]
    }

    /// Pushes `job` at the bottom; gives it back if the ring is full. Owner only.
    pub(super) fn push(&self, job: Job) -> Result<(), Job> {
        // Relaxed: only the owner writes `bottom`.
        let bottom = self.bottom.load(Ordering::Relaxed);
        // Acquire: pairs with the SeqCst CAS of a steal, so the slot it emptied is free to
        // overwrite (invariant 3).
        let top = self.top.load(Ordering::Acquire);
        if bottom - top >= CAPACITY as isize {
            return Err(job);
        }
        // Relaxed: the Release store of `bottom` below publishes it.
        self.slot(bottom).store(job.into_raw(), Ordering::Relaxed);
        // Release: pairs with the Acquire load of `bottom` in `steal`; a thief that sees the
        // new bottom sees the slot and the job's cell. (The paper's Release fence before a
        // relaxed store orders the same writes; a Release store is what ThreadSanitizer sees.)
        self.bottom.store(bottom + 1, Ordering::Release);
        Ok(())
    }

    /// Takes the newest job. Owner only.
    pub(super) fn take(&self) -> Option<Job> {
        // Relaxed: only the owner writes `bottom`.
        let bottom = self.bottom.load(Ordering::Relaxed) - 1;
        // Release: pairs with the Acquire load of `bottom` in `steal`, like the push's store: a
        // thief that reads the lowered value sees every slot below it. (A Relaxed store does
        // not continue the pushes' Release: a thief that read it took a never-written slot as
        // a job; Miri found it.) The fence below orders it before the read of `top`.
        self.bottom.store(bottom, Ordering::Release);
        // SeqCst: the store of `bottom` above before the load of `top` below, against the
        // fence of `steal` (module documentation). The mutant `take_without_fence` drops it,
        // for loom to catch a job taken twice.
        if !cfg!(concurrency_mutant = "take_without_fence") {
            fence(Ordering::SeqCst);
        }
        // Relaxed: the fence orders it.
        let top = self.top.load(Ordering::Relaxed);
        if top > bottom {
            // Empty: restore.
            // Release: as the store above.
            self.bottom.store(bottom + 1, Ordering::Release);
            return None;
        }
        // Relaxed: the owner wrote it itself (or a thief that read it lost its CAS).
        let job = self.slot(bottom).load(Ordering::Relaxed);
        if top < bottom {
            // SAFETY: `bottom - 1` is the owner's (invariant 2): no thief reaches it while
            // `top` is below it.
            return Some(unsafe { Job::from_raw(job) });
        }
        // The last job: race the thieves for it.
        // SeqCst on success: the paper's; a thief's CAS on `top` and this one are totally
        // ordered. Relaxed on failure: a thief took it.
        let won = self
            .top
            .compare_exchange(top, top + 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok();
        // Release: as the store above; the deque is empty either way.
        self.bottom.store(bottom + 1, Ordering::Release);
        // SAFETY: the CAS moved `top` past the slot, so the job is this thread's
        // (invariant 2).
        won.then(|| unsafe { Job::from_raw(job) })
    }

    /// Steals the oldest job. Any thread.
    pub(super) fn steal(&self) -> Steal {
        // Acquire: pairs with the SeqCst CAS of an earlier steal, so the slot read below is
        // not one that steal emptied and the owner refilled before this load.
        let top = self.top.load(Ordering::Acquire);
        // SeqCst: orders the load of `top` above before the load of `bottom` below, against
        // the fence of `take` (module documentation).
        fence(Ordering::SeqCst);
        // Acquire: pairs with the Release store of `bottom` in `push`, so the slot is visible.
        let bottom = self.bottom.load(Ordering::Acquire);
        if top >= bottom {
            return Steal::Empty;
        }
        // Relaxed: published by the store of `bottom` in `push`; discarded unless the CAS
        // below wins.
        let job = self.slot(top).load(Ordering::Relaxed);
        // SeqCst on success: the paper's (see `take`). Relaxed on failure: another took it.
        match self
            .top
            .compare_exchange(top, top + 1, Ordering::SeqCst, Ordering::Relaxed)
        {
            // SAFETY: the CAS moved `top` past the slot: the job is this thread's
            // (invariant 2), and the slot held it (invariant 3).
            Ok(_) => Steal::Taken(unsafe { Job::from_raw(job) }),
            Err(_) => Steal::Retry,
        }
    }

    /// Whether the deque looks empty (a snapshot, for hints).
    pub(super) fn is_empty(&self) -> bool {
        // Relaxed, both: a hint.
        self.bottom.load(Ordering::Relaxed) <= self.top.load(Ordering::Relaxed)
    }

    /// How many jobs it holds, about (a snapshot, for `Debug`).
    pub(super) fn len(&self) -> usize {
        // Relaxed, both: a snapshot.
        let bottom = self.bottom.load(Ordering::Relaxed);
        let top = self.top.load(Ordering::Relaxed);
        usize::try_from(bottom - top).unwrap_or(0)
    }
}

impl Drop for WorkerDeque {
    fn drop(&mut self) {
        // Exclusive: every job left is this deque's.
        while self.take().is_some() {}
    }
}

impl fmt::Debug for WorkerDeque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerDeque")
            .field("len", &self.len())
            .finish()
    }
}
