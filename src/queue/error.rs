//! The queues' error types.

use std::fmt;

/// The queue was shut down. Carries the value a push could not deliver (`()` for pops).
///
/// ```
/// use concurrency::{ConcurrentQueue, ShutDown};
/// let q = ConcurrentQueue::new();
/// q.shutdown(false);
/// let ShutDown(back) = q.push("mine").unwrap_err();
/// assert_eq!(back, "mine");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShutDown<T = ()>(pub T);

impl<T> ShutDown<T> {
    /// The value that could not be delivered.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for ShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShutDown(..)")
    }
}

impl<T> fmt::Display for ShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is shut down")
    }
}

impl<T> std::error::Error for ShutDown<T> {}

/// Why [`ConcurrentQueue::try_pop`](crate::ConcurrentQueue::try_pop) or
/// [`pop_timeout`](crate::ConcurrentQueue::pop_timeout) returned no value.
///
/// ```
/// use concurrency::{ConcurrentQueue, PopError};
/// let q = ConcurrentQueue::<u8>::new();
/// assert_eq!(q.try_pop(), Err(PopError::Empty));
/// q.shutdown(false);
/// assert_eq!(q.try_pop(), Err(PopError::ShutDown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopError {
    /// Nothing arrived (before the timeout).
    Empty,
    /// The queue is shut down (and, after a graceful shutdown, drained).
    ShutDown,
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the queue is empty",
            Self::ShutDown => "the queue is shut down",
        })
    }
}

impl std::error::Error for PopError {}

/// Why a [`StdConcurrentQueue`](crate::StdConcurrentQueue) put failed; carries the value back.
///
/// ```
/// use concurrency::{PutError, StdConcurrentQueue};
/// let q = StdConcurrentQueue::new(1);
/// q.put('a').unwrap();
/// assert!(matches!(q.put_nowait('b'), Err(PutError::Full('b'))));
/// q.shutdown(false);
/// assert!(matches!(q.put_nowait('c'), Err(PutError::ShutDown('c'))));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PutError<T> {
    /// The queue stayed full (`put_nowait`, or until the timeout).
    Full(T),
    /// The queue is shut down.
    ShutDown(T),
}

impl<T> PutError<T> {
    /// The value that was not put.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(value) | Self::ShutDown(value) => value,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::ShutDown(_) => "ShutDown(..)",
        })
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "the queue is full",
            Self::ShutDown(_) => "the queue is shut down",
        })
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why a [`StdConcurrentQueue`](crate::StdConcurrentQueue) get returned no value.
///
/// ```
/// use concurrency::{GetError, StdConcurrentQueue};
/// let q = StdConcurrentQueue::<u8>::new(0);
/// assert_eq!(q.get_nowait(), Err(GetError::Empty));
/// q.shutdown(true);
/// assert_eq!(q.get_nowait(), Err(GetError::ShutDown));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetError {
    /// Nothing arrived (`get_nowait`, or until the timeout).
    Empty,
    /// The queue is shut down (and, after a graceful shutdown, drained).
    ShutDown,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the queue is empty",
            Self::ShutDown => "the queue is shut down",
        })
    }
}

impl std::error::Error for GetError {}

impl From<PopError> for GetError {
    fn from(e: PopError) -> Self {
        match e {
            PopError::Empty => Self::Empty,
            PopError::ShutDown => Self::ShutDown,
        }
    }
}

/// [`task_done`](crate::StdConcurrentQueue::task_done) was called more times than values were
/// put (Python raises `ValueError`).
///
/// ```
/// use concurrency::{StdConcurrentQueue, TaskDoneError};
/// let q = StdConcurrentQueue::<u8>::new(0);
/// assert_eq!(q.task_done(), Err(TaskDoneError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

impl std::error::Error for TaskDoneError {}
