//! The few vector operations the tiled kernel bodies are written in, one implementation per path
//! of [`Isa`](super::isa::Isa).
//!
//! A kernel body is an `#[inline(always)]` function generic over `S: Simd`, so it exists once; a
//! `#[target_feature]` wrapper calls it with [`Avx512`] or [`Avx2`], and the portable path with
//! [`Portable`] (SSE2 on x86-64, [`Arrays`] elsewhere). The operations are `#[inline(always)]`
//! too, so they are compiled inside the wrapper, with its features: accumulators are vector
//! registers and every `fma` is one `vfmadd`.
//!
//! [`Avx512`] and [`Avx2`] are tokens: they can only be made by [`Avx512::new`] and [`Avx2::new`],
//! which are `unsafe` and called only inside functions compiled with the features (which are
//! themselves only called after [`isa`](super::isa::isa) detected them). Holding a token is the
//! proof that the intrinsics its methods call are available.

#[cfg(target_arch = "x86")]
use core::arch::x86 as arch;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64 as arch;

/// A vector instruction set for the tiled kernels: `LANES` `f32` lanes per vector `V`.
///
/// Loads and stores read or write the first `LANES` elements of a slice (panicking if it is
/// shorter; with constant lengths the check folds away).
pub(crate) trait Simd: Copy {
    /// Lanes of `f32` per vector.
    const LANES: usize;
    /// Vector registers, which bounds the accumulators a tile may keep.
    const REGS: usize;
    /// A vector of `LANES` `f32`.
    type V: Copy;
    /// All lanes zero.
    fn zero(self) -> Self::V;
    /// All lanes `x`.
    fn splat(self, x: f32) -> Self::V;
    /// The first `LANES` elements of `s`.
    fn load(self, s: &[f32]) -> Self::V;
    /// Writes `v` to the first `LANES` elements of `s`.
    fn store(self, v: Self::V, s: &mut [f32]);
    /// `a · b + c` lane by lane (fused where the path has FMA).
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b` lane by lane.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// The sum of the lanes.
    fn sum(self, v: Self::V) -> f32;
    /// Scalar `a · b + c` (fused where the path has FMA), for the untiled loops.
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32;
}

/// The portable path: SSE2 (part of x86-64) on x86-64, plain arrays elsewhere.
#[cfg(target_arch = "x86_64")]
pub(crate) type Portable = Sse2;
/// The portable path: SSE2 (part of x86-64) on x86-64, plain arrays elsewhere.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) type Portable = Arrays;

/// The token of the portable path.
#[cfg(target_arch = "x86_64")]
pub(crate) const PORTABLE: Portable = Sse2(());
/// The token of the portable path.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) const PORTABLE: Portable = Arrays;

/// Any target: 4 lanes as a plain array, which the compiler vectorises as it can; multiply-add
/// fused only where the target's baseline has it (AArch64).
/// (On x86-64 only the tests use it.)
#[derive(Clone, Copy)]
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
pub(crate) struct Arrays;

/// Whether [`Arrays`] fuses multiply-add: part of the baseline on AArch64, not on x86 (where
/// `f32::mul_add` without the `fma` feature is a slow library call).
const ARRAYS_FMA: bool = cfg!(target_arch = "aarch64");

impl Simd for Arrays {
    const LANES: usize = 4;
    const REGS: usize = 16;
    type V = [f32; 4];
    #[inline(always)]
    fn zero(self) -> [f32; 4] {
        [0.0; 4]
    }
    #[inline(always)]
    fn splat(self, x: f32) -> [f32; 4] {
        [x; 4]
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> [f32; 4] {
        let mut v = [0.0; 4];
        v.copy_from_slice(&s[..4]);
        v
    }
    #[inline(always)]
    fn store(self, v: [f32; 4], s: &mut [f32]) {
        s[..4].copy_from_slice(&v);
    }
    #[inline(always)]
    fn fma(self, a: [f32; 4], b: [f32; 4], c: [f32; 4]) -> [f32; 4] {
        [
            self.mul_add(a[0], b[0], c[0]),
            self.mul_add(a[1], b[1], c[1]),
            self.mul_add(a[2], b[2], c[2]),
            self.mul_add(a[3], b[3], c[3]),
        ]
    }
    #[inline(always)]
    fn add(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
    }
    #[inline(always)]
    fn sum(self, v: [f32; 4]) -> f32 {
        (v[0] + v[2]) + (v[1] + v[3])
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        if ARRAYS_FMA {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }
}

/// SSE2, part of every x86-64 CPU: 4 lanes in a `__m128`, separate multiply and add.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Sse2(());

// SAFETY (every `unsafe` block in this impl): SSE2 is part of x86-64, so its intrinsics are always
// available; loads and stores go through slices of at least 4 elements.
#[cfg(target_arch = "x86_64")]
impl Simd for Sse2 {
    const LANES: usize = 4;
    const REGS: usize = 16;
    type V = arch::__m128;
    #[inline(always)]
    fn zero(self) -> arch::__m128 {
        unsafe { arch::_mm_setzero_ps() }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> arch::__m128 {
        unsafe { arch::_mm_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> arch::__m128 {
        let s = &s[..4];
        unsafe { arch::_mm_loadu_ps(s.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: arch::__m128, s: &mut [f32]) {
        let s = &mut s[..4];
        unsafe { arch::_mm_storeu_ps(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn fma(self, a: arch::__m128, b: arch::__m128, c: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_add_ps(arch::_mm_mul_ps(a, b), c) }
    }
    #[inline(always)]
    fn add(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_add_ps(a, b) }
    }
    #[inline(always)]
    fn sum(self, v: arch::__m128) -> f32 {
        unsafe {
            let s = arch::_mm_add_ps(v, arch::_mm_movehl_ps(v, v));
            let s = arch::_mm_add_ss(s, arch::_mm_shuffle_ps::<0b01>(s, s));
            arch::_mm_cvtss_f32(s)
        }
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// AVX2 with FMA: 8 lanes in a `__m256`.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Avx2 {
    /// The token.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; call it only inside a function compiled with
    /// `#[target_feature(enable = "avx2,fma")]`, so the methods are inlined with those features.
    #[inline(always)]
    pub(crate) unsafe fn new() -> Avx2 {
        Avx2(())
    }
}

