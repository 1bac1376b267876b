//! Helpers shared by the unit tests.

use crate::sync::{Arc, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A value that counts its drops in a shared counter, and carries a checksum that a read of
/// freed or torn memory would break.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) id: u64,
    check: u64,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    pub(crate) fn new(id: u64, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            id,
            check: !id,
            drops: Arc::clone(drops),
        }
    }

    /// Panics unless the value is intact.
    pub(crate) fn verify(&self) -> u64 {
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
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits until `drops` reaches `expected`, driving the global epoch collector meanwhile (in
/// ordinary builds its garbage is freed by later pins, not when a structure drops; under Miri
/// every domain is private and frees everything when dropped, unless
/// `--cfg concurrency_global_epoch` keeps the global collector), then asserts the exact count:
/// fewer drops is a leak, more is a double drop.
pub(crate) fn assert_drops_settle(drops: &AtomicUsize, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let private_domains = cfg!(miri) && !cfg!(concurrency_global_epoch);
    while !private_domains && drops.load(Ordering::SeqCst) < expected && Instant::now() < deadline {
        crossbeam_epoch::pin().flush();
        std::thread::yield_now();
    }
    assert_eq!(drops.load(Ordering::SeqCst), expected, "values dropped");
}

/// A value whose destructor panics if it is armed, after counting its drop (the value is gone
/// either way). Its clones are unarmed and uncounted: only the original goes into a structure.
#[derive(Debug)]
pub(crate) struct Bomb {
    armed: bool,
    drops: Option<Arc<AtomicUsize>>,
}

impl Bomb {
    pub(crate) fn new(armed: bool, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            armed,
            drops: Some(Arc::clone(drops)),
        }
    }
}

impl Clone for Bomb {
    fn clone(&self) -> Self {
        Self {
            armed: false,
            drops: None,
        }
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        if let Some(drops) = &self.drops {
            drops.fetch_add(1, Ordering::SeqCst);
        }
        assert!(!self.armed, "an armed value's destructor panicked");
    }
}

/// Suspends one thread at a [`stall_point`](crate::sync::stall_point) until the test releases
/// it: a thread preempted mid-operation, for as long as the test likes.
pub(crate) struct Stall(Arc<StallState>);

struct StallState {
    point: &'static str,
    reached: crate::sync::AtomicBool,
    released: crate::sync::AtomicBool,
}

std::thread_local! {
    static ARMED: std::cell::RefCell<Option<Arc<StallState>>> = const { std::cell::RefCell::new(None) };
}

/// How long a test waits for a stalled thread to arrive, or for the others to complete.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(30);

impl Stall {
    pub(crate) fn new(point: &'static str) -> Self {
        Self(Arc::new(StallState {
            point,
            reached: crate::sync::AtomicBool::new(false),
            released: crate::sync::AtomicBool::new(false),
        }))
    }

    /// Arms the calling thread: the next time it passes the point, it stops there until
    /// [`release`](Self::release).
    pub(crate) fn arm(&self) {
        ARMED.with(|armed| *armed.borrow_mut() = Some(Arc::clone(&self.0)));
    }

    /// Waits until the armed thread stopped at the point.
    pub(crate) fn wait_reached(&self) {
        let deadline = Instant::now() + STALL_LIMIT;
        // SeqCst: a test handshake.
        while !self.0.reached.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "{} never reached", self.0.point);
            std::thread::yield_now();
        }
    }

    /// Lets the stalled thread go on.
    pub(crate) fn release(&self) {
        // SeqCst: a test handshake.
        self.0.released.store(true, Ordering::SeqCst);
    }
}

/// Stops here if this thread was armed for `point` (see [`Stall`]); once.
pub(crate) fn stall_here(point: &'static str) {
    let Some(stall) = ARMED.with(|armed| {
        let mut armed = armed.borrow_mut();
        armed.take_if(|stall| stall.point == point)
    }) else {
        return;
    };
    // SeqCst: a test handshake.
    stall.reached.store(true, Ordering::SeqCst);
    // SeqCst: as above.
    while !stall.released.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `work` on its own thread and panics unless it completes within [`STALL_LIMIT`]: what
/// the other threads must do while one is stalled.
pub(crate) fn completes_while_stalled(what: &str, work: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        work();
        let _ = done.send(());
    });
    assert!(
        finished.recv_timeout(STALL_LIMIT).is_ok(),
        "{what} did not complete while another thread was stalled: not lock-free"
    );
    worker.join().unwrap();
}
