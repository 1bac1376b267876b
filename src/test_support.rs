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
/// every domain is private and frees everything when dropped), then asserts the exact count:
/// fewer drops is a leak, more is a double drop.
pub(crate) fn assert_drops_settle(drops: &AtomicUsize, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cfg!(miri) && drops.load(Ordering::SeqCst) < expected && Instant::now() < deadline {
        crossbeam_epoch::pin().flush();
        std::thread::yield_now();
    }
    assert_eq!(drops.load(Ordering::SeqCst), expected, "values dropped");
}
