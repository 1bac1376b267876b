//! The parent's handle on one worker process: start it, hand it requests, retire it.

use super::socket_dir::SocketDir;
use super::wire::{self, Reply};
use super::WORKER_ARG;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started worker has to connect back.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// How long a worker whose connection failed has to exit by itself before it is killed: long
/// enough for a dying one to be seen exiting, so the error tells how it ended.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// How long a retired worker has to exit once its connection is closed before it is killed.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// What every worker of a pool is started with.
#[derive(Debug)]
pub(super) struct Settings {
    /// The largest reply frame the parent reads, in bytes.
    pub(super) max_reply: usize,
    /// The initializer's name and the frame of its request.
    pub(super) initializer: Option<(String, Vec<u8>)>,
    /// How long a worker may take over one request; `None`: as long as its task runs.
    pub(super) timeout: Option<Duration>,
}

/// One end of a worker's connection, whose reads and writes fail with
/// [`io::ErrorKind::TimedOut`] once its deadline passed.
struct Timed {
    stream: UnixStream,
    deadline: Option<Instant>,
}

impl Timed {
    /// Bounds the next blocking call, through `set`, by the time left before the deadline.
    fn arm(&self, set: fn(&UnixStream, Option<Duration>) -> io::Result<()>) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => set(&self.stream, Some(left)),
            _ => Err(io::ErrorKind::TimedOut.into()),
        }
    }
}

/// A socket's timeout shows as `WouldBlock`: says `TimedOut` instead.
fn timed_out<T>(result: io::Result<T>) -> io::Result<T> {
    result.map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => io::ErrorKind::TimedOut.into(),
        _ => e,
    })
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm(UnixStream::set_read_timeout)?;
        timed_out((&self.stream).read(buf))
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm(UnixStream::set_write_timeout)?;
        timed_out((&self.stream).write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A running worker process and its connection.
pub(super) struct WorkerProcess {
    child: Child,
    reader: BufReader<Timed>,
    writer: Timed,
    max_reply: usize,
    timeout: Option<Duration>,
}

impl WorkerProcess {
    /// Starts the current executable in worker mode and waits for it to connect to a socket
    /// in a fresh private directory (which lives only until then), then runs the initializer,
    /// if any. Errors say why the pool cannot have this worker.
    pub(super) fn start(settings: &Settings) -> Result<Self, String> {
        let dir = SocketDir::create()
            .map_err(|e| format!("cannot create a directory for the worker's socket: {e}"))?;
        let socket = dir.socket();
        let listener =
            UnixListener::bind(&socket).map_err(|e| format!("cannot listen on {socket:?}: {e}"))?;
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find the current executable: {e}"))?;
        let mut child = Command::new(exe)
            .arg(WORKER_ARG)
            .arg(&socket)
            .arg(settings.max_reply.to_string())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start a worker process: {e}"))?;
        let connected = accept(&listener, &mut child, CONNECT_LIMIT);
        // The socket and its directory are no longer needed, connected or not.
        drop(listener);
        drop(dir);
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
                reader: BufReader::new(Timed {
                    stream: reader,
                    deadline: None,
                }),
                writer: Timed {
                    stream,
                    deadline: None,
                },
                max_reply: settings.max_reply,
                timeout: settings.timeout,
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
        let deadline = self.timeout.map(|timeout| Instant::now() + timeout);
        self.reader.get_mut().deadline = deadline;
        self.writer.deadline = deadline;
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
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                // Set, or there would be no deadline.
                let timeout = self.timeout.unwrap_or_default();
                let what = format!("sent no reply within the worker timeout of {timeout:?}");
                Err(self.end(&what, Duration::ZERO))
            }
            Err(e) => Err(self.end(&format!("failed on its connection ({e})"), EXIT_GRACE)),
        }
    }

    /// Ends a worker that failed `what`; says what happened, with its pid.
    fn end(&mut self, what: &str, grace: Duration) -> String {
        let pid = self.child.id();
        let how = self.stop(grace);
        format!("a worker process (pid {pid}) {what}; {how}")
    }

    /// Closes the connection, which ends a healthy worker, gives the worker `grace` to exit,
    /// kills it if it did not, and reaps it. Says how it ended.
    fn stop(&mut self, grace: Duration) -> String {
        let _ = self.writer.stream.shutdown(std::net::Shutdown::Both);
        let deadline = Instant::now() + grace;
        let mut pause = Duration::from_micros(100);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return format!("it ended with {status}"),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Ok(None) | Err(_) => break,
            }
        }
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => format!("the pool killed it ({status})"),
            Err(e) => format!("the pool killed it; its status is unknown: {e}"),
        }
    }

    /// Ends the worker: a healthy one exits when its read sees the connection closed, one that
    /// does not within [`EXIT_LIMIT`] is killed. Reaps it.
    pub(super) fn retire(mut self) {
        let _ = self.stop(EXIT_LIMIT);
    }
}

/// Waits up to `limit` for `child` to connect, watching for it to exit first. A connection
/// from any other process (only this user's can reach the socket) is hung up on.
pub(super) fn accept(
    listener: &UnixListener,
    child: &mut Child,
    limit: Duration,
) -> Result<UnixStream, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot poll the worker socket: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((stream, _)) => match is_from(&stream, child) {
                Ok(true) => {
                    stream
                        .set_nonblocking(false)
                        .map_err(|e| format!("cannot use the worker socket: {e}"))?;
                    return Ok(stream);
                }
                Ok(false) => drop(stream),
                Err(e) => {
                    return Err(format!(
                        "cannot tell who connected to the worker socket: {e}"
                    ))
                }
            },
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
                "a worker process did not connect within {limit:?}: does main call \
                 Registry::serve_if_worker before anything else?"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `stream`'s peer is `child`: the pid the kernel recorded when it connected.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_from(stream: &UnixStream, child: &Child) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut peer = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len =
        libc::socklen_t::try_from(std::mem::size_of::<libc::ucred>()).map_err(io::Error::other)?;
    // SAFETY: the descriptor is open while `stream` is borrowed; getsockopt writes at most
    // `len` bytes, the size of `peer`, through a pointer to it, and `len` through its own.
    let failed = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut peer).cast(),
            &mut len,
        )
    } != 0;
    if failed {
        return Err(io::Error::last_os_error());
    }
    Ok(u32::try_from(peer.pid).is_ok_and(|pid| pid == child.id()))
}

/// Whether `stream`'s peer may be `child`: where the kernel tells no peer's pid, that it is
/// this user (the socket's directory already lets no other user in).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn is_from(stream: &UnixStream, _: &Child) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: the descriptor is open while `stream` is borrowed; getpeereid writes through
    // the two pointers, to live locals of the types it takes.
    if unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    Ok(uid == unsafe { libc::geteuid() })
}
