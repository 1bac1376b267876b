//! loom models of the futures internals that the public API cannot reach.

mod deque;
