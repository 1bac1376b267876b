//! A fetch-and-add queue on linked segments of inline cells: the fast path of Yang &
//! Mellor-Crummey, "A wait-free queue as fast as fetch-and-add" (PPoPP 2016), without its
//! wait-free slow path, with the per-segment indices and the pre-filled appended segment of
//! Correia & Ramalhete's FAAArrayQueue (2016) for lock-freedom, and a closing mark for
//! shutdown.
//!
//! # Algorithm
//! The queue is a linked list of segments, each an array of [`SEGMENT_CELLS`] cells with its
//! own `head` and `tail` counters; a cell's global index is its segment's `base` plus its
//! position. A push takes a *ticket* with one fetch-and-add on the tail segment's `tail`,
//! writes its value into that cell and marks it `FULL` with a CAS. A pop checks that a ticket
//! is ahead of `head` (so an empty queue is left untouched), takes a ticket with a
//! fetch-and-add on `head`, and reads the cell. No allocation per item: values live in the
//! cells, and a segment is allocated once per [`SEGMENT_CELLS`] pushes.
//!
//! A consumer whose cell is still empty — its producer took the ticket but has not written
//! yet, or no producer has that ticket at all because consumers overshot `tail` — waits a few
//! spins for a producer that holds the ticket, then *poisons* the cell with a CAS and takes
//! another ticket; the producer's CAS then fails and it takes another ticket too. Neither
//! waits for the other.
//!
//! A push whose ticket is past the end of its segment appends a new segment *that already
//! holds its value in cell 0* (its `tail` starts at 1) with one CAS on the old segment's
//! `next`: the CAS that links the segment completes the push. A loser of that race keeps its
//! segment as the queue's spare (it was never published), so the next append does not call
//! the allocator, and moves to the winner's segment. A pop whose segment is exhausted (every
//! cell ticketed) moves `head` to the next segment and retires the old one, once.
//!
//! `close` links the *closed mark* where the next segment would go and then sets [`CLOSED`]
//! in the last segment's `tail`: no ticket taken after that succeeds, and no segment can be
//! appended after the mark. A push that finds the mark first sets the bit itself before it
//! fails, and so does a pop, so nobody depends on a preempted closer.
//!
//! Compared with crossbeam's `SegQueue`, which claims indices with a CAS and never poisons
//! (a pop that overtakes a producer waits for it), tickets here cost one uncontended-style RMW
//! each and nobody waits for anybody; compared with LCRQ and LPRQ (Romanov & Koval, PPoPP
//! 2023), segments are not reused rings, so no cell needs a cycle tag, and an appended segment
//! needs no "closed ring" protocol beyond the pre-filled cell.
//!
//! # Invariants
//! 1. Every ticket of a segment is taken at most once per side: each cell gets at most one
//!    producer and at most one consumer.
//! 2. A cell goes `EMPTY → FULL` (by its producer) or `EMPTY → POISONED` (by its consumer),
//!    once; a consumer reads the value only after seeing `FULL`, and owns it then.
//! 3. A segment's `next` goes from null to a segment or to the closed mark, once; a segment is
//!    appended only after its predecessor's `tail` reached [`SEGMENT_CELLS`].
//! 4. `tail` (the pointer) never lags behind `head`: a pop that moves `head` past a segment
//!    first moves `tail` past it. A segment is retired only after `head` left it, once.
//! 5. In a retired segment every cell is ticketed by a consumer, so every value it held was
//!    (or is being, under the consumer's protection) taken: dropping it drops no value.
//! 6. Quiescent, `tail − head` over global indices is the number of values: cells below `head`
//!    are taken or poisoned, cells from `head` up to `tail` hold values, and a push that fails
//!    after `CLOSED` gives its ticket back.
//!
//! # Progress
//! Lock-free. Every failed step consumes a ticket of a segment or loses a CAS to another
//! thread's success: a producer retries only when its cell was poisoned (a consumer used one
//! of the segment's [`SEGMENT_CELLS`] head tickets) or its ticket was past the end; a consumer
//! retries only after poisoning (one of the segment's tail tickets is lost to it). A segment
//! has finitely many tickets, so in any stretch of the execution in which no operation
//! completes, every segment runs out of tickets after finitely many steps; then a producer
//! appends, and the append CAS of one of them succeeds — which completes that push. A failed
//! append CAS means another push completed. Hence some operation always completes. (The
//! fast-path-only design of Yang & Mellor-Crummey is not lock-free on its own: a producer and
//! a consumer can keep defeating each other forever at ever new indices. Bounding the indices
//! per segment and completing a push with the append is what rules that out here.)
//!
//! # Reclamation
//! Segments are retired through `R` (epochs by default), one retirement per
//! [`SEGMENT_CELLS`] values: slot 0 protects the segment an operation works in, slot 1 the
//! successor while `head` moves, validated by `head` still being its predecessor (as in the
//! Michael–Scott queue, a protected unchanged `head` proves its successor was never retired).
//!
//! # Memory orderings
//! * The ticket fetch-and-add on `tail` and the append CAS are `SeqCst`: they are the RMW the
//!   wake-up layer's fence-free notify pairs with, and pops re-check emptiness with `SeqCst`
//!   loads of `head`, `tail` and `next` (see `crate::event_count`, "Why no wake-up is lost").
//!   On x86-64 both cost what any RMW costs; `SeqCst` loads cost what `Acquire` loads do.
//! * A cell's `FULL` CAS is `Release`, publishing the value; the consumer's `Acquire` load of
//!   the state (or the `Acquire` failure of its poisoning CAS) pairs with it.
//! * The append CAS publishes the new segment (its cell 0, `base`, counters) to every thread
//!   that loads `next` or the pointers with `Acquire`; the swings of `head`/`tail` are
//!   `Release` for the same reason.
//! * The head ticket is `Relaxed`: its atomicity makes it unique, and the cell's state
//!   publishes the value.