// SAFETY (every `unsafe` block in this impl): a token exists only where AVX2 and FMA are available
// (see `Avx2::new`); loads and stores go through slices of at least 8 elements.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Simd for Avx2 {
    const LANES: usize = 8;
    const REGS: usize = 16;
    type V = arch::__m256;
    #[inline(always)]
    fn zero(self) -> arch::__m256 {
        unsafe { arch::_mm256_setzero_ps() }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> arch::__m256 {
        unsafe { arch::_mm256_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> arch::__m256 {
        let s = &s[..8];
        unsafe { arch::_mm256_loadu_ps(s.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: arch::__m256, s: &mut [f32]) {
        let s = &mut s[..8];
        unsafe { arch::_mm256_storeu_ps(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn fma(self, a: arch::__m256, b: arch::__m256, c: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn add(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sum(self, v: arch::__m256) -> f32 {
        unsafe {
            let s = arch::_mm_add_ps(arch::_mm256_castps256_ps128(v), arch::_mm256_extractf128_ps::<1>(v));
            let s = arch::_mm_add_ps(s, arch::_mm_movehl_ps(s, s));
            let s = arch::_mm_add_ss(s, arch::_mm_movehdup_ps(s));
            arch::_mm_cvtss_f32(s)
        }
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// AVX-512 (F, BW, VL) with AVX2 and FMA: 16 lanes in a `__m512`.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[derive(Clone, Copy)]
pub(crate) struct Avx512(());

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Avx512 {
    /// The token.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VL, AVX2 and FMA; call it only inside a function
    /// compiled with those features enabled, so the methods are inlined with them.
    #[inline(always)]
    pub(crate) unsafe fn new() -> Avx512 {
        Avx512(())
    }
}

// SAFETY (every `unsafe` block in this impl): a token exists only where AVX-512 F/BW/VL, AVX2 and
// FMA are available (see `Avx512::new`); loads and stores go through slices of at least 16
// elements.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Simd for Avx512 {
    const LANES: usize = 16;
    const REGS: usize = 32;
    type V = arch::__m512;
    #[inline(always)]
    fn zero(self) -> arch::__m512 {
        unsafe { arch::_mm512_setzero_ps() }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> arch::__m512 {
        unsafe { arch::_mm512_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> arch::__m512 {
        let s = &s[..16];
        unsafe { arch::_mm512_loadu_ps(s.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: arch::__m512, s: &mut [f32]) {
        let s = &mut s[..16];
        unsafe { arch::_mm512_storeu_ps(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn fma(self, a: arch::__m512, b: arch::__m512, c: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn add(self, a: arch::__m512, b: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sum(self, v: arch::__m512) -> f32 {
        unsafe { arch::_mm512_reduce_add_ps(v) }
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}
