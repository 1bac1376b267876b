//! `AtomicInt64`: a 64-bit integer on which every operation is one atomic step.
//!
//! # Algorithm
//! Operations the hardware has an RMW for (`add`, `sub`, `incr`, `decr`, the bitwise ones,
//! `exchange`, `compare_exchange`) are that one instruction (`lock xadd`, `lock or`, … on
//! x86-64). The others (`mul`, `floordiv`) are compare-and-swap loops: read, compute, CAS the
//! result in if the value did not change meanwhile.
//!
//! # Progress
//! Single-instruction operations are wait-free; the CAS loops are lock-free (a failed CAS means
//! another operation succeeded).
//!
//! # Memory orderings
//! Every operation is `SeqCst`. The integer has no partner structure to pair with: users build
//! their own protocols from it (counters, tickets, flags read by other threads), and sequential
//! consistency is the only ordering that needs no explanation there. On x86-64 an RMW costs the
//! same at any ordering; only `set` pays (an `xchg` instead of a `mov`).
//!
//! # Arithmetic
//! Everything wraps at 64 bits, like Python's `concurrency.AtomicInt64` on a 64-bit word
//! (`i64::MIN` negated, or floor-divided by −1, is `i64::MIN`). Division is Python's floor
//! division: `-7 // 2 == -4`.

use crate::sync::{AtomicI64, Ordering::SeqCst};
use std::cmp::Ordering;
use std::fmt;

/// A 64-bit signed integer on which every operation is atomic.
///
/// Mutating methods return the **new** value (except [`exchange`](Self::exchange) and
/// [`compare_exchange`](Self::compare_exchange), which follow std). Plain arithmetic on a
/// reference (`&a + 1`, `-&a`, `!&a`, [`abs`](Self::abs)) reads the value once and returns an
/// `i64`, like Python's binary operators.
///
/// ```
/// use concurrency::AtomicInt64;
/// use std::sync::Arc;
/// use std::thread;
///
/// let hits = Arc::new(AtomicInt64::new(0));
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let hits = Arc::clone(&hits);
///         thread::spawn(move || {
///             for _ in 0..1000 {
///                 hits.incr();
///             }
///         })
///     })
///     .collect();
/// for worker in workers {
///     worker.join().unwrap();
/// }
/// assert_eq!(hits.get(), 4000);
/// assert_eq!(hits.floordiv(-3), Ok(-1334)); // floor division, like Python's //
/// assert_eq!(&*hits + 1, -1333);
/// ```
#[derive(Default)]
pub struct AtomicInt64 {
    value: AtomicI64,
}

/// Division by zero in [`AtomicInt64::floordiv`]; the value is left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DivisionByZero;

impl fmt::Display for DivisionByZero {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("integer division by zero")
    }
}

impl std::error::Error for DivisionByZero {}

impl AtomicInt64 {
    /// Creates an atomic integer holding `value`.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(7);
    /// assert_eq!(a, 7);
    /// ```
    pub fn new(value: i64) -> Self {
        Self {
            value: AtomicI64::new(value),
        }
    }

    /// Reads the value.
    ///
    /// ```
    /// assert_eq!(concurrency::AtomicInt64::new(3).get(), 3);
    /// ```
    #[inline]
    pub fn get(&self) -> i64 {
        self.value.load(SeqCst)
    }

    /// Replaces the value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(3);
    /// a.set(-5);
    /// assert_eq!(a.get(), -5);
    /// ```
    #[inline]
    pub fn set(&self, value: i64) {
        self.value.store(value, SeqCst);
    }

    /// Adds one and returns the new value (one `lock xadd` on x86-64).
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(i64::MAX);
    /// assert_eq!(a.incr(), i64::MIN); // wraps
    /// ```
    #[inline]
    pub fn incr(&self) -> i64 {
        self.add(1)
    }

    /// Subtracts one and returns the new value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(0);
    /// assert_eq!(a.decr(), -1);
    /// ```
    #[inline]
    pub fn decr(&self) -> i64 {
        self.sub(1)
    }

    /// Adds `v` (wrapping) and returns the new value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(40);
    /// assert_eq!(a.add(2), 42);
    /// ```
    #[inline]
    pub fn add(&self, v: i64) -> i64 {
        self.value.fetch_add(v, SeqCst).wrapping_add(v)
    }

    /// Subtracts `v` (wrapping) and returns the new value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(40);
    /// assert_eq!(a.sub(50), -10);
    /// ```
    #[inline]
    pub fn sub(&self, v: i64) -> i64 {
        self.value.fetch_sub(v, SeqCst).wrapping_sub(v)
    }

    /// Multiplies by `v` (wrapping) and returns the new value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(-6);
    /// assert_eq!(a.mul(7), -42);
    /// ```
    #[inline]
    pub fn mul(&self, v: i64) -> i64 {
        self.update(|current| current.wrapping_mul(v))
    }

