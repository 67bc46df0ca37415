//! Reusable scratch memory for forward passes.

use alloc::vec::Vec;

/// Scratch memory for the activations of a forward pass, reused across calls so that inference
/// allocates nothing once the workspace exists.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    buf: Vec<f32>,
}

impl Workspace {
    /// A workspace of `len` floats (a model's `WORKSPACE_LEN`).
    pub fn new(len: usize) -> Self {
        Workspace { buf: alloc::vec![0.0; len] }
    }

    /// The first `len` floats, growing the workspace once if it is smaller.
    pub fn slice(&mut self, len: usize) -> &mut [f32] {
        if self.buf.len() < len {
            self.buf.resize(len, 0.0);
        }
        &mut self.buf[..len]
    }
}
