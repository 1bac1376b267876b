//! `AtomicFlag`: a boolean shared between threads.
//!
//! One atomic byte; `get` and `set` are single wait-free instructions. Both are `SeqCst` for the
//! same reason as [`AtomicInt64`](super::AtomicInt64)'s: the flag is a building block of the
//! user's own protocols, and sequential consistency needs no explanation there.

use crate::sync::{AtomicBool, Ordering::SeqCst};
use std::fmt;

/// A boolean flag that any thread may read or set.
///
/// ```
/// use concurrency::AtomicFlag;
/// use std::sync::Arc;
///
/// let stop = Arc::new(AtomicFlag::default());
/// let worker = {
///     let stop = Arc::clone(&stop);
///     std::thread::spawn(move || {
///         let mut rounds = 0u64;
///         while !stop.get() {
///             rounds += 1;
///             std::hint::spin_loop();
///         }
///         rounds
///     })
/// };
/// stop.set(true);
/// worker.join().unwrap();
/// assert!(stop.get());
/// ```
#[derive(Default)]
pub struct AtomicFlag {
    value: AtomicBool,
}

impl AtomicFlag {
    /// Creates a flag holding `value`.
    ///
    /// ```
    /// assert!(concurrency::AtomicFlag::new(true).get());
    /// ```
    pub fn new(value: bool) -> Self {
        Self {
            value: AtomicBool::new(value),
        }
    }

    /// Sets the flag.
    ///
    /// ```
    /// let flag = concurrency::AtomicFlag::new(false);
    /// flag.set(true);
    /// assert!(flag.get());
    /// ```
    #[inline]
    pub fn set(&self, value: bool) {
        self.value.store(value, SeqCst);
    }

    /// Reads the flag.
    ///
    /// ```
    /// assert!(!concurrency::AtomicFlag::default().get());
    /// ```
    #[inline]
    pub fn get(&self) -> bool {
        self.value.load(SeqCst)
    }
}

impl From<bool> for AtomicFlag {
    fn from(value: bool) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for AtomicFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicFlag").field(&self.get()).finish()
    }
}
