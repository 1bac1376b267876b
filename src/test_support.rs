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
