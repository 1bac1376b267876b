//! Awaiting a [`Future`] from `async` code, in any runtime.
//!
//! `fut.await` goes through [`IntoFuture`]: [`Awaiting`] polls the state word, and on its
//! first `Pending` registers the task's waker on the future's watcher list, the list the
//! blocking waits use; a later poll replaces the waker if the task moved. The finisher wakes
//! it outside any lock. Dropping an `Awaiting` before it is ready withdraws its registration,
//! and the future unlinks it.
//!
//! # Why no wake-up is lost
//! The registration is a CAS on the state word, which fails once the future is done (then the
//! poll returns `Ready`). A poll that replaces the waker does it under the slot's mutex, then
//! re-checks the state; the finisher stores the final state, then takes the waker under that
//! mutex. Whichever locks second sees what the other did: the finisher wakes the new waker, or
//! the re-check sees the future done.

use super::waiter::WakerSlot;
use super::watchers::Watcher;
use super::{Future, FutureError};
use crate::sync::Arc;
use std::fmt;
use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The `std::future::Future` that `.await` on a [`Future`] runs; made by
/// [`IntoFuture::into_future`].
///
/// ```
/// use concurrency::futures::Future;
/// let f = Future::new();
/// f.set_result("ready").unwrap();
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(runtime.block_on(async { (&f).await }).unwrap(), "ready");
/// ```
pub struct Awaiting<T> {
    future: Future<T>,
    /// The registered waker, after the first `Pending`.
    slot: Option<Arc<WakerSlot>>,
}

impl<T: Clone> std::future::Future for Awaiting<T> {
    type Output = Result<T, FutureError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // The no-self-deadlock rule holds here too: a worker polling a future of its own pool
        // that has not started (say, through a `block_on` in its task) runs it.
        this.future.run_if_mine();
        if this.future.done() {
            return Poll::Ready(this.future.done_result());
        }
        match &this.slot {
            None => {
                let slot = Arc::new(WakerSlot::new(cx.waker()));
                if !this.future.watch(Watcher::Waker(Arc::clone(&slot))) {
                    return Poll::Ready(this.future.done_result());
                }
                this.slot = Some(slot);
            }
            Some(slot) => {
                slot.update(cx.waker());
                if this.future.done() {
                    return Poll::Ready(this.future.done_result());
                }
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for Awaiting<T> {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            slot.withdraw();
            self.future.prune();
        }
    }
}

impl<T: Clone> IntoFuture for Future<T> {
    type Output = Result<T, FutureError>;
    type IntoFuture = Awaiting<T>;

    fn into_future(self) -> Awaiting<T> {
        Awaiting {
            future: self,
            slot: None,
        }
    }
}

impl<T: Clone> IntoFuture for &Future<T> {
    type Output = Result<T, FutureError>;
    type IntoFuture = Awaiting<T>;

    fn into_future(self) -> Awaiting<T> {
        self.clone().into_future()
    }
}

impl<T> fmt::Debug for Awaiting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Awaiting")
            .field("future", &self.future)
            .field("registered", &self.slot.is_some())
            .finish()
    }
}
