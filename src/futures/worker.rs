//! What a thread knows about itself as an executor worker: the pool it serves and the futures
//! it is running right now. The no-self-deadlock rule reads both (see the
//! [module documentation](super)).

#![allow(
    clippy::missing_const_for_thread_local,
    reason = "the facade's loom and shuttle `thread_local!` take no `const` initializer"
)]

use crate::sync::thread_local;
use std::cell::{Cell, RefCell};

thread_local! {
    /// The identity of the pool this thread works for (0 on other threads), and the worker's
    /// index in it.
    static POOL: Cell<(usize, usize)> = Cell::new((0, 0));
    /// The identities of the futures whose tasks run on this thread, innermost last: a worker
    /// that waits for a future it has not started runs it here, on top of its own task.
    static RUNNING: RefCell<Vec<usize>> = RefCell::new(Vec::new());
}

/// Marks this thread as worker `index` of `pool` (a non-zero identity).
pub(super) fn serve(pool: usize, index: usize) {
    POOL.with(|current| current.set((pool, index)));
}

/// Whether this thread is a worker of `pool`.
pub(super) fn serves(pool: usize) -> bool {
    index_in(pool).is_some()
}

/// This thread's index among the workers of `pool`, if it is one of them.
pub(super) fn index_in(pool: usize) -> Option<usize> {
    let (serving, index) = POOL.with(Cell::get);
    (pool != 0 && serving == pool).then_some(index)
}

/// Runs `task`, the task of `future`, recording it as running on this thread meanwhile.
/// `task` must not unwind (the caller catches panics).
pub(super) fn running<R>(future: usize, task: impl FnOnce() -> R) -> R {
    RUNNING.with(|running| running.borrow_mut().push(future));
    let outcome = task();
    RUNNING.with(|running| running.borrow_mut().pop());
    outcome
}

/// Whether this thread is running `future`'s task (somewhere below the current frame).
pub(super) fn is_running_here(future: usize) -> bool {
    RUNNING.with(|running| running.borrow().contains(&future))
}