use super::Popped;
use crate::reclaim::{DropBox, Guard, Reclaimer};
use crate::sync::{spin_loop, AtomicPtr, AtomicU64, AtomicU8, CachePadded, Ordering, UnsafeCell};
use crate::unwind::Teardown;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

/// Cells per segment: small under the checkers, so that appends, hand-overs and retirement run.
pub(super) const SEGMENT_CELLS: usize = if cfg!(loom) {
    2
} else if cfg!(any(miri, shuttle)) {
    4
} else {
    64
};

/// Set in a segment's `tail` by `close`: every ticket taken afterwards fails.
const CLOSED: u64 = 1 << 63;

/// Spin rounds (doubling) a consumer waits for the producer that holds its cell's ticket
/// before it poisons the cell.
const PATIENCE: u32 = if cfg!(loom) { 0 } else { 6 };

/// Ordering of the CAS that marks a cell FULL: Release publishes the value; pairs with the
/// consumer's Acquire load of the state. `cfg(concurrency_mutant = "fill_without_release")`
/// drops it so that the loom suite can show it catches the missing edge.
const FILL: Ordering = if cfg!(concurrency_mutant = "fill_without_release") {
    Ordering::Relaxed // the mutant: no Release
} else {
    Ordering::Release // pairs with the consumer's Acquire load of the state
};

/// No value yet.
const EMPTY: u8 = 0;
/// Holds a value (until its one consumer takes it).
const FULL: u8 = 1;
/// Its consumer gave up on it; its producer takes another ticket.
const POISONED: u8 = 2;

struct Cell<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// `head` and `tail` are written by different threads, so the cells lie between them rather
/// than both being cache-padded: padding would make the segment 128-byte aligned, and glibc
/// serves aligned allocations on a slow path (measured: 30 instructions per push+pop).
#[repr(C)]
struct Segment<T> {
    /// The next consumer ticket (may run past the end).
    head: AtomicU64,
    /// The next segment, null, or the closed mark.
    next: AtomicPtr<Segment<T>>,
    /// The global index of cell 0. Written before the segment is published, never again.
    base: u64,
    cells: [Cell<T>; SEGMENT_CELLS],
    /// The next producer ticket (may run past the end), with [`CLOSED`].
    tail: AtomicU64,
}

