//! Atomics in the shape of Python's `concurrency` module: [`AtomicInt64`], [`AtomicFlag`] and
//! [`AtomicReference`].

mod flag;
mod int64;
mod reference;

pub use flag::AtomicFlag;
pub use int64::{AtomicInt64, DivisionByZero};
pub use reference::{AtomicReference, RefGuard};
