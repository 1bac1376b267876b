//! The parent's handle on one worker process: start it, hand it requests, retire it.

use super::wire::{self, Reply, Request};
use super::SOCKET_ENV;
use std::io::{self, BufReader, BufWriter};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started worker has to connect back.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// A running worker process and its connection.
pub(super) struct WorkerProcess {
    child: Child,
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
}

impl WorkerProcess {
    /// Starts the current executable in worker mode and waits for it to connect to a socket
    /// at `socket` (a path in the pool's private directory), then runs the initializer, if
    /// any. Errors say why the pool cannot have this worker.
    pub(super) fn start(
        socket: &Path,
        initializer: Option<&(String, Vec<u8>)>,
    ) -> Result<Self, String> {
        let listener =
            UnixListener::bind(socket).map_err(|e| format!("cannot listen on {socket:?}: {e}"))?;
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find the current executable: {e}"))?;
        let mut child = Command::new(exe)
            .env(SOCKET_ENV, socket)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start a worker process: {e}"))?;
        let connected = accept(&listener, &mut child);
        // The socket file is no longer needed, connected or not.
        let _ = std::fs::remove_file(socket);
        let stream = match connected {
            Ok(stream) => stream,
            Err(why) => {
                reap(&mut child);
                return Err(why);
            }
        };
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut worker = Self {
            child,
            reader,
            writer: BufWriter::new(stream),
        };
        if let Some((task, args)) = initializer {
            let request = Request::Init {
                task: task.clone(),
                args: args.clone(),
            };
            let outcome = worker.call(&request)?.pop().unwrap_or_else(|| {
                Err(super::Failure::BadResult(
                    "the worker sent no outcome".into(),
                ))
            });
            if let Err(failure) = outcome {
                worker.retire();
                return Err(format!("the initializer {task:?} failed: {failure}"));
            }
        }
        Ok(worker)
    }

    /// Runs `request`; an `Err` means the worker died (and is reaped) and says how.
    pub(super) fn call(&mut self, request: &Request) -> Result<Reply, String> {
        let answered = wire::send(&mut self.writer, request)
            .and_then(|()| wire::receive::<Reply>(&mut self.reader));
        match answered {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(self.died("closed its connection")),
            Err(e) => Err(self.died(&e.to_string())),
        }
    }

    fn died(&mut self, what: &str) -> String {
        let pid = self.child.id();
        let status = reap(&mut self.child);
        format!("a worker process (pid {pid}) terminated abruptly ({what}; {status})")
    }

    /// Closes the connection, which ends the worker, and reaps it.
    pub(super) fn retire(mut self) {
        // The worker exits when its read sees the connection closed.
        let _ = self.writer.get_ref().shutdown(std::net::Shutdown::Both);
        reap(&mut self.child);
    }
}

/// Waits up to [`CONNECT_LIMIT`] for `child` to connect, watching for it to exit first.
fn accept(listener: &UnixListener, child: &mut Child) -> Result<UnixStream, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot poll the worker socket: {e}"))?;
    let deadline = Instant::now() + CONNECT_LIMIT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(|e| format!("cannot use the worker socket: {e}"))?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("cannot accept the worker's connection: {e}")),
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "a worker process exited before connecting ({status}): does main call \
                 Registry::serve_if_worker before anything else?"
            ));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return Err(format!(
                "a worker process did not connect within {CONNECT_LIMIT:?}: does main call \
                 Registry::serve_if_worker before anything else?"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits for `child` to exit, so that it leaves no zombie; describes how it ended.
fn reap(child: &mut Child) -> String {
    match child.wait() {
        Ok(status) => status.to_string(),
        Err(e) => format!("its status is unknown: {e}"),
    }
}

/// A directory only this user can enter, for the workers' sockets; removed on drop.
#[derive(Debug)]
pub(super) struct SocketDir(PathBuf);

impl SocketDir {
    pub(super) fn create() -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!(
            "concurrency-pool-{}-{}",
            std::process::id(),
            crate::sync::next_serial()
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self(path))
    }

    /// The path of worker socket number `n`.
    pub(super) fn socket(&self, n: u64) -> PathBuf {
        self.0.join(format!("w{n}.sock"))
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