    /// Floor-divides by `v` (Python's `//`) and returns the new value.
    ///
    /// # Errors
    /// [`DivisionByZero`] when `v == 0`; the value is left unchanged.
    ///
    /// ```
    /// use concurrency::{AtomicInt64, DivisionByZero};
    /// let a = AtomicInt64::new(-7);
    /// assert_eq!(a.floordiv(2), Ok(-4));
    /// assert_eq!(a.floordiv(0), Err(DivisionByZero));
    /// assert_eq!(a.get(), -4);
    /// ```
    #[inline]
    pub fn floordiv(&self, v: i64) -> Result<i64, DivisionByZero> {
        if v == 0 {
            return Err(DivisionByZero);
        }
        Ok(self.update(|current| floor_div(current, v)))
    }

    /// Bitwise-or with `v`; returns the new value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(0b1010);
    /// assert_eq!(a.or(0b0101), 0b1111);
    /// ```
    #[inline]
    pub fn or(&self, v: i64) -> i64 {
        self.value.fetch_or(v, SeqCst) | v
    }

    /// Bitwise-xor with `v`; returns the new value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(0b1010);
    /// assert_eq!(a.xor(0b0110), 0b1100);
    /// ```
    #[inline]
    pub fn xor(&self, v: i64) -> i64 {
        self.value.fetch_xor(v, SeqCst) ^ v
    }

    /// Bitwise-and with `v`; returns the new value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(0b1010);
    /// assert_eq!(a.and(0b0110), 0b0010);
    /// ```
    #[inline]
    pub fn and(&self, v: i64) -> i64 {
        self.value.fetch_and(v, SeqCst) & v
    }

    /// Stores `v` and returns the **old** value.
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(1);
    /// assert_eq!(a.exchange(2), 1);
    /// assert_eq!(a.get(), 2);
    /// ```
    #[inline]
    pub fn exchange(&self, v: i64) -> i64 {
        self.value.swap(v, SeqCst)
    }

    /// Stores `new` if the value is `current`: `Ok(previous)` on success, `Err(actual)` when the
    /// value was something else (the std convention).
    ///
    /// ```
    /// let a = concurrency::AtomicInt64::new(5);
    /// assert_eq!(a.compare_exchange(5, 6), Ok(5));
    /// assert_eq!(a.compare_exchange(5, 7), Err(6));
    /// ```
    #[inline]
    pub fn compare_exchange(&self, current: i64, new: i64) -> Result<i64, i64> {
        self.value.compare_exchange(current, new, SeqCst, SeqCst)
    }

    /// The absolute value (wrapping: `i64::MIN` stays `i64::MIN`), read once; the atomic is not
    /// changed.
    ///
    /// ```
    /// assert_eq!(concurrency::AtomicInt64::new(-3).abs(), 3);
    /// ```
    #[inline]
    pub fn abs(&self) -> i64 {
        self.get().wrapping_abs()
    }

    /// Replaces the value with `f(value)` in one atomic step (a CAS loop) and returns the new
    /// value. `f` may run several times, so it must be pure.
    fn update(&self, f: impl Fn(i64) -> i64) -> i64 {
        let mut current = self.value.load(SeqCst);
        loop {
            let new = f(current);
            match self
                .value
                .compare_exchange_weak(current, new, SeqCst, SeqCst)
            {
                Ok(_) => return new,
                Err(actual) => current = actual,
            }
        }
    }
}

/// Python's floor division, wrapping at 64 bits (`i64::MIN // -1 == i64::MIN`). `d != 0`.
fn floor_div(n: i64, d: i64) -> i64 {
    let quotient = n.wrapping_div(d);
    let remainder = n.wrapping_rem(d);
    if remainder != 0 && ((remainder < 0) != (d < 0)) {
        quotient - 1
    } else {
        quotient
    }
}

macro_rules! binary_op {
    ($($trait:ident :: $method:ident => $wrapping:ident),* $(,)?) => {$(
        impl std::ops::$trait<i64> for &AtomicInt64 {
            type Output = i64;

            /// Reads the value once and applies the operator (wrapping); the atomic is unchanged.
            #[inline]
            fn $method(self, rhs: i64) -> i64 {
                self.get().$wrapping(rhs)
            }
        }
    )*};
}

binary_op!(Add::add => wrapping_add, Sub::sub => wrapping_sub, Mul::mul => wrapping_mul);

impl std::ops::Neg for &AtomicInt64 {
    type Output = i64;

    /// Reads the value once and negates it (wrapping); the atomic is unchanged.
    #[inline]
    fn neg(self) -> i64 {
        self.get().wrapping_neg()
    }
}

impl std::ops::Not for &AtomicInt64 {
    type Output = i64;

    /// Reads the value once and inverts its bits; the atomic is unchanged.
    #[inline]
    fn not(self) -> i64 {
        !self.get()
    }
}

impl PartialEq<i64> for AtomicInt64 {
    fn eq(&self, other: &i64) -> bool {
        self.get() == *other
    }
}

