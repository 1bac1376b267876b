//! The parent's handle on one worker process: start it, hand it requests, retire it.

use super::wire::{self, Reply};
use super::WORKER_ARG;
use std::io::{self, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started worker has to connect back.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// How long a worker whose connection failed has to exit by itself before it is killed: long
/// enough for a dying one to be seen exiting, so the error tells how it ended.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// What every worker of a pool is started with.
#[derive(Debug)]
pub(super) struct Settings {
    /// The largest reply frame the parent reads, in bytes.
    pub(super) max_reply: usize,
    /// The initializer's name and the frame of its request.
    pub(super) initializer: Option<(String, Vec<u8>)>,
}

/// A running worker process and its connection.
pub(super) struct WorkerProcess {
    child: Child,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    max_reply: usize,
}

impl WorkerProcess {
    /// Starts the current executable in worker mode and waits for it to connect to a socket
    /// at `socket` (a path in the pool's private directory), then runs the initializer, if
    /// any. Errors say why the pool cannot have this worker.
    pub(super) fn start(socket: &Path, settings: &Settings) -> Result<Self, String> {
        let listener =
            UnixListener::bind(socket).map_err(|e| format!("cannot listen on {socket:?}: {e}"))?;
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find the current executable: {e}"))?;
        let mut child = Command::new(exe)
            .arg(WORKER_ARG)
            .arg(socket)
            .arg(settings.max_reply.to_string())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start a worker process: {e}"))?;
        let connected = accept(&listener, &mut child);
        // The socket file is no longer needed, connected or not.
        let _ = std::fs::remove_file(socket);
        let stream = match connected {
            Ok(stream) => stream,
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(why);
            }
        };
        let mut worker = match stream.try_clone() {
            Ok(reader) => Self {
                child,
                reader: BufReader::new(reader),
                writer: stream,
                max_reply: settings.max_reply,
            },
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot use the worker's connection: {e}"));
            }
        };
        if let Some((task, frame)) = &settings.initializer {
            if let Some(Err(failure)) = worker.call(frame, 1)?.pop() {
                worker.retire();
                return Err(format!("the initializer {task:?} failed: {failure}"));
            }
        }
        Ok(worker)
    }

    /// Sends a request's `frame`, which carries `args` arguments, and returns the reply, one
    /// outcome per argument. An `Err` says what went wrong and how the worker ended: it is gone
    /// then (killed if it had to be) and reaped.
    pub(super) fn call(&mut self, frame: &[u8], args: usize) -> Result<Reply, String> {
        let answered = self
            .writer
            .write_all(frame)
            .and_then(|()| wire::receive_reply(&mut self.reader, self.max_reply, args));
        match answered {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err(self.end("closed its connection", EXIT_GRACE)),
            // A lie, not a death: the worker is alive and must be stopped.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Err(self.end(&format!("sent a bad reply ({e})"), Duration::ZERO))
            }
            Err(e) => Err(self.end(&format!("failed on its connection ({e})"), EXIT_GRACE)),
        }
    }

    /// Ends a worker that failed `what`: closes its connection, gives it `grace` to exit by
    /// itself, kills it if it did not, and reaps it. Says what happened.
    fn end(&mut self, what: &str, grace: Duration) -> String {
        let pid = self.child.id();
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
        let deadline = Instant::now() + grace;
        let how = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break format!("it ended with {status}"),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(None) | Err(_) => {
                    let _ = self.child.kill();
                    break match self.child.wait() {
                        Ok(status) => format!("the pool killed it ({status})"),
                        Err(e) => format!("the pool killed it; its status is unknown: {e}"),
                    };
                }
            }
        };
        format!("a worker process (pid {pid}) {what}; {how}")
    }

    /// Closes the connection, which ends the worker, and reaps it.
    pub(super) fn retire(mut self) {
        // The worker exits when its read sees the connection closed.
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
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
