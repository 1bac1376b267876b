//! The errors of futures and executors.

use std::any::Any;
use std::error::Error;
use std::fmt;
// std, not the facade: an immutable, shared error synchronizes nothing, and loom's `Arc` cannot
// hold a `dyn Error`.
use std::sync::Arc;

/// Why a task did not produce a value: the message of its panic, or the error it was failed with.
///
/// Cheap to clone (the error is shared), so every observer of a future gets the same error.
///
/// ```
/// use concurrency::futures::TaskError;
/// let e = TaskError::new("disk full");
/// assert_eq!(e.to_string(), "disk full");
/// ```
#[derive(Clone)]
pub struct TaskError {
    source: Arc<dyn Error + Send + Sync>,
}

/// The error a panic becomes: its message.
#[derive(Debug)]
struct Panicked(String);

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the task panicked: {}", self.0)
    }
}

impl Error for Panicked {}

impl TaskError {
    /// Wraps any error (or anything that converts into a boxed one, such as a `String`).
    pub fn new(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            source: Arc::from(error.into()),
        }
    }

    /// Turns a panic payload (from [`std::panic::catch_unwind`]) into an error carrying its
    /// message.
    ///
    /// ```
    /// use concurrency::futures::TaskError;
    /// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    /// assert_eq!(TaskError::from_panic(payload).to_string(), "the task panicked: boom");
    /// ```
    pub fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        Self::new(Panicked(take_panic_message(payload)))
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.source
    }
}

/// The message of a panic payload, which is then dropped — also when its own `Drop` panics
/// (see [`drop_payload`](crate::unwind::drop_payload)).
pub(super) fn take_panic_message(payload: Box<dyn Any + Send>) -> String {
    let message = panic_message(payload.as_ref());
    crate::unwind::drop_payload(payload);
    message
}

/// The message of a panic payload: its `&str` or `String`, or a placeholder.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskError").field(&self.source).finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl Error for TaskError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.source()
    }
}

/// Why [`Future::result`](super::Future::result) gave no value.
#[derive(Debug, Clone)]
pub enum FutureError {
    /// The future was cancelled.
    Cancelled,
    /// The timeout passed first.
    Timeout,
    /// The task failed: it panicked or was given an error.
    Failed(TaskError),
    /// The executor broke (an initializer failed) before the task could run.
    BrokenExecutor(String),
}

impl fmt::Display for FutureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => f.write_str("the future was cancelled"),
            Self::Timeout => f.write_str("timed out waiting for the future"),
            Self::Failed(error) => write!(f, "the task failed: {error}"),
            Self::BrokenExecutor(why) => write!(f, "the executor is broken: {why}"),
        }
    }
}

impl Error for FutureError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// A `set_*` on a future that is already done (or, for `set_running_or_notify_cancel`, not
/// pending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStateError {
    pub(super) what: &'static str,
}

impl fmt::Display for InvalidStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid future state: {}", self.what)
    }
}

impl Error for InvalidStateError {}

/// Why an executor builder refused to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// `max_workers` was zero.
    ZeroWorkers,
    /// `max_tasks_per_child` was zero (process pools).
    ZeroTasksPerChild,
    /// `worker_timeout` was zero (process pools): every request would time out.
    ZeroWorkerTimeout,
    /// `max_reply_bytes` was zero (process pools): no reply would fit.
    ZeroMaxReplyBytes,
    /// A process pool was built in a worker process that did not call
    /// `Registry::serve_if_worker` first: it would start workers without end.
    WorkerNotServing,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroWorkers => f.write_str("max_workers must be greater than 0"),
            Self::ZeroTasksPerChild => f.write_str("max_tasks_per_child must be greater than 0"),
            Self::ZeroWorkerTimeout => f.write_str("worker_timeout must be greater than 0"),
            Self::ZeroMaxReplyBytes => f.write_str("max_reply_bytes must be greater than 0"),
            Self::WorkerNotServing => f.write_str(
                "this process was started as a process-pool worker, but main did not call \
                 Registry::serve_if_worker before building a pool",
            ),
        }
    }
}

impl Error for BuildError {}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The executor was shut down.
    Shutdown,
    /// The executor is broken (an initializer failed): the message says why.
    Broken(String),
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shutdown => f.write_str("cannot schedule new futures after shutdown"),
            Self::Broken(why) => write!(f, "the executor is broken: {why}"),
        }
    }
}

impl Error for SubmitError {}
