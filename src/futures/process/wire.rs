//! What parent and worker say to each other over a worker's socket: length-prefixed frames
//! (a little-endian `u32` length, then that many bytes) of `postcard`-encoded messages.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Read, Write};

/// The largest frame either side accepts: a corrupt length fails instead of allocating.
const MAX_FRAME: u32 = 1 << 30;

/// Parent to worker.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Request {
    /// Run the initializer `task` with `args` (the first request, if the pool has one).
    Init { task: String, args: Vec<u8> },
    /// Run `task` once per argument of `args`, in order.
    Run { task: String, args: Vec<Vec<u8>> },
}

/// Worker to parent: one outcome per argument of the request, in order.
pub(super) type Reply = Vec<Result<Vec<u8>, Failure>>;

/// Why a call in a worker produced no value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// The task panicked; the panic's message.
    Panicked(String),
    /// No task of this name is registered in the worker's [`Registry`](super::Registry).
    UnknownTask(String),
    /// The arguments could not be decoded as the task's argument type.
    BadArguments(String),
    /// The task's value could not be encoded.
    BadResult(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked(message) => {
                write!(f, "the task panicked in its worker process: {message}")
            }
            Self::UnknownTask(name) => write!(
                f,
                "no task named {name:?} is registered in the worker process's Registry"
            ),
            Self::BadArguments(why) => write!(f, "cannot decode the task's arguments: {why}"),
            Self::BadResult(why) => write!(f, "cannot encode the task's value: {why}"),
        }
    }
}

impl std::error::Error for Failure {}

/// Encodes `value` compactly.
pub(super) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(value)
}

/// Decodes a value `encode` made.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// Writes `message` as one frame.
pub(super) fn send<T: Serialize>(to: &mut impl Write, message: &T) -> io::Result<()> {
    let bytes = encode(message).map_err(io::Error::other)?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&len| len <= MAX_FRAME)
        .ok_or_else(|| io::Error::other("message too large for one frame"))?;
    to.write_all(&len.to_le_bytes())?;
    to.write_all(&bytes)?;
    to.flush()
}

/// Reads one frame's message; `Ok(None)` if the other side closed the socket between frames.
pub(super) fn receive<T: DeserializeOwned>(from: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0; 4];
    match from.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("frame of {len} bytes refused")));
    }
    let mut bytes = vec![0; len as usize];
    from.read_exact(&mut bytes)?;
    decode(&bytes).map(Some).map_err(io::Error::other)
}
