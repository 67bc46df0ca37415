//! Reusable scratch memory for forward passes.

use alloc::vec::Vec;
use core::cell::Cell;

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

std::thread_local! {
    /// The workspace [`with_thread_workspace`] lends on this thread.
    static THREAD_WORKSPACE: Cell<Workspace> = const { Cell::new(Workspace { buf: Vec::new() }) };
}

/// Runs `f` with this thread's workspace, grown to at least `len` floats. The thread keeps it
/// between calls, so repeated calls allocate nothing once it has the largest `len` asked for.
pub(crate) fn with_thread_workspace<R>(len: usize, f: impl FnOnce(&mut Workspace) -> R) -> R {
    // Taken out rather than borrowed: a nested call gets an empty workspace instead of a panic.
    let mut ws = THREAD_WORKSPACE.take();
    ws.slice(len);
    let result = f(&mut ws);
    THREAD_WORKSPACE.set(ws);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_workspace_grows_once_and_is_kept() {
        let first = with_thread_workspace(100, |ws| {
            ws.slice(100).fill(1.0);
            ws.buf.as_ptr()
        });
        let (second, len, kept) = with_thread_workspace(10, |ws| (ws.buf.as_ptr(), ws.buf.len(), ws.slice(100)[99]));
        assert_eq!((first, len, kept), (second, 100, 1.0), "the same memory, not shrunk");
        let nested = with_thread_workspace(10, |_| with_thread_workspace(5, |inner| inner.buf.len()));
        assert_eq!(nested, 5, "a nested call gets a workspace of its own");
        let other = std::thread::spawn(|| with_thread_workspace(3, |ws| ws.buf.len())).join().unwrap();
        assert_eq!(other, 3, "each thread has its own");
    }
}
