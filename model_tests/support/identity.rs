//! A hasher that hashes a `u64` to itself, so that a model or test chooses where its keys sit
//! in a split-ordered map (with one bucket, key 3 sorts right after key 1). Shared by the loom
//! dict models and the dict's unit tests (through `#[path]`).

use std::hash::Hasher;

#[derive(Default)]
pub(crate) struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
