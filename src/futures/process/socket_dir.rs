//! The private directories worker sockets live in while their workers start, and the sweep
//! that removes those a dead parent left behind.
//!
//! A directory is `$TMPDIR/concurrency-pool-PID-RANDOM`: `PID` is its creator's, `RANDOM` 128
//! bits no other user can guess, so nobody can take the name first (the old `PID-SERIAL`
//! names let any local user create them in advance and stop every pool). It is made with
//! `mkdir`, which fails if the name exists (a new name is drawn then), with mode 0700, and
//! locked (`flock`) by its creator for as long as it lives. It lives only while one worker
//! starts — bind, spawn, accept — and is removed then, so a parent killed or exiting without
//! dropping its pool leaves at most the one a start was using.
//!
//! A pool's first worker start sweeps the temp directory: it removes every directory of this
//! user named so whose `PID` is not a live process and whose lock nobody holds. The pid rule
//! spares a live creator that has not locked its directory yet; the lock spares one whose pid
//! is not visible here (another pid namespace sharing the temp directory).

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::PathBuf;

/// How every socket directory's name starts.
const PREFIX: &str = "concurrency-pool-";

/// How many names [`SocketDir::create`] draws before it gives up.
const ATTEMPTS: usize = 16;

/// A private directory for one worker's socket, locked while it lives; removed on drop.
#[derive(Debug)]
pub(super) struct SocketDir {
    path: PathBuf,
    /// Held open for its lock, which is released when the descriptor closes.
    _lock: File,
}

impl SocketDir {
    /// Creates a directory of a fresh, unguessable name in the temp directory.
    pub(super) fn create() -> io::Result<Self> {
        let temp = std::env::temp_dir();
        for _ in 0..ATTEMPTS {
            let path = temp.join(format!(
                "{PREFIX}{}-{:016x}{:016x}",
                std::process::id(),
                random(),
                random()
            ));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let lock = File::open(&path).and_then(|dir| match try_lock(&dir)? {
                true => Ok(dir),
                false => Err(io::Error::other("a new directory was locked by another")),
            });
            return match lock {
                Ok(lock) => Ok(Self { path, _lock: lock }),
                Err(e) => {
                    let _ = fs::remove_dir(&path);
                    Err(e)
                }
            };
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{ATTEMPTS} random names in {temp:?} were all taken"),
        ))
    }

    /// The path of the worker's socket.
    pub(super) fn socket(&self) -> PathBuf {
        self.path.join("w.sock")
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// 64 bits another user cannot guess: std keys the first `RandomState` of each thread from
/// the operating system's random source (and each later one from it, plus one), and SipHash
/// under a secret key gives nothing of the key away.
fn random() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.finish()
}

/// Takes the exclusive `flock` of `file` if nobody holds it: `Ok(false)` if somebody does.
fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock takes a descriptor, which `file` keeps open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(e),
    }
}

/// Whether `pid` names a process (a zombie counts; so does one this user may not signal).
fn alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 sends nothing; kill only checks that `pid` could be signalled.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes the socket directories that pools of dead processes left in the temp directory:
/// see the [module documentation](self).
pub(super) fn sweep() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|name| name.strip_prefix(PREFIX)?.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
            .filter(|&pid| pid > 0);
        let Some(pid) = pid else { continue };
        let path = entry.path();
        let mine = fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir() && meta.uid() == me);
        if !mine || alive(pid) {
            continue;
        }
        // The lock is held until the directory is gone: no creator can be using it meanwhile.
        if let Ok(dir) = File::open(&path) {
            if try_lock(&dir).unwrap_or(false) {
                let _ = fs::remove_dir_all(&path);
            }
        }
    }
}
