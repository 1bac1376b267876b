//! The task cell: one allocation per future, holding its reference count, its state word (with
//! its watchers), its outcome and, for an executor's future, the task closure in place.
//!
//! # Layout
//! `Cell<T, F>` starts with `Shared<T>`, which starts with [`Header`] (all `repr(C)`), so one
//! thin pointer serves as a `Header` (for the executor's queue, which does not know `T`), as a
//! `Shared<T>` (for [`Future<T>`](super::Future), which does not know `F`) and as the whole
//! cell (for the functions of its [`VTable`], which know both).
//!
//! # Invariants
//! 1. The closure is owned by the thread that moves the state out of `PENDING`: a runner (the
//!    `PENDING → RUNNING` CAS of [`Cell::run`]) takes it and calls it; a canceller, a
//!    completer or an owner calling `set_running_or_notify_cancel` drops it. A cell freed while
//!    still `PENDING` drops it then. So it is dropped or called exactly once.
//! 2. `refs` counts the [`Future`](super::Future) handles and the [`Job`] of the cell; the one
//!    that drops it to zero frees the cell, its outcome and the watchers still registered.
//!
//! # Memory orderings
//! The reference count is `std::sync::Arc`'s: an increment is `Relaxed` (a new reference is made
//! from an existing one, so the cell is alive), a decrement `Release`, and the last one loads
//! the count with `Acquire` before freeing, so every use of the cell through another reference
//! happens before the free. The closure is written before the cell is shared; whoever takes it
//! received the cell through a synchronizing hand-over (the queue, a clone sent to a thread).

use super::watchers::{StateWord, PENDING};
use super::{Future, TaskError};
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// What a finished future holds.
pub(super) enum Outcome<T> {
    Value(T),
    Failed(TaskError),
    /// The executor broke before the task could run; the message says why.
    Broken(String),
}

/// The part of a cell that does not depend on its types.
#[repr(C)]
pub(super) struct Header {
    refs: AtomicUsize,
    vtable: &'static VTable,
    /// The identity of the executor whose task this is; 0 for a future made with `new`.
    pub(super) pool: usize,
}

/// The operations that need the cell's types, for holders of a [`Header`] pointer.
pub(super) struct VTable {
    /// Runs the task if it is still pending (see [`Cell::run`]); whether it ran.
    run: unsafe fn(NonNull<Header>, &mut dyn FnMut()) -> bool,
    cancel: unsafe fn(NonNull<Header>),
    fail: unsafe fn(NonNull<Header>, &str),
    /// Drops the closure (invariant 1).
    drop_task: unsafe fn(NonNull<Header>),
    dealloc: unsafe fn(NonNull<Header>),
}

/// What every future has.
#[repr(C)]
pub(super) struct Shared<T> {
    pub(super) header: Header,
    pub(super) state: StateWord<T>,
    /// Written once by the completer, before it stores `FINISHED`.
    pub(super) outcome: UnsafeCell<Option<Outcome<T>>>,
}

/// An executor's future: the shared part and the closure.
#[repr(C)]
struct Cell<T, F> {
    shared: Shared<T>,
    task: UnsafeCell<ManuallyDrop<F>>,
}

impl<T> Shared<T> {
    fn header(pool: usize, vtable: &'static VTable) -> Self {
        Self {
            header: Header {
                refs: AtomicUsize::new(1),
                vtable,
                pool,
            },
            state: StateWord::new(),
            outcome: UnsafeCell::new(None),
        }
    }

    /// A cell without a task, for [`Future::new`](super::Future::new); one reference.
    pub(super) fn plain() -> NonNull<Self> {
        NonNull::from(Box::leak(Box::new(Self::header(0, &Self::PLAIN))))
    }

    const PLAIN: VTable = VTable {
        run: |_, _| false,
        cancel: Self::cancel,
        fail: Self::fail,
        drop_task: |_| {},
        dealloc: |header| {
            // SAFETY: a plain cell is a boxed `Shared<T>` (`plain`), and the caller holds the
            // last reference.
            drop(unsafe { Box::from_raw(header.cast::<Self>().as_ptr()) });
        },
    };

    /// # Safety
    /// `header` is the header of a live `Shared<T>`.
    unsafe fn cancel(header: NonNull<Header>) {
        // SAFETY: by the caller's guarantee.
        unsafe { Future::<T>::borrow(header.cast()) }.cancel();
    }

    /// # Safety
    /// As for `cancel`.
    unsafe fn fail(header: NonNull<Header>, why: &str) {
        // SAFETY: by the caller's guarantee.
        unsafe { Future::<T>::borrow(header.cast()) }.set_broken(why.to_owned());
    }

    /// Runs the task of a pending future, if it has one; whether it ran.
    pub(super) fn run(&self, before_completing: &mut dyn FnMut()) -> bool {
        // SAFETY: `self` is alive, and the vtable is that of its cell.
        unsafe { (self.header.vtable.run)(NonNull::from(&self.header), before_completing) }
    }

    /// Drops the task: for the thread that moved the state out of `PENDING` (invariant 1).
    pub(super) fn drop_task(&self) {
        // SAFETY: as for `run`; the caller owns the closure.
        unsafe { (self.header.vtable.drop_task)(NonNull::from(&self.header)) }
    }
}

impl<T: Send + Sync + 'static, F: FnOnce() -> T + Send + 'static> Cell<T, F> {
    const VTABLE: VTable = VTable {
        run: Self::run,
        cancel: Shared::<T>::cancel,
        fail: Shared::<T>::fail,
        drop_task: Self::drop_task,
        dealloc: Self::dealloc,
    };

