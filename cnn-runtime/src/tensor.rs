//! Statically sized tensors: nested `f32` arrays such as `[[[f32; W]; H]; C]` (CHW).
//!
//! Generated models keep every weight and activation as a nested array, so shapes are part of the
//! types. Kernels often want the same memory as one flat slice; [`Tensor`] gives that view without
//! copying, and [`zeroed_box`] builds large tensors directly on the heap.

use alloc::boxed::Box;

/// A nested array of `f32` with no padding between elements, viewable as `[f32; Self::LEN]`.
///
/// # Safety
/// Implementors must have exactly the layout of `[f32; LEN]`: size `4 * LEN`, alignment of `f32`,
/// and every bit pattern valid (in particular all zeros). Implemented here for `f32` and for
/// arrays of tensors; nothing else should implement it.
pub unsafe trait Tensor: Sized + 'static {
    /// Number of `f32` elements.
    const LEN: usize;
}

// SAFETY: one f32.
unsafe impl Tensor for f32 {
    const LEN: usize = 1;
}

// SAFETY: arrays have no padding between elements, so `[T; N]` is `N * T::LEN` contiguous f32s.
unsafe impl<T: Tensor, const N: usize> Tensor for [T; N] {
    const LEN: usize = T::LEN * N;
}

/// The elements of `t` as one flat slice, in row-major order.
pub fn flat<T: Tensor>(t: &T) -> &[f32] {
    // SAFETY: `Tensor` guarantees `T` is laid out as `[f32; T::LEN]`.
    unsafe { core::slice::from_raw_parts((t as *const T).cast::<f32>(), T::LEN) }
}

/// The elements of `t` as one flat mutable slice, in row-major order.
pub fn flat_mut<T: Tensor>(t: &mut T) -> &mut [f32] {
    // SAFETY: `Tensor` guarantees `T` is laid out as `[f32; T::LEN]`; the borrow is unique.
    unsafe { core::slice::from_raw_parts_mut((t as *mut T).cast::<f32>(), T::LEN) }
}

/// Views a flat slice as the tensor `T`.
///
/// # Panics
/// If `s.len() != T::LEN`. Generated code only calls it with lengths computed by the macro.
pub fn view<T: Tensor>(s: &[f32]) -> &T {
    assert_eq!(s.len(), T::LEN, "tensor view of the wrong length");
    // SAFETY: length checked; `T` has the layout and alignment of `[f32; T::LEN]`.
    unsafe { &*s.as_ptr().cast::<T>() }
}

/// Views a flat mutable slice as the tensor `T`.
///
/// # Panics
/// If `s.len() != T::LEN`.
pub fn view_mut<T: Tensor>(s: &mut [f32]) -> &mut T {
    assert_eq!(s.len(), T::LEN, "tensor view of the wrong length");
    // SAFETY: length checked; `T` has the layout and alignment of `[f32; T::LEN]`; unique borrow.
    unsafe { &mut *s.as_mut_ptr().cast::<T>() }
}

/// Views a flat slice as a batch of tensors `T`, sample after sample.
///
/// # Panics
/// If `s.len()` is not a multiple of `T::LEN`.
pub fn batch_view<T: Tensor>(s: &[f32]) -> &[T] {
    assert_eq!(s.len() % T::LEN.max(1), 0, "batch view of a length that is not a whole number of tensors");
    // SAFETY: `T` has the layout and alignment of `[f32; T::LEN]`, so `n` of them are `n * T::LEN` f32s.
    unsafe { core::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len() / T::LEN.max(1)) }
}

/// Views a flat mutable slice as a batch of tensors `T`, sample after sample.
///
/// # Panics
/// If `s.len()` is not a multiple of `T::LEN`.
pub fn batch_view_mut<T: Tensor>(s: &mut [f32]) -> &mut [T] {
    assert_eq!(s.len() % T::LEN.max(1), 0, "batch view of a length that is not a whole number of tensors");
    // SAFETY: as in `batch_view`; the borrow is unique.
    unsafe { core::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<T>(), s.len() / T::LEN.max(1)) }
}

/// A batch of tensors as one flat slice.
pub fn batch_flat<T: Tensor>(b: &[T]) -> &[f32] {
    // SAFETY: `b` is `b.len() * T::LEN` contiguous f32s.
    unsafe { core::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len() * T::LEN) }
}

/// A batch of tensors as one flat mutable slice.
pub fn batch_flat_mut<T: Tensor>(b: &mut [T]) -> &mut [f32] {
    // SAFETY: `b` is `b.len() * T::LEN` contiguous f32s; the borrow is unique.
    unsafe { core::slice::from_raw_parts_mut(b.as_mut_ptr().cast::<f32>(), b.len() * T::LEN) }
}

/// The same batch seen with another per-sample shape of equal length.
pub fn batch_reshape<A: Tensor, B: Tensor>(a: &[A]) -> &[B] {
    const { assert!(A::LEN == B::LEN, "reshape between tensors of different lengths") };
    batch_view(batch_flat(a))
}

/// The same batch seen mutably with another per-sample shape of equal length.
pub fn batch_reshape_mut<A: Tensor, B: Tensor>(a: &mut [A]) -> &mut [B] {
    const { assert!(A::LEN == B::LEN, "reshape between tensors of different lengths") };
    batch_view_mut(batch_flat_mut(a))
}

/// The same elements seen with another shape of equal length (for example `Flatten`).
pub fn reshape<A: Tensor, B: Tensor>(a: &A) -> &B {
    const { assert!(A::LEN == B::LEN, "reshape between tensors of different lengths") };
    view(flat(a))
}

/// The same elements seen mutably with another shape of equal length.
pub fn reshape_mut<A: Tensor, B: Tensor>(a: &mut A) -> &mut B {
    const { assert!(A::LEN == B::LEN, "reshape between tensors of different lengths") };
    view_mut(flat_mut(a))
}

/// A zero-filled tensor (on the stack: for small tensors such as one sample's output).
pub fn zeroed<T: Tensor>() -> T {
    // SAFETY: all-zero bits are a valid `T` (a nested array of f32 zeros).
    unsafe { core::mem::zeroed() }
}

/// A zero-filled tensor allocated directly on the heap, never on the stack, whatever its size.
pub fn zeroed_box<T: Tensor>() -> Box<T> {
    // SAFETY: all-zero bits are a valid `T` (a nested array of f32 zeros).
    unsafe { Box::<T>::new_zeroed().assume_init() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_view_is_row_major() {
        let mut t = [[[0.0f32; 3]; 2]; 2];
        t[1][0][2] = 7.0;
        assert_eq!(<[[[f32; 3]; 2]; 2]>::LEN, 12);
        assert_eq!(flat(&t)[6 + 2], 7.0);
        flat_mut(&mut t)[11] = 5.0;
        assert_eq!(t[1][1][2], 5.0);
        let f: &[f32; 12] = reshape(&t);
        assert_eq!(f[8], 7.0);
    }

    #[test]
    fn zeroed_box_builds_large_tensors_on_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let b = zeroed_box::<[[f32; 3136]; 1024]>();
                b[1023][3135]
            })
            .unwrap();
        assert_eq!(handle.join().unwrap(), 0.0);
    }

    #[test]
    #[should_panic(expected = "wrong length")]
    fn view_of_wrong_length_panics() {
        let v = [0.0f32; 5];
        let _: &[f32; 4] = view(&v);
    }
}