// The closed mark is the address 1, which no segment can have.
const _: () = assert!(std::mem::align_of::<AtomicU64>() > 1);

fn closed<T>() -> *mut Segment<T> {
    ptr::without_provenance_mut(1)
}

impl<T> Segment<T> {
    fn new() -> Box<Self> {
        Box::new(Self {
            head: AtomicU64::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
            base: 0,
            cells: std::array::from_fn(|_| Cell {
                state: AtomicU8::new(EMPTY),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            tail: AtomicU64::new(0),
        })
    }
}

/// What a failed append leaves the pusher with.
enum Appended<T> {
    Done,
    Retry(T),
    Closed(T),
}

pub(super) struct SegQueue<T, R: Reclaimer> {
    head: CachePadded<AtomicPtr<Segment<T>>>,
    tail: CachePadded<AtomicPtr<Segment<T>>>,
    /// A never-published segment kept for the next append, or null.
    spare: AtomicPtr<Segment<T>>,
    reclaimer: R,
    owns: PhantomData<Box<Segment<T>>>,
}

// SAFETY: values move between threads through the queue (`T: Send`) but are never shared: each
// is taken by exactly one consumer (invariant 2), so `T: Sync` is not needed.
unsafe impl<T: Send, R: Reclaimer> Send for SegQueue<T, R> {}
// SAFETY: as above; every shared access goes through atomics and the reclamation protocol.
unsafe impl<T: Send, R: Reclaimer> Sync for SegQueue<T, R> {}

impl<T: Send + 'static, R: Reclaimer> SegQueue<T, R> {
    pub(super) fn new() -> Self {
        let first = Box::into_raw(Segment::new());
        Self {
            head: CachePadded::new(AtomicPtr::new(first)),
            tail: CachePadded::new(AtomicPtr::new(first)),
            spare: AtomicPtr::new(ptr::null_mut()),
            reclaimer: R::default(),
            owns: PhantomData,
        }
    }

    /// Appends `value`, or hands it back if the queue is closed.
    pub(super) fn push(&self, mut value: T) -> Result<(), T> {
        let mut guard = self.reclaimer.guard();
        loop {
            let last = guard.protect(0, &self.tail);
            // SAFETY: protected, and never null.
            let segment = unsafe { &*last };
            // SeqCst: takes the ticket, and is the RMW the fence-free wake-up pairs with (see
            // "Memory orderings").
            let ticket = segment.tail.fetch_add(1, Ordering::SeqCst);
            if ticket & CLOSED != 0 {
                // Relaxed: gives the ticket back so that `len` stays exact (invariant 6); it
                // publishes nothing.
                segment.tail.fetch_sub(1, Ordering::Relaxed);
                return Err(value);
            }
            let Some(cell) = segment.cells.get(ticket as usize) else {
                match self.append(last, value) {
                    Appended::Done => return Ok(()),
                    Appended::Retry(back) => value = back,
                    Appended::Closed(back) => return Err(back),
                }
                continue;
            };
            crate::sync::stall_point("segmented::push::ticketed");
            // SAFETY: the ticket makes this thread the cell's only producer (invariant 1), and
            // no consumer reads the value before it is FULL (invariant 2).
            cell.value.with_mut(|slot| unsafe { (*slot).write(value) });
            // FILL: publishes the value; pairs with the consumer's Acquire load of the state.
            // Failure Relaxed: the consumer poisoned the cell and never reads the value.
            match cell
                .state
                .compare_exchange(EMPTY, FULL, FILL, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                // SAFETY: the value written above was never published: take it back.
                Err(_) => {
                    value = cell
                        .value
                        .with(|slot| unsafe { (*slot).assume_init_read() })
                }
            }
        }
    }

    /// Appends a segment holding `value` after the full segment `last`.
    fn append(&self, last: *mut Segment<T>, value: T) -> Appended<T> {
        // SAFETY: `last` is protected by the caller's guard.
        let segment = unsafe { &*last };
        // Acquire: pairs with the append CAS that linked the successor.
        let next = segment.next.load(Ordering::Acquire);
        if next == closed() {
            Self::seal(segment);
            return Appended::Closed(value);
        }
        if !next.is_null() {
            self.swing_tail(last, next);
            return Appended::Retry(value);
        }
        let fresh = self.fresh_segment(segment.base + SEGMENT_CELLS as u64, value);
        // SeqCst: completes the push, so it is the RMW the fence-free wake-up pairs with; it
        // also publishes the fresh segment (Release). Failure Acquire: for the helping below.
        match segment.next.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::SeqCst,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.swing_tail(last, fresh);
                Appended::Done
            }
            Err(now) => {
                // SAFETY: `fresh` was never published.
                let value = unsafe { self.keep_spare(fresh) };
                if now == closed() {
                    Self::seal(segment);
                    Appended::Closed(value)
                } else {
                    self.swing_tail(last, now);
                    Appended::Retry(value)
                }
            }
        }
    }

    /// An unpublished segment starting at global index `base`, holding `value` in cell 0.
    fn fresh_segment(&self, base: u64, value: T) -> *mut Segment<T> {
        // Acquire: pairs with the Release in `keep_spare`, for the spare's reset cell.
        let spare = self.spare.swap(ptr::null_mut(), Ordering::Acquire);
        let fresh = if spare.is_null() {
            Box::into_raw(Segment::new())
        } else {
            spare
        };
        // SAFETY: `fresh` is unpublished, so this thread has it to itself.
        let segment = unsafe { &mut *fresh };
        segment.base = base;
        // SAFETY: as above; cell 0 is empty (new, or reset by `keep_spare`).
        segment.cells[0]
            .value
            .with_mut(|slot| unsafe { (*slot).write(value) });
        // Relaxed: the segment is published, if at all, by the append CAS (Release).
        segment.cells[0].state.store(FULL, Ordering::Relaxed);
        // Relaxed: as above.
        segment.tail.store(1, Ordering::Relaxed);
        fresh
    }

    /// Takes the value back out of cell 0 of `fresh` and keeps the segment as the spare (or
    /// frees it if there is one already).
    ///
    /// # Safety
    /// `fresh` came from `fresh_segment` and was never published.
    unsafe fn keep_spare(&self, fresh: *mut Segment<T>) -> T {
        // SAFETY: unpublished (the caller's condition), so this thread has it to itself.
        let segment = unsafe { &mut *fresh };
        // SAFETY: `fresh_segment` wrote the value; it is taken once, here.
        let value = segment.cells[0]
            .value
            .with(|slot| unsafe { (*slot).assume_init_read() });
        // Relaxed: reset before the hand-over below, which publishes it.
        segment.cells[0].state.store(EMPTY, Ordering::Relaxed);
        // Release: hands the reset segment over; pairs with the Acquire swap in
        // `fresh_segment`. Failure Relaxed: there is a spare already, and this one is freed.
        if self
            .spare
            .compare_exchange(ptr::null_mut(), fresh, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: unpublished and not kept: this thread owns the box.
            drop(unsafe { Box::from_raw(fresh) });
        }
        value
    }

    /// Moves `tail` from `from` to its successor `to`, if nobody did yet.
    fn swing_tail(&self, from: *mut Segment<T>, to: *mut Segment<T>) {
        // Release: readers of `tail` see the successor's contents. Failure Relaxed: helped.
        let _ = self
            .tail
            .compare_exchange(from, to, Ordering::Release, Ordering::Relaxed);
    }

    /// Sets [`CLOSED`] in the last segment, whose `next` holds the closed mark.
    fn seal(last: &Segment<T>) {
        // SeqCst: pops decide "closed" from a SeqCst load of `tail`.
        last.tail.fetch_or(CLOSED, Ordering::SeqCst);
    }

    /// A guard of the queue's reclaimer (see `ConcurrentQueue::hold_guard`).
    pub(super) fn guard(&self) -> R::Guard<'_> {
        self.reclaimer.guard()
    }

    /// Removes the oldest value, if any.
    pub(super) fn try_pop(&self) -> Popped<T> {
        let mut guard = self.reclaimer.guard();
        'segments: loop {
            let first = guard.protect(0, &self.head);
            // SAFETY: protected, and never null.
            let segment = unsafe { &*first };
            loop {
                // SeqCst: the emptiness re-check the fence-free wake-up relies on (see
                // "Memory orderings"); likewise for `tail` and `next` below.
                let head = segment.head.load(Ordering::SeqCst);
                // SeqCst: as above.
                let tail = segment.tail.load(Ordering::SeqCst);
                let ticketed = (tail & !CLOSED).min(SEGMENT_CELLS as u64);
                if head < ticketed {
                    // Relaxed: the ticket's uniqueness is atomicity; the cell state publishes.
                    let ticket = segment.head.fetch_add(1, Ordering::Relaxed);
                    if let Some(cell) = segment.cells.get(ticket as usize) {
                        if let Some(value) = Self::take(segment, ticket, cell) {
                            return Popped::Item(value);
                        }
                    }
                    continue;
                }
                if head < SEGMENT_CELLS as u64 {
                    if tail & CLOSED != 0 {
                        return Popped::Closed;
                    }
                    // SeqCst: as above.
                    if segment.next.load(Ordering::SeqCst) == closed() {
                        Self::seal(segment);
                        continue;
                    }
                    return Popped::Empty;
                }
                // Every cell is ticketed: move on to the next segment, if there is one.
                // SeqCst: as above.
                let next = segment.next.load(Ordering::SeqCst);
                if next.is_null() {
                    return Popped::Empty;
                }
                if next == closed() {
                    return Popped::Closed;
                }
                // Relaxed: only compared; the load of `next` above synchronizes.
                let still_head = || self.head.load(Ordering::Relaxed) == first;
                if !guard.protect_if(1, next, still_head) {
                    continue 'segments;
                }
                // Invariant 4: `tail` leaves the segment before `head` does.
                // Relaxed: only compared.
                if self.tail.load(Ordering::Relaxed) == first {
                    self.swing_tail(first, next);
                }
                // Release: installs the successor for readers of `head`. Failure Relaxed:
                // another pop moved it; start over.
                if self
                    .head
                    .compare_exchange(first, next, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
                {
                    // SAFETY: `first` left `head` through this thread's CAS, and `tail` had
                    // left it before (invariant 4): no shared location holds it any more. It
                    // came from `Box::into_raw`, is retired once, and holds no value
                    // (invariant 5).
                    unsafe { guard.retire::<Segment<T>, DropBox>(first) };
                }
                continue 'segments;
            }
        }
    }

    /// Takes the value of `cell` (ticket `ticket` of `segment`), or poisons the cell when its
    /// producer is late; `None` after poisoning.
    fn take(segment: &Segment<T>, ticket: u64, cell: &Cell<T>) -> Option<T> {
        let mut round = 0;
        loop {
            // Acquire: pairs with the producer's Release CAS, publishing the value.
            if cell.state.load(Ordering::Acquire) == FULL {
                break;
            }
            // Wait for the producer only if one holds the ticket; otherwise poison at once.
            // Relaxed: a stale value only shortens the wait.
            let producer_on_it = ticket < segment.tail.load(Ordering::Relaxed) & !CLOSED;
            if !producer_on_it || round == PATIENCE {
                // Relaxed on success: poisoning publishes nothing. Acquire on failure: the
                // producer made the cell FULL meanwhile, and its value is ours.
                match cell.state.compare_exchange(
                    EMPTY,
                    POISONED,
                    Ordering::Relaxed,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return None,
                    Err(_) => break,
                }
            }
            for _ in 0..1u32 << round {
                spin_loop();
            }
            round += 1;
        }
        // SAFETY: the cell is FULL (seen with Acquire, so the value is visible), and the ticket
        // makes this thread its only consumer (invariant 1).
        Some(
            cell.value
                .with(|slot| unsafe { (*slot).assume_init_read() }),
        )
    }

    /// Closes the queue: every later push fails. Idempotent.
    pub(super) fn close(&self) {
        let mut guard = self.reclaimer.guard();
        loop {
            let last = guard.protect(0, &self.tail);
            // SAFETY: protected, and never null.
            let segment = unsafe { &*last };
            // Acquire: pairs with the append CAS, for the helping swing.
            let next = segment.next.load(Ordering::Acquire);
            if next == closed() {
                Self::seal(segment);
                return;
            }
            if !next.is_null() {
                self.swing_tail(last, next);
                continue;
            }
            // Relaxed: the mark publishes no data; `seal` below orders the close for pops.
            // Failure Relaxed: a segment was appended; start over from `tail`.
            if segment
                .next
                .compare_exchange(
                    ptr::null_mut(),
                    closed(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                Self::seal(segment);
                return;
            }
        }
    }

    /// Whether a pop could find a value now: the emptiness test of `try_pop`, with its
    /// `SeqCst` loads, without taking a ticket (a poisoned cell may make it say `true` in
    /// vain). For a waiter that hands a wake-up over (`crate::event_count`, searching).
    pub(super) fn has_values(&self) -> bool {
        let mut guard = self.reclaimer.guard();
        let first = guard.protect(0, &self.head);
        // SAFETY: protected, and never null.
        let segment = unsafe { &*first };
        // SeqCst: the loads of `try_pop`'s emptiness test (see "Memory orderings"); likewise
        // below.
        let head = segment.head.load(Ordering::SeqCst);
        // SeqCst: as above.
        let tail = segment.tail.load(Ordering::SeqCst);
        if head < (tail & !CLOSED).min(SEGMENT_CELLS as u64) {
            return true;
        }
        // An appended segment holds its appender's value in cell 0.
        // SeqCst: as above.
        let next = segment.next.load(Ordering::SeqCst);
        head >= SEGMENT_CELLS as u64 && !next.is_null() && next != closed()
    }

    /// The number of values, exact when nothing runs concurrently (invariant 6); never more
    /// than the values that were in the queue at some moment during the call.
    pub(super) fn len(&self) -> usize {
        let mut guard = self.reclaimer.guard();
        // Tail first: a stale tail can only under-count, a stale head could over-count.
        let last = guard.protect(0, &self.tail);
        // SAFETY: protected and non-null.
        let last = unsafe { &*last };
        // Relaxed: a snapshot.
        let tail =
            last.base + (last.tail.load(Ordering::Relaxed) & !CLOSED).min(SEGMENT_CELLS as u64);
        let first = guard.protect(1, &self.head);
        // SAFETY: protected and non-null.
        let first = unsafe { &*first };
        // Relaxed: a snapshot.
        let head = first.base + first.head.load(Ordering::Relaxed).min(SEGMENT_CELLS as u64);
        tail.saturating_sub(head) as usize
    }
}