    /// # Safety
    /// `header` is the header of a live `Cell<T, F>`.
    unsafe fn run(header: NonNull<Header>, before_completing: &mut dyn FnMut()) -> bool {
        // SAFETY: by the caller's guarantee.
        let future = unsafe { Future::<T>::borrow(header.cast()) };
        if !future.start() {
            return false;
        }
        // SAFETY: the start won PENDING → RUNNING, so the closure is this thread's
        // (invariant 1), and it is taken once.
        let task = unsafe { Self::take_task(header) };
        future.run_task(task, before_completing);
        true
    }

    /// # Safety
    /// `header` is the header of a live `Cell<T, F>` whose closure the caller owns and that
    /// nobody took yet (invariant 1).
    unsafe fn take_task(header: NonNull<Header>) -> F {
        // SAFETY: by the caller's guarantee.
        let cell = unsafe { header.cast::<Self>().as_ref() };
        // SAFETY: by the caller's guarantee, this thread alone touches the closure.
        cell.task
            .with_mut(|task| unsafe { ManuallyDrop::take(&mut *task) })
    }

    /// # Safety
    /// As for `take_task`.
    unsafe fn drop_task(header: NonNull<Header>) {
        // SAFETY: by the caller's guarantee.
        drop(unsafe { Self::take_task(header) });
    }

    /// # Safety
    /// `header` is the header of a `Cell<T, F>` whose last reference the caller dropped.
    unsafe fn dealloc(header: NonNull<Header>) {
        // SAFETY: by the caller's guarantee the cell is boxed (`with_task`) and unshared.
        let cell = unsafe { Box::from_raw(header.cast::<Self>().as_ptr()) };
        if cell.shared.state.state() == PENDING {
            // SAFETY: never moved out of PENDING, so nobody took the closure (invariant 1),
            // and the box is the only access to it.
            cell.task
                .with_mut(|task| unsafe { ManuallyDrop::drop(&mut *task) });
        }
        drop(cell);
    }
}

/// Makes an executor's future and its job: one allocation, two references.
pub(super) fn with_task<T, F>(pool: usize, task: F) -> (Future<T>, Job)
where
    T: Send + Sync + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let cell = Box::new(Cell {
        shared: Shared::<T>::header(pool, &Cell::<T, F>::VTABLE),
        task: UnsafeCell::new(ManuallyDrop::new(task)),
    });
    // Relaxed: the cell is not shared yet.
    cell.shared.header.refs.store(2, Ordering::Relaxed);
    let header = NonNull::from(Box::leak(cell)).cast::<Header>();
    // SAFETY: the cell is a `Cell<T, F>`, so its start is a `Shared<T>`; one of the two
    // references is the future's, the other the job's.
    (unsafe { Future::from_cell(header.cast()) }, Job { header })
}

/// Adds a reference to the cell of `header`.
pub(super) fn acquire(header: &Header) {
    // Relaxed: see the module documentation.
    let before = header.refs.fetch_add(1, Ordering::Relaxed);
    // As `Arc`: a count this high means references leak in a loop; stop before it wraps.
    if before > isize::MAX as usize {
        std::process::abort();
    }
}

/// Drops a reference to the cell of `header`, freeing it if it was the last.
///
/// # Safety
/// The caller owns one reference, and does not use it afterwards.
pub(super) unsafe fn release(header: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive until here.
    let refs = unsafe { &header.as_ref().refs };
    // Release: pairs with the Acquire load below, in the thread that frees the cell.
    if refs.fetch_sub(1, Ordering::Release) == 1 {
        // Acquire: pairs with the Release decrements of the other references: this load reads
        // the decrement above, the last of their release sequence. A load rather than an
        // Acquire fence, which ThreadSanitizer does not model (std's `Arc` does the same under
        // it).
        refs.load(Ordering::Acquire);
        // SAFETY: the last reference; the vtable is the cell's own.
        unsafe { (header.as_ref().vtable.dealloc)(header) };
    }
}

/// The executor's reference to a queued task: a thin pointer to its cell.
pub(super) struct Job {
    header: NonNull<Header>,
}

// SAFETY: a job only runs, cancels or fails its future through the vtable, which the cell's
// `T: Send + Sync` and `F: Send` make safe from any thread.
unsafe impl Send for Job {}

impl Job {
    /// Runs the task unless it was cancelled, completed or taken by a waiting worker;
    /// `before_completing` runs between the task's return and the completion of its future.
    pub(super) fn run(&self, before_completing: &mut dyn FnMut()) {
        // SAFETY: the job's reference keeps the cell alive; the vtable is its own.
        unsafe { (self.header.as_ref().vtable.run)(self.header, before_completing) };
    }

    pub(super) fn cancel(&self) {
        // SAFETY: as for `run`.
        unsafe { (self.header.as_ref().vtable.cancel)(self.header) };
    }

    /// Fails the future because the pool broke.
    pub(super) fn fail(&self, why: &str) {
        // SAFETY: as for `run`.
        unsafe { (self.header.as_ref().vtable.fail)(self.header, why) };
    }
}

impl Job {
    /// The job as a raw pointer, which keeps its reference (for the deques' atomic slots).
    pub(super) fn into_raw(self) -> *mut () {
        let raw = self.header.as_ptr().cast();
        std::mem::forget(self);
        raw
    }

    /// The job `into_raw` made.
    ///
    /// # Safety
    /// `raw` came from `into_raw`, and its reference is given back once.
    pub(super) unsafe fn from_raw(raw: *mut ()) -> Self {
        Self {
            // SAFETY: `into_raw` took it from a non-null header.
            header: unsafe { NonNull::new_unchecked(raw.cast()) },
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the job owns one reference and is gone after this.
        unsafe { release(self.header) };
    }
}
