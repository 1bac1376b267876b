//! Tasks by name, and the worker side of the protocol.

use super::wire::{self, Bytes, Failure, Outcome, Reply, Request};
use super::WORKER_ARG;
use crate::futures::error::take_panic_message;
use crate::sync::{AtomicBool, Ordering};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A function a [`ProcessPoolExecutor`](super::ProcessPoolExecutor) can run in a worker
/// process, known there by its name: arguments of type `A` travel to the worker and a value of
/// type `R` travels back, both serialized with serde.
///
/// Declare each task once, as a `static`, and register it in the [`Registry`] that both the
/// parent and the workers build:
///
/// ```
/// use concurrency::futures::TaskFn;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// static SQUARE: TaskFn<u64, u64> = TaskFn::new("square", square);
/// assert_eq!(SQUARE.name(), "square");
/// ```
pub struct TaskFn<A, R> {
    name: &'static str,
    run: fn(A) -> R,
    types: PhantomData<fn(A) -> R>,
}

impl<A, R> TaskFn<A, R> {
    /// The task `name`, which runs `run`. Names must be unique within a registry.
    pub const fn new(name: &'static str, run: fn(A) -> R) -> Self {
        Self {
            name,
            run,
            types: PhantomData,
        }
    }

    /// The task's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<A, R> Clone for TaskFn<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, R> Copy for TaskFn<A, R> {}

impl<A, R> fmt::Debug for TaskFn<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskFn").field(&self.name).finish()
    }
}

/// Set once this process serves as a worker, before it runs any task.
static SERVING: AtomicBool = AtomicBool::new(false);

/// Whether this process was started as a pool's worker (its first argument says so).
pub(super) fn started_as_worker() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == WORKER_ARG)
}

/// Whether this process is a worker that serves: its tasks may start pools of their own.
pub(super) fn serving() -> bool {
    // Relaxed: stored before the serve loop runs a task, by the thread that runs it; a thread a
    // task starts sees it through the spawn.
    SERVING.load(Ordering::Relaxed)
}

/// Runs a task on encoded arguments, returning its encoded value.
type Handler = Box<dyn Fn(&[u8]) -> Outcome + Send + Sync>;

/// The tasks worker processes can run, by name.
///
/// A process pool starts workers by running the current executable again, so `main` must build
/// the same registry in every process and call [`serve_if_worker`](Self::serve_if_worker)
/// before anything else: in a worker it serves tasks and exits; in the parent it returns at
/// once.
#[derive(Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `task`.
    ///
    /// # Panics
    /// If a task of the same name is already registered: names identify tasks across
    /// processes, so a duplicate is a programming error.
    pub fn register<A, R>(mut self, task: TaskFn<A, R>) -> Self
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
    {
        let handler: Handler = Box::new(move |bytes| {
            let args: A = wire::decode(bytes).map_err(|e| Failure::BadArguments(e.to_string()))?;
            let value = catch_unwind(AssertUnwindSafe(|| (task.run)(args)))
                .map_err(|payload| Failure::Panicked(take_panic_message(payload)))?;
            wire::encode(&value)
                .map(Bytes)
                .map_err(|e| Failure::BadResult(e.to_string()))
        });
        let clash = self.handlers.insert(task.name, handler).is_some();
        assert!(
            !clash,
            "Registry: a task named {:?} is already registered",
            task.name
        );
        self
    }

    /// In a worker process started by a pool: serves the pool's requests until it closes the
    /// connection, then exits the process. Anywhere else: returns at once.
    ///
    /// A worker knows itself by its command line; this reads no environment variable and
    /// writes none, so it is sound to call after other threads started.
    pub fn serve_if_worker(&self) {
        if !started_as_worker() {
            return;
        }
        let mut args = std::env::args_os().skip(2);
        let path = args.next();
        let max_reply = args.next().and_then(|limit| limit.to_str()?.parse().ok());
        let (Some(path), Some(max_reply)) = (path, max_reply) else {
            eprintln!(
                "concurrency process-pool worker {}: started without a socket path and a \
                 reply limit",
                std::process::id()
            );
            std::process::exit(2);
        };
        // Relaxed: see `serving`.
        SERVING.store(true, Ordering::Relaxed);
        let code = match UnixStream::connect(&path) {
            Ok(stream) => match self.serve(stream, max_reply) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!(
                        "concurrency process-pool worker {}: {e}",
                        std::process::id()
                    );
                    2
                }
            },
            Err(e) => {
                eprintln!("concurrency process-pool worker: cannot connect to {path:?}: {e}");
                2
            }
        };
        std::process::exit(code);
    }

    /// Answers requests until the parent closes the socket, each reply made to fit in
    /// `max_reply` bytes.
    fn serve(&self, stream: UnixStream, max_reply: usize) -> std::io::Result<()> {
        let mut reader = std::io::BufReader::new(stream.try_clone()?);
        let mut writer = std::io::BufWriter::new(stream);
        while let Some(request) = wire::receive::<Request>(&mut reader)? {
            let mut reply: Reply = match request {
                Request::Init { task, args } => vec![self.call(&task, &args.0)],
                Request::Run { task, args } => {
                    args.iter().map(|a| self.call(&task, &a.0)).collect()
                }
            };
            wire::fit(&mut reply, max_reply);
            wire::send(&mut writer, &reply)?;
        }
        Ok(())
    }

    /// Runs `task` on encoded `args`.
    pub(super) fn call(&self, task: &str, args: &[u8]) -> Outcome {
        match self.handlers.get(task) {
            Some(handler) => handler(args),
            None => Err(Failure::UnknownTask(task.to_owned())),
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.handlers.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("tasks", &names).finish()
    }
}