impl<T, R: Reclaimer> Drop for SegQueue<T, R> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` is exclusive; whatever handed the queue here synchronized it.
        let spare = self.spare.load(Ordering::Relaxed);
        if !spare.is_null() {
            // SAFETY: the spare is owned by the queue, unpublished, and holds no value.
            drop(unsafe { Box::from_raw(spare) });
        }
        let mut teardown = Teardown::default();
        // Relaxed: as above.
        let mut next = self.head.load(Ordering::Relaxed);
        while !next.is_null() && next != closed() {
            // SAFETY: exclusive ownership: every segment from `head` on is owned by the queue
            // and linked once.
            let segment = unsafe { Box::from_raw(next) };
            // Relaxed: as above.
            let from = segment
                .head
                .load(Ordering::Relaxed)
                .min(SEGMENT_CELLS as u64) as usize;
            for cell in &segment.cells[from..] {
                // Relaxed: as above.
                if cell.state.load(Ordering::Relaxed) == FULL {
                    // SAFETY: a FULL cell at or after `head` holds a value nobody took
                    // (invariant 6), and nobody else can take it now.
                    teardown.run(|| {
                        drop(
                            cell.value
                                .with(|slot| unsafe { (*slot).assume_init_read() }),
                        )
                    });
                }
            }
            // Relaxed: as above.
            next = segment.next.load(Ordering::Relaxed);
        }
        teardown.finish();
    }
}
