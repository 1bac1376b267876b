//! Awaiting futures from `async` code: a minimal `block_on`, tokio, and the registration of
//! wakers (kept while pending, replaced on a re-poll, unlinked on drop).

use super::super::*;
use crate::sync::{Arc, AtomicUsize, Ordering::SeqCst};
use std::future::{Future as _, IntoFuture};
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

/// Wakes a parked thread: the whole runtime `block_on` needs.
struct Unparker(thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready, parking in between.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// Counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_minimal_block_on_awaits_a_future_another_thread_completes() {
    let f = Future::new();
    let completer = {
        let f = f.clone();
        thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(10));
            f.set_result(String::from("awaited")).unwrap();
        })
    };
    assert_eq!(block_on(async { (&f).await }).unwrap(), "awaited");
    completer.join().unwrap();
    assert_eq!(f.watcher_count(), 0);
}

#[test]
fn awaiting_gives_what_result_gives() {
    let failed = Future::<u8>::new();
    failed.set_exception(TaskError::new("no luck")).unwrap();
    let cancelled = Future::<u8>::new();
    assert!(cancelled.cancel());
    assert!(
        matches!(block_on(failed.into_future()), Err(FutureError::Failed(e)) if e.to_string() == "no luck")
    );
    assert!(matches!(
        block_on(cancelled.into_future()),
        Err(FutureError::Cancelled)
    ));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "tokio's runtime is exercised natively; block_on covers Miri"
)]
fn tokio_awaits_the_futures_of_a_pool() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    let fs: Vec<_> = (1..=8u64)
        .map(|i| pool.submit(move || i * i).unwrap())
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let total = runtime.block_on(async {
        let mut total = 0;
        for f in fs {
            total += f.await.unwrap();
        }
        total
    });
    assert_eq!(total, 204);
}

#[test]
fn a_pending_await_registers_its_waker_and_dropping_it_unlinks_it() {
    let f = Future::<u32>::new();
    let mut awaiting = f.clone().into_future();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    assert!(Pin::new(&mut awaiting).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut awaiting).poll(&mut cx).is_pending());
    assert_eq!(f.watcher_count(), 1, "a re-poll registers nothing more");
    drop(awaiting);
    assert_eq!(f.watcher_count(), 0, "dropping the await unlinks its waker");
    f.set_result(1).unwrap();
}

#[test]
fn a_repoll_with_another_waker_moves_the_wake_up_to_it() {
    let f = Future::<u32>::new();
    let mut awaiting = f.clone().into_future();
    let (first, second) = (
        Arc::new(CountingWaker::default()),
        Arc::new(CountingWaker::default()),
    );
    for counter in [&first, &second] {
        let waker = Waker::from(Arc::clone(counter));
        assert!(Pin::new(&mut awaiting)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }
    f.set_result(3).unwrap();
    assert_eq!((first.0.load(SeqCst), second.0.load(SeqCst)), (0, 1));
    let waker = Waker::from(second);
    assert!(matches!(
        Pin::new(&mut awaiting).poll(&mut Context::from_waker(&waker)),
        Poll::Ready(Ok(3))
    ));
}