impl PartialOrd<i64> for AtomicInt64 {
    fn partial_cmp(&self, other: &i64) -> Option<Ordering> {
        Some(self.get().cmp(other))
    }
}

impl From<&AtomicInt64> for i64 {
    fn from(a: &AtomicInt64) -> i64 {
        a.get()
    }
}

impl From<i64> for AtomicInt64 {
    fn from(v: i64) -> Self {
        Self::new(v)
    }
}

impl fmt::Display for AtomicInt64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

impl fmt::Debug for AtomicInt64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicInt64").field(&self.get()).finish()
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn floor_division_matches_python() {
        // (n, d, n // d) from CPython.
        let cases = [
            (-7, 2, -4),
            (7, -2, -4),
            (-7, -2, 3),
            (7, 2, 3),
            (-6, 3, -2),
            (0, -5, 0),
            (i64::MIN, -1, i64::MIN),
            (i64::MIN, 1, i64::MIN),
            (i64::MAX, -1, -i64::MAX),
            (i64::MIN, 2, i64::MIN / 2),
            (i64::MIN + 1, i64::MAX, -1),
        ];
        for (n, d, expected) in cases {
            let a = AtomicInt64::new(n);
            assert_eq!(a.floordiv(d), Ok(expected), "{n} // {d}");
            assert_eq!(a.get(), expected);
        }
    }

    #[test]
    fn division_by_zero_leaves_the_value() {
        let a = AtomicInt64::new(9);
        assert_eq!(a.floordiv(0), Err(DivisionByZero));
        assert_eq!(a, 9);
        assert_eq!(DivisionByZero.to_string(), "integer division by zero");
    }

    #[test]
    fn everything_wraps() {
        let a = AtomicInt64::new(i64::MAX);
        assert_eq!(a.incr(), i64::MIN);
        assert_eq!(a.decr(), i64::MAX);
        assert_eq!(a.mul(2), -2);
        a.set(i64::MIN);
        assert_eq!(-&a, i64::MIN);
        assert_eq!(a.abs(), i64::MIN);
        assert_eq!(&a - 1, i64::MAX);
        assert_eq!(&a * -1, i64::MIN);
        assert_eq!(a.sub(1), i64::MAX);
    }

    #[test]
    fn non_mutating_operators_leave_the_value() {
        let a = AtomicInt64::new(6);
        assert_eq!(&a + 1, 7);
        assert_eq!(&a - 1, 5);
        assert_eq!(&a * 2, 12);
        assert_eq!(-&a, -6);
        assert_eq!(!&a, !6);
        assert_eq!(i64::from(&a), 6);
        assert!(a < 7 && a > 5 && a == 6);
        assert_eq!(a.to_string(), "6");
        assert_eq!(format!("{a:?}"), "AtomicInt64(6)");
        assert_eq!(AtomicInt64::default(), 0);
    }

    // proptest needs the file system (its failure persistence), which Miri isolates.
    #[cfg(not(miri))]
    proptest! {
        #[test]
        fn operations_match_sequential_i64(start: i64, ops in prop::collection::vec((0u8..10, any::<i64>()), 0..64)) {
            let a = AtomicInt64::new(start);
            let mut model = start;
            for (op, v) in ops {
                let (got, expected) = match op {
                    0 => (a.add(v), { model = model.wrapping_add(v); model }),
                    1 => (a.sub(v), { model = model.wrapping_sub(v); model }),
                    2 => (a.mul(v), { model = model.wrapping_mul(v); model }),
                    3 => (a.or(v), { model |= v; model }),
                    4 => (a.xor(v), { model ^= v; model }),
                    5 => (a.and(v), { model &= v; model }),
                    6 => (a.exchange(v), std::mem::replace(&mut model, v)),
                    7 => (a.incr(), { model = model.wrapping_add(1); model }),
                    8 => {
                        let got = a.floordiv(v);
                        if v == 0 {
                            prop_assert_eq!(got, Err(DivisionByZero));
                            continue;
                        }
                        model = model.floor_div_wide(v);
                        (got.unwrap(), model)
                    }
                    _ => {
                        let got = a.compare_exchange(model, v);
                        prop_assert_eq!(got, Ok(model));
                        (got.unwrap(), std::mem::replace(&mut model, v))
                    }
                };
                prop_assert_eq!(got, expected);
                prop_assert_eq!(a.get(), model);
            }
        }
    }

    /// A second, independent floor division for the property test: through i128, where nothing
    /// overflows, truncated back to 64 bits.
    trait FloorOracle {
        fn floor_div_wide(self, d: i64) -> i64;
    }

    impl FloorOracle for i64 {
        fn floor_div_wide(self, d: i64) -> i64 {
            let (n, d) = (i128::from(self), i128::from(d));
            let q = n / d - i128::from((n % d != 0) && ((n < 0) != (d < 0)));
            q as i64
        }
    }
}
