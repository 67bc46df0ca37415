//! The few vector operations the tiled kernel bodies are written in, one implementation per path
//! of [`Isa`](super::isa::Isa), and the exponential the activations are built on ([`Simd::exp`],
//! written once over them).
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
    /// The elements of `s` in the first lanes and `pad` in the others, for the last, partial vector
    /// of a slice: `s` has fewer than `LANES` elements (any more are ignored).
    #[inline(always)]
    fn load_partial(self, s: &[f32], pad: f32) -> Self::V {
        let mut buf = [pad; MAX_LANES];
        let n = s.len().min(Self::LANES);
        buf[..n].copy_from_slice(&s[..n]);
        self.load(&buf)
    }
    /// Writes the first lanes of `v` to `s`, which has fewer than `LANES` elements (any more are
    /// left alone).
    #[inline(always)]
    fn store_partial(self, v: Self::V, s: &mut [f32]) {
        let mut buf = [0.0; MAX_LANES];
        self.store(v, &mut buf);
        let n = s.len().min(Self::LANES);
        s[..n].copy_from_slice(&buf[..n]);
    }
    /// `v`, hidden from the optimiser, so that a store of it stays a whole-vector store. Without
    /// it, LLVM turns `store(select(m, load(p), 0), p)` into a masked store of the zeros, which is
    /// AVX2's `vmaskmovps` there: microcoded on AMD cores (about 17 cycles a vector measured on a
    /// Zen 3, where a store takes one). The identity where masked stores are cheap or absent.
    #[inline(always)]
    fn opaque(self, v: Self::V) -> Self::V {
        v
    }
    /// `a − b` lane by lane.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b` lane by lane.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a / b` lane by lane (correctly rounded).
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    /// `if a < b { a } else { b }` lane by lane, as x86's `minps`: `b` where either is `NaN`.
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// `if a > b { a } else { b }` lane by lane, as x86's `maxps`: `b` where either is `NaN`.
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    /// `|v|` lane by lane (the sign bit cleared, so `NaN` stays `NaN`).
    fn abs(self, v: Self::V) -> Self::V;
    /// The magnitude of `mag` with the sign bit of `sign`, lane by lane.
    fn copysign(self, mag: Self::V, sign: Self::V) -> Self::V;
    /// `then` in the lanes where `a < b`, `otherwise` in the others (where either is `NaN`).
    fn select_lt(self, a: Self::V, b: Self::V, then: Self::V, otherwise: Self::V) -> Self::V;
    /// `v` rounded to the nearest integer (ties either way), for `|v| < 2²²` or `NaN`.
    fn round(self, v: Self::V) -> Self::V;

    // Masks: lanes of all one bits (true) or all zero bits (false), for the bitwise operations
    // below. The defaults go lane by lane through memory; the paths whose kernels use them
    // (SSE2, AVX2) have one instruction each.

    /// The mask of the lanes where `a < b` (false where either is `NaN`).
    #[inline(always)]
    fn lt_mask(self, a: Self::V, b: Self::V) -> Self::V {
        self.lanes2(a, b, |a, b| mask_bits(f32::from_bits(a) < f32::from_bits(b)))
    }
    /// The mask of the lanes that are `NaN`.
    #[inline(always)]
    fn nan_mask(self, v: Self::V) -> Self::V {
        self.lanes2(v, v, |v, _| mask_bits(f32::from_bits(v).is_nan()))
    }
    /// `a & b`, bit by bit.
    #[inline(always)]
    fn and(self, a: Self::V, b: Self::V) -> Self::V {
        self.lanes2(a, b, |a, b| a & b)
    }
    /// `a | b`, bit by bit.
    #[inline(always)]
    fn or(self, a: Self::V, b: Self::V) -> Self::V {
        self.lanes2(a, b, |a, b| a | b)
    }
    /// `!a & b`, bit by bit.
    #[inline(always)]
    fn and_not(self, a: Self::V, b: Self::V) -> Self::V {
        self.lanes2(a, b, |a, b| !a & b)
    }
    /// `then` in the lanes of the mask `m`, `otherwise` in the others.
    #[inline(always)]
    fn blend(self, m: Self::V, then: Self::V, otherwise: Self::V) -> Self::V {
        self.or(self.and(m, then), self.and_not(m, otherwise))
    }
    /// The even and the odd elements of the `2·LANES` elements `lo` then `hi`, each in the order
    /// that [`Simd::pair_order`] gives a vector of `LANES` consecutive values (for AVX2, an order
    /// within which its shuffles stay in 128-bit halves); [`Simd::interleave`] undoes it.
    #[inline(always)]
    fn deinterleave(self, lo: Self::V, hi: Self::V) -> (Self::V, Self::V) {
        let (mut all, mut even, mut odd) = ([0.0; 2 * MAX_LANES], [0.0; MAX_LANES], [0.0; MAX_LANES]);
        self.store(lo, &mut all[..Self::LANES]);
        self.store(hi, &mut all[Self::LANES..]);
        for k in 0..Self::LANES {
            (even[k], odd[k]) = (all[2 * k], all[2 * k + 1]);
        }
        (self.load(&even), self.load(&odd))
    }
    /// The inverse of [`Simd::deinterleave`]: `LANES` even and `LANES` odd elements back into
    /// `2·LANES` consecutive ones, as two vectors.
    #[inline(always)]
    fn interleave(self, even: Self::V, odd: Self::V) -> (Self::V, Self::V) {
        let (mut all, mut e, mut o) = ([0.0; 2 * MAX_LANES], [0.0; MAX_LANES], [0.0; MAX_LANES]);
        self.store(even, &mut e);
        self.store(odd, &mut o);
        for k in 0..Self::LANES {
            (all[2 * k], all[2 * k + 1]) = (e[k], o[k]);
        }
        (self.load(&all[..Self::LANES]), self.load(&all[Self::LANES..]))
    }
    /// `LANES` consecutive values in the order of [`Simd::deinterleave`]'s results, so that lane
    /// `k` of it goes with lane `k` of theirs (the identity but for AVX2).
    #[inline(always)]
    fn pair_order(self, v: Self::V) -> Self::V {
        v
    }
    /// `f` on the bits of each pair of lanes of `a` and `b`, through memory.
    #[inline(always)]
    fn lanes2(self, a: Self::V, b: Self::V, f: impl Fn(u32, u32) -> u32) -> Self::V {
        let (mut x, mut y) = ([0.0; MAX_LANES], [0.0; MAX_LANES]);
        self.store(a, &mut x);
        self.store(b, &mut y);
        for (x, y) in x.iter_mut().zip(y) {
            *x = f32::from_bits(f(x.to_bits(), y.to_bits()));
        }
        self.load(&x)
    }
    /// `p · 2ⁿ` lane by lane, rounded once (to a subnormal, zero or `+∞` as the product falls), for
    /// `n` integral in `[−250, 250]`; `NaN` where `p` is.
    fn ldexp(self, p: Self::V, n: Self::V) -> Self::V;

    /// `eˣ` lane by lane: within 3e-7 relative of the exact value where that is a normal `f32` (`x`
    /// in about `[−87.3, 88.7]`; on every path, checked for every `f32` there: at most 8.5e-8, and
    /// at most 1 ulp from `f32::exp`), rounded once from a value that close where it is subnormal
    /// (`x` down to about −104, then 0); `+∞` above about 88.72, 0 for `−∞`, `NaN` for `NaN`;
    /// exactly 1 at `±0`.
    ///
    /// Cephes' `expf`: `x` clamped to `[−104, 89]` (beyond which the result rounds to 0 or
    /// overflows anyway), `n = round(x · log₂e)`, `r = x − n · ln 2` in two steps (Cody–Waite: the
    /// first constant has 9 significant bits, so `n` times it is exact), `eʳ` for `|r| ≤ ln 2 / 2`
    /// by `1 + r + r² · P(r)` with `P` of degree 5, then `eʳ · 2ⁿ` by [`Simd::ldexp`].
    #[inline(always)]
    fn exp(self, x: Self::V) -> Self::V {
        // The clamp keeps a NaN (the second operand wins when either is NaN).
        let x = self.min(self.splat(EXP_HI), self.max(self.splat(EXP_LO), x));
        let n = self.round(self.mul(x, self.splat(core::f32::consts::LOG2_E)));
        let r = self.fma(n, self.splat(-LN2_HI), x);
        let r = self.fma(n, self.splat(-LN2_LO), r);
        let mut p = self.splat(EXP_P[0]);
        for &c in &EXP_P[1..] {
            p = self.fma(p, r, self.splat(c));
        }
        let r2 = self.mul(r, r);
        let er = self.add(self.fma(p, r2, r), self.splat(1.0));
        self.ldexp(er, n)
    }
}

/// The most lanes a path has (AVX-512).
const MAX_LANES: usize = 16;

/// `v` (shorter than a vector) in the first lanes of a vector, the other lanes zero, through a
/// buffer on the stack. Unlike [`Simd::load_partial`], never a masked load or store on AVX2, whose
/// masked stores (`vmaskmovps`) AMD cores run microcoded; the kernels' tails use these.
#[inline(always)]
pub(crate) fn load_part<S: Simd>(s: S, v: &[f32]) -> S::V {
    let mut lanes = [0.0; MAX_LANES];
    lanes[..v.len()].copy_from_slice(v);
    s.load(&lanes)
}

/// The first lanes of `x` to `v` (shorter than a vector), through a buffer on the stack (see
/// [`load_part`]).
#[inline(always)]
pub(crate) fn store_part<S: Simd>(s: S, x: S::V, v: &mut [f32]) {
    let mut lanes = [0.0; MAX_LANES];
    s.store(x, &mut lanes);
    v.copy_from_slice(&lanes[..v.len()]);
}

/// A lane of a mask: all one bits for true, all zero bits for false.
#[inline(always)]
fn mask_bits(b: bool) -> u32 {
    0u32.wrapping_sub(u32::from(b))
}

/// Below this, `eˣ` rounds to 0 in `f32` (`e^−104 < 2^−150`, half the smallest subnormal).
const EXP_LO: f32 = -104.0;
/// Above this, `eˣ` overflows `f32` (`ln f32::MAX ≈ 88.7228`); `n` is at most 128 here.
const EXP_HI: f32 = 89.0;
/// `ln 2` to 9 significant bits (`355 / 512`), so that `n · LN2_HI` is exact for `|n| < 2¹⁵`.
const LN2_HI: f32 = 355.0 / 512.0;
/// `ln 2 − LN2_HI`.
const LN2_LO: f32 = -2.121_944_4e-4;
/// Cephes' `expf` polynomial: `eʳ ≈ 1 + r + r² · P(r)` on `|r| ≤ ln 2 / 2`, highest degree first
/// (its coefficients rounded to `f32`: the last, `5.0000001201e-1`, is 0.5).
const EXP_P: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_66, 0.5];

/// `(n >> 1, n − (n >> 1))`: two halves of an exponent `n` in `[−250, 250]`, each in `[−125, 125]`,
/// so that `2ⁿ` is the product of two normal powers of two.
#[inline(always)]
fn split_exponent(n: i32) -> (i32, i32) {
    (n >> 1, n - (n >> 1))
}

/// `2ⁿ` as an `f32` for `n` in `[−126, 127]`: the biased exponent in its bits.
#[inline(always)]
fn pow2(n: i32) -> f32 {
    f32::from_bits((n.wrapping_add(127) as u32) << 23)
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
    #[inline(always)]
    fn sub(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes2(a, b, |a, b| a - b)
    }
    #[inline(always)]
    fn mul(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes2(a, b, |a, b| a * b)
    }
    #[inline(always)]
    fn div(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes2(a, b, |a, b| a / b)
    }
    #[inline(always)]
    fn min(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes2(a, b, |a, b| if a < b { a } else { b })
    }
    #[inline(always)]
    fn max(self, a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
        lanes2(a, b, |a, b| if a > b { a } else { b })
    }
    #[inline(always)]
    fn abs(self, v: [f32; 4]) -> [f32; 4] {
        v.map(f32::abs)
    }
    #[inline(always)]
    fn copysign(self, mag: [f32; 4], sign: [f32; 4]) -> [f32; 4] {
        lanes2(mag, sign, f32::copysign)
    }
    #[inline(always)]
    fn select_lt(self, a: [f32; 4], b: [f32; 4], then: [f32; 4], otherwise: [f32; 4]) -> [f32; 4] {
        core::array::from_fn(|k| if a[k] < b[k] { then[k] } else { otherwise[k] })
    }
    #[inline(always)]
    fn round(self, v: [f32; 4]) -> [f32; 4] {
        v.map(|v| (v + ROUND_MAGIC) - ROUND_MAGIC)
    }
    #[inline(always)]
    fn ldexp(self, p: [f32; 4], n: [f32; 4]) -> [f32; 4] {
        // `n as i32` is exact for integral `n` (and 0 for NaN, where `p` is NaN too).
        lanes2(p, n, |p, n| {
            let (n1, n2) = split_exponent(n as i32);
            p * pow2(n1) * pow2(n2)
        })
    }
}

/// `f(a[k], b[k])` for each lane `k`.
#[inline(always)]
fn lanes2(a: [f32; 4], b: [f32; 4], f: impl Fn(f32, f32) -> f32) -> [f32; 4] {
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
}

/// `1.5 · 2²³`: adding it to an `f32` of magnitude under `2²²` rounds away its fraction (to
/// nearest, ties to even), and subtracting it back leaves the rounded value; for the paths
/// without a rounding instruction.
const ROUND_MAGIC: f32 = 12_582_912.0;

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
    #[inline(always)]
    fn sub(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_div_ps(a, b) }
    }
    #[inline(always)]
    fn min(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_min_ps(a, b) }
    }
    #[inline(always)]
    fn max(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_max_ps(a, b) }
    }
    #[inline(always)]
    fn abs(self, v: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_andnot_ps(arch::_mm_set1_ps(-0.0), v) }
    }
    #[inline(always)]
    fn copysign(self, mag: arch::__m128, sign: arch::__m128) -> arch::__m128 {
        unsafe {
            let bit = arch::_mm_set1_ps(-0.0);
            arch::_mm_or_ps(arch::_mm_andnot_ps(bit, mag), arch::_mm_and_ps(bit, sign))
        }
    }
    #[inline(always)]
    fn select_lt(self, a: arch::__m128, b: arch::__m128, then: arch::__m128, otherwise: arch::__m128) -> arch::__m128 {
        unsafe {
            let lt = arch::_mm_cmplt_ps(a, b);
            arch::_mm_or_ps(arch::_mm_and_ps(lt, then), arch::_mm_andnot_ps(lt, otherwise))
        }
    }
    #[inline(always)]
    fn lt_mask(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_cmplt_ps(a, b) }
    }
    #[inline(always)]
    fn nan_mask(self, v: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_cmpunord_ps(v, v) }
    }
    #[inline(always)]
    fn and(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_and_ps(a, b) }
    }
    #[inline(always)]
    fn or(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_or_ps(a, b) }
    }
    #[inline(always)]
    fn and_not(self, a: arch::__m128, b: arch::__m128) -> arch::__m128 {
        unsafe { arch::_mm_andnot_ps(a, b) }
    }
    #[inline(always)]
    fn deinterleave(self, lo: arch::__m128, hi: arch::__m128) -> (arch::__m128, arch::__m128) {
        unsafe { (arch::_mm_shuffle_ps::<0b10_00_10_00>(lo, hi), arch::_mm_shuffle_ps::<0b11_01_11_01>(lo, hi)) }
    }
    #[inline(always)]
    fn interleave(self, even: arch::__m128, odd: arch::__m128) -> (arch::__m128, arch::__m128) {
        unsafe { (arch::_mm_unpacklo_ps(even, odd), arch::_mm_unpackhi_ps(even, odd)) }
    }
    #[inline(always)]
    fn round(self, v: arch::__m128) -> arch::__m128 {
        // SSE2 has no rounding instruction (`roundps` is SSE4.1).
        unsafe {
            let magic = arch::_mm_set1_ps(ROUND_MAGIC);
            arch::_mm_sub_ps(arch::_mm_add_ps(v, magic), magic)
        }
    }
    #[inline(always)]
    fn ldexp(self, p: arch::__m128, n: arch::__m128) -> arch::__m128 {
        unsafe {
            let n = arch::_mm_cvtps_epi32(n);
            let n1 = arch::_mm_srai_epi32::<1>(n);
            let n2 = arch::_mm_sub_epi32(n, n1);
            let bias = arch::_mm_set1_epi32(127);
            let s1 = arch::_mm_castsi128_ps(arch::_mm_slli_epi32::<23>(arch::_mm_add_epi32(n1, bias)));
            let s2 = arch::_mm_castsi128_ps(arch::_mm_slli_epi32::<23>(arch::_mm_add_epi32(n2, bias)));
            arch::_mm_mul_ps(arch::_mm_mul_ps(p, s1), s2)
        }
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
// (see `Avx2::new`); loads and stores go through slices of at least 8 elements, partial ones touch
// only the lanes the mask of the slice's length keeps.
/// [`Simd::opaque`] for AVX2: an empty `asm!` block that claims to change `v` (no instruction
/// runs). A function of its own because the `ymm` register class needs the `avx` feature where the
/// block is written; it inlines into the AVX2 kernels, which have it.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx")]
#[inline]
fn opaque_ymm(mut v: arch::__m256) -> arch::__m256 {
    // SAFETY: the block is empty: it reads and writes nothing but `v`'s register.
    unsafe { core::arch::asm!("/* {0} */", inout(ymm_reg) v, options(pure, nomem, nostack, preserves_flags)) };
    v
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Simd for Avx2 {
    const LANES: usize = 8;
    const REGS: usize = 16;
    type V = arch::__m256;
    #[inline(always)]
    fn opaque(self, v: arch::__m256) -> arch::__m256 {
        unsafe { opaque_ymm(v) }
    }
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
    #[inline(always)]
    fn load_partial(self, s: &[f32], pad: f32) -> arch::__m256 {
        unsafe {
            let mask = avx2_mask(s.len());
            let v = arch::_mm256_maskload_ps(s.as_ptr(), mask);
            arch::_mm256_blendv_ps(arch::_mm256_set1_ps(pad), v, arch::_mm256_castsi256_ps(mask))
        }
    }
    #[inline(always)]
    fn store_partial(self, v: arch::__m256, s: &mut [f32]) {
        unsafe { arch::_mm256_maskstore_ps(s.as_mut_ptr(), avx2_mask(s.len()), v) }
    }
    #[inline(always)]
    fn sub(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn min(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_min_ps(a, b) }
    }
    #[inline(always)]
    fn max(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_max_ps(a, b) }
    }
    #[inline(always)]
    fn abs(self, v: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_andnot_ps(arch::_mm256_set1_ps(-0.0), v) }
    }
    #[inline(always)]
    fn copysign(self, mag: arch::__m256, sign: arch::__m256) -> arch::__m256 {
        unsafe {
            let bit = arch::_mm256_set1_ps(-0.0);
            arch::_mm256_or_ps(arch::_mm256_andnot_ps(bit, mag), arch::_mm256_and_ps(bit, sign))
        }
    }
    #[inline(always)]
    fn select_lt(self, a: arch::__m256, b: arch::__m256, then: arch::__m256, otherwise: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_blendv_ps(otherwise, then, arch::_mm256_cmp_ps::<{ arch::_CMP_LT_OQ }>(a, b)) }
    }
    #[inline(always)]
    fn lt_mask(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_cmp_ps::<{ arch::_CMP_LT_OQ }>(a, b) }
    }
    #[inline(always)]
    fn nan_mask(self, v: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_cmp_ps::<{ arch::_CMP_UNORD_Q }>(v, v) }
    }
    #[inline(always)]
    fn and(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_and_ps(a, b) }
    }
    #[inline(always)]
    fn or(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_or_ps(a, b) }
    }
    #[inline(always)]
    fn and_not(self, a: arch::__m256, b: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_andnot_ps(a, b) }
    }
    #[inline(always)]
    fn blend(self, m: arch::__m256, then: arch::__m256, otherwise: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_blendv_ps(otherwise, then, m) }
    }
    /// Within 128-bit halves: lane `k` of both results comes from pair 0, 1, 4, 5, 2, 3, 6, 7
    /// (pair `p` being elements `2p` and `2p + 1` of `lo` then `hi`).
    #[inline(always)]
    fn deinterleave(self, lo: arch::__m256, hi: arch::__m256) -> (arch::__m256, arch::__m256) {
        unsafe { (arch::_mm256_shuffle_ps::<0b10_00_10_00>(lo, hi), arch::_mm256_shuffle_ps::<0b11_01_11_01>(lo, hi)) }
    }
    #[inline(always)]
    fn interleave(self, even: arch::__m256, odd: arch::__m256) -> (arch::__m256, arch::__m256) {
        unsafe { (arch::_mm256_unpacklo_ps(even, odd), arch::_mm256_unpackhi_ps(even, odd)) }
    }
    /// Values 0, 1, 4, 5, 2, 3, 6, 7: the 64-bit quarters 1 and 2 swapped.
    #[inline(always)]
    fn pair_order(self, v: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_castpd_ps(arch::_mm256_permute4x64_pd::<0b11_01_10_00>(arch::_mm256_castps_pd(v))) }
    }
    #[inline(always)]
    fn round(self, v: arch::__m256) -> arch::__m256 {
        unsafe { arch::_mm256_round_ps::<{ arch::_MM_FROUND_TO_NEAREST_INT | arch::_MM_FROUND_NO_EXC }>(v) }
    }
    #[inline(always)]
    fn ldexp(self, p: arch::__m256, n: arch::__m256) -> arch::__m256 {
        unsafe {
            let n = arch::_mm256_cvtps_epi32(n);
            let n1 = arch::_mm256_srai_epi32::<1>(n);
            let n2 = arch::_mm256_sub_epi32(n, n1);
            let bias = arch::_mm256_set1_epi32(127);
            let s1 = arch::_mm256_castsi256_ps(arch::_mm256_slli_epi32::<23>(arch::_mm256_add_epi32(n1, bias)));
            let s2 = arch::_mm256_castsi256_ps(arch::_mm256_slli_epi32::<23>(arch::_mm256_add_epi32(n2, bias)));
            arch::_mm256_mul_ps(arch::_mm256_mul_ps(p, s1), s2)
        }
    }
}

/// All ones in the first `min(n, 8)` lanes, zeros in the others: the mask of [`Avx2`]'s partial
/// loads and stores (which touch no memory in the lanes masked off).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline(always)]
fn avx2_mask(n: usize) -> arch::__m256i {
    // SAFETY: only called from `Avx2`'s methods, so AVX2 is available (see `Avx2::new`).
    unsafe {
        let n = arch::_mm256_set1_epi32(n.min(8) as i32);
        arch::_mm256_cmpgt_epi32(n, arch::_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
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
// elements, partial ones touch only the lanes the mask of the slice's length keeps.
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
    #[inline(always)]
    fn load_partial(self, s: &[f32], pad: f32) -> arch::__m512 {
        unsafe { arch::_mm512_mask_loadu_ps(arch::_mm512_set1_ps(pad), avx512_mask(s.len()), s.as_ptr()) }
    }
    #[inline(always)]
    fn store_partial(self, v: arch::__m512, s: &mut [f32]) {
        unsafe { arch::_mm512_mask_storeu_ps(s.as_mut_ptr(), avx512_mask(s.len()), v) }
    }
    #[inline(always)]
    fn sub(self, a: arch::__m512, b: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: arch::__m512, b: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: arch::__m512, b: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn min(self, a: arch::__m512, b: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_min_ps(a, b) }
    }
    #[inline(always)]
    fn max(self, a: arch::__m512, b: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_max_ps(a, b) }
    }
    #[inline(always)]
    fn abs(self, v: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_abs_ps(v) }
    }
    #[inline(always)]
    fn copysign(self, mag: arch::__m512, sign: arch::__m512) -> arch::__m512 {
        // `_mm512_and_ps` and friends are AVX-512 DQ; the integer forms are F. 0xCA is `a ? b : c`
        // bit by bit, with `a` the sign bit.
        unsafe {
            let bit = arch::_mm512_set1_epi32(i32::MIN);
            let (mag, sign) = (arch::_mm512_castps_si512(mag), arch::_mm512_castps_si512(sign));
            arch::_mm512_castsi512_ps(arch::_mm512_ternarylogic_epi32::<0xCA>(bit, sign, mag))
        }
    }
    #[inline(always)]
    fn select_lt(self, a: arch::__m512, b: arch::__m512, then: arch::__m512, otherwise: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_mask_blend_ps(arch::_mm512_cmp_ps_mask::<{ arch::_CMP_LT_OQ }>(a, b), otherwise, then) }
    }
    #[inline(always)]
    fn round(self, v: arch::__m512) -> arch::__m512 {
        unsafe { arch::_mm512_roundscale_ps::<{ arch::_MM_FROUND_TO_NEAREST_INT | arch::_MM_FROUND_NO_EXC }>(v) }
    }
    #[inline(always)]
    fn ldexp(self, p: arch::__m512, n: arch::__m512) -> arch::__m512 {
        // `vscalefps`: `p · 2^⌊n⌋` with one rounding, subnormals and overflow included.
        unsafe { arch::_mm512_scalef_ps(p, n) }
    }
}

/// Ones in the first `min(n, 16)` bits: the mask of [`Avx512`]'s partial loads and stores (which
/// touch no memory in the lanes masked off).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline(always)]
fn avx512_mask(n: usize) -> arch::__mmask16 {
    ((1u32 << n.min(16)) - 1) as arch::__mmask16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::isa::{dispatch, wrappers};
    use crate::kernels::test_util::for_each_isa;
    use crate::rng::Rng;

    /// `x ← eˣ` by [`Simd::exp`]; the length is a multiple of 16.
    #[inline(always)]
    fn exp_body<S: Simd>(s: S, x: &mut [f32]) {
        for chunk in x.chunks_exact_mut(S::LANES) {
            s.store(s.exp(s.load(chunk)), chunk);
        }
    }

    wrappers!(exp_avx512, exp_avx2, exp_body, [], (x: &mut [f32]));

    /// [`exp_body`] on the path the kernels take on this thread.
    fn exp_in_place(x: &mut [f32]) {
        assert_eq!(x.len() % 16, 0);
        dispatch!(exp_avx512, exp_avx2, exp_body(x))
    }

    /// Runs `check(name, exp)` with the vector exponential of every path this CPU has, and of
    /// [`Arrays`] (the portable path of targets other than x86-64).
    fn for_each_exp(mut check: impl FnMut(&str, &dyn Fn(&mut [f32]))) {
        for_each_isa(|isa| check(isa.name(), &exp_in_place));
        check("arrays", &|x: &mut [f32]| exp_body(Arrays, x));
    }

    /// Checks `load_partial` and `store_partial` for every length below `S::LANES`: the elements,
    /// then the padding; and nothing written past the end.
    #[inline(always)]
    fn partial_body<S: Simd>(s: S) {
        let src: Vec<f32> = (0..S::LANES).map(|k| k as f32).collect();
        for n in 0..S::LANES {
            let mut lanes = [0.0; MAX_LANES];
            s.store(s.load_partial(&src[..n], -1.0), &mut lanes);
            for (k, &v) in lanes[..S::LANES].iter().enumerate() {
                assert_eq!(v, if k < n { k as f32 } else { -1.0 }, "load_partial of {n}, lane {k}");
            }
            let mut dst = [5.0; MAX_LANES];
            s.store_partial(s.splat(9.0), &mut dst[..n]);
            for (k, &v) in dst.iter().enumerate() {
                assert_eq!(v, if k < n { 9.0 } else { 5.0 }, "store_partial of {n}, element {k}");
            }
        }
    }

    wrappers!(partial_avx512, partial_avx2, partial_body, [], ());

    #[test]
    fn partial_loads_and_stores_stay_in_the_slice() {
        for_each_isa(|_| dispatch!(partial_avx512, partial_avx2, partial_body()));
        partial_body(Arrays);
    }

    /// The lanes of `v`.
    #[inline(always)]
    fn lanes_of<S: Simd>(s: S, v: S::V) -> Vec<f32> {
        let mut out = [0.0; MAX_LANES];
        s.store(v, &mut out);
        out[..S::LANES].to_vec()
    }

    /// Checks the masks, the bitwise operations, `blend`, and that `deinterleave`, `pair_order`
    /// and `interleave` agree with each other.
    #[inline(always)]
    fn masks_and_pairs_body<S: Simd>(s: S) {
        let n = S::LANES;
        let seq = |from: usize| s.load(&(from..from + n).map(|k| k as f32).collect::<Vec<_>>());
        let (lo, hi) = (seq(0), seq(n));
        let (even, odd) = s.deinterleave(lo, hi);
        let pairs = lanes_of(s, s.pair_order(seq(0)));
        assert_eq!(lanes_of(s, even), pairs.iter().map(|p| 2.0 * p).collect::<Vec<_>>(), "even elements");
        assert_eq!(lanes_of(s, odd), pairs.iter().map(|p| 2.0 * p + 1.0).collect::<Vec<_>>(), "odd elements");
        let mut sorted = pairs.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, (0..n).map(|k| k as f32).collect::<Vec<_>>(), "pair_order permutes");
        let (a, b) = s.interleave(even, odd);
        assert_eq!((lanes_of(s, a), lanes_of(s, b)), (lanes_of(s, lo), lanes_of(s, hi)), "interleave undoes it");

        let values = [1.0, f32::NAN, -0.0, 0.0, f32::INFINITY, -2.0, f32::NAN, 3.0];
        let x: Vec<f32> = (0..n).map(|k| values[k % 8]).collect();
        let y: Vec<f32> = (0..n).map(|k| values[(k * 3 + 1) % 8]).collect();
        let (vx, vy) = (s.load(&x), s.load(&y));
        let bits = |v: S::V| lanes_of(s, v).iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let mask = |f: &dyn Fn(usize) -> bool| (0..n).map(|k| if f(k) { u32::MAX } else { 0 }).collect::<Vec<_>>();
        let (lt, nan) = (s.lt_mask(vx, vy), s.nan_mask(vx));
        assert_eq!(bits(lt), mask(&|k| x[k] < y[k]), "lt_mask");
        assert_eq!(bits(nan), mask(&|k| x[k].is_nan()), "nan_mask");
        let (bx, by) = (bits(vx), bits(vy));
        assert_eq!(bits(s.and(lt, vy)), (0..n).map(|k| bits(lt)[k] & by[k]).collect::<Vec<_>>(), "and");
        assert_eq!(bits(s.or(nan, vy)), (0..n).map(|k| bits(nan)[k] | by[k]).collect::<Vec<_>>(), "or");
        assert_eq!(bits(s.and_not(lt, vx)), (0..n).map(|k| !bits(lt)[k] & bx[k]).collect::<Vec<_>>(), "and_not");
        let blended = (0..n).map(|k| if x[k] < y[k] { bx[k] } else { by[k] }).collect::<Vec<_>>();
        assert_eq!(bits(s.blend(lt, vx, vy)), blended, "blend");
    }

    wrappers!(masks_and_pairs_avx512, masks_and_pairs_avx2, masks_and_pairs_body, [], ());

    #[test]
    fn masks_and_pairs_agree_on_every_path() {
        for_each_isa(|_| dispatch!(masks_and_pairs_avx512, masks_and_pairs_avx2, masks_and_pairs_body()));
        masks_and_pairs_body(Arrays);
    }

    /// Relative error allowed where `eˣ` is a normal `f32`: about 2.5 ulps at the bottom of a
    /// binade, 5 at the top.
    const TOL: f64 = 3e-7;

    /// Distance in ulps between two finite `f32` of the same sign.
    fn ulps(a: f32, b: f32) -> u32 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// The worst errors of a batch, for the messages.
    #[derive(Default, Debug)]
    struct Worst {
        /// Relative error against `f64` where the result is normal, and its input.
        rel: (f64, f32),
        /// Ulps from `f32::exp` where the result is normal, and the input.
        ulps: (u32, f32),
        /// Error against `f64` where the result is subnormal, in units of the smallest subnormal.
        subnormal: (f64, f32),
    }

    /// Computes `eˣ` for every `x` in `xs` with `exp`, checks each against `f64` (and counts the
    /// ulps from `f32::exp`), and returns the worst errors.
    fn check_against_f64(what: &str, exp: &dyn Fn(&mut [f32]), xs: &[f32]) -> Worst {
        let mut got = xs.to_vec();
        got.resize(xs.len().next_multiple_of(16), 0.0);
        exp(&mut got);
        let tiny = f64::from(f32::from_bits(1)); // 2^-149
        let mut worst = Worst::default();
        for (&x, &g) in xs.iter().zip(&got) {
            let want = f64::from(x).exp();
            let g64 = f64::from(g);
            if g.is_infinite() || want > f64::from(f32::MAX) {
                // Around the overflow threshold either side may round to ∞.
                let ok = (g == f32::INFINITY && want >= f64::from(f32::MAX) * (1.0 - TOL))
                    || (g.is_finite() && (g64 - want).abs() <= TOL * want);
                assert!(ok, "{what}: exp({x:e}) = {g:e}, want {want:e}");
            } else if want >= f64::from(f32::MIN_POSITIVE) {
                let rel = (g64 - want).abs() / want;
                assert!(rel <= TOL, "{what}: exp({x:e}) = {g:e}, want {want:e} (relative error {rel:.2e})");
                if rel > worst.rel.0 {
                    worst.rel = (rel, x);
                }
                let u = ulps(g, x.exp());
                if u > worst.ulps.0 {
                    worst.ulps = (u, x);
                }
            } else {
                // Subnormal or zero: one rounding of a value within TOL.
                let err = (g64 - want).abs();
                assert!(
                    err <= 0.5 * tiny + TOL * want,
                    "{what}: exp({x:e}) = {g:e}, want {want:e} (subnormal; off by {} of 2^-149)",
                    err / tiny
                );
                if err / tiny > worst.subnormal.0 {
                    worst.subnormal = (err / tiny, x);
                }
            }
        }
        worst
    }

    /// Inputs across the whole range where `eˣ` is neither 0 nor ∞, and a little past it: a
    /// uniform grid, every magnitude from the smallest subnormal up by a stride of bits, random
    /// values in `[−1, 1]`, and the values at the ends of a binade of the result.
    fn dense_inputs() -> Vec<f32> {
        let mut xs: Vec<f32> = Vec::new();
        let n = 1 << 20;
        xs.extend((0..=n).map(|k| -105.0 + 195.0 * k as f32 / n as f32));
        for bits in (0..=105.0f32.to_bits()).step_by(1009) {
            xs.extend([f32::from_bits(bits), -f32::from_bits(bits)]);
        }
        let mut r = vec![0.0; 1 << 16];
        Rng::new(7).fill_uniform(&mut r, -1.0, 1.0);
        xs.extend(r);
        for k in -150..=128 {
            // n · ln 2 and its neighbours, where the reduction switches n.
            let x = k as f32 * core::f32::consts::LN_2;
            let half = (k as f32 + 0.5) * core::f32::consts::LN_2;
            for v in [x, half] {
                xs.extend([v.next_down(), v, v.next_up()]);
            }
        }
        xs
    }

    #[test]
    fn exp_matches_f64_densely_on_every_path() {
        let xs = dense_inputs();
        for_each_exp(|what, exp| {
            let worst = check_against_f64(what, exp, &xs);
            eprintln!("{what}: {worst:?}");
            assert!(worst.ulps.0 <= 3, "{what}: {} ulps from f32::exp at {:e}", worst.ulps.0, worst.ulps.1);
        });
    }

    #[test]
    fn exp_edges() {
        let inf = f32::INFINITY;
        for_each_exp(|what, exp| {
            let xs = [0.0, -0.0, -87.3, 88.7, inf, -inf, f32::NAN, -104.0, -200.0, -1e30, f32::MIN, f32::MAX, 1.0];
            let mut y = [0.0f32; 16];
            y[..xs.len()].copy_from_slice(&xs);
            exp(&mut y);
            let msg = format!("{what}: exp({xs:?}) = {y:?}");
            assert!(y[0] == 1.0 && y[1] == 1.0, "{msg}");
            assert!((f64::from(y[2]) / f64::from(-87.3f32).exp() - 1.0).abs() < TOL && y[2].is_normal(), "{msg}");
            assert!((f64::from(y[3]) / f64::from(88.7f32).exp() - 1.0).abs() < TOL, "{msg}");
            assert!(y[4] == inf && y[5] == 0.0 && y[6].is_nan(), "{msg}");
            assert!(y[7..11].iter().all(|&v| v == 0.0), "{msg}");
            assert_eq!(y[11], inf, "{msg}");
            assert!((f64::from(y[12]) / 1f64.exp() - 1.0).abs() < TOL, "{msg}");
            // Tiny and subnormal inputs give 1; the overflow threshold; the smallest subnormals.
            let mut y = [1e-30, -1e-30, 1e-45, -1e-45, 1e-40, 88.72, 88.723, -103.0, -103.9, -103.98];
            let xs = y;
            let mut y16 = [0.0f32; 16];
            y16[..y.len()].copy_from_slice(&y);
            exp(&mut y16);
            y.copy_from_slice(&y16[..10]);
            let msg = format!("{what}: exp({xs:?}) = {y:?}");
            assert!(y[..5].iter().all(|&v| v == 1.0), "{msg}");
            assert!(y[5].is_finite() && y[5] > 3.3e38 && y[6] == inf, "{msg}");
            assert!(y[7] > 0.0 && y[7] < f32::MIN_POSITIVE && y[8] == f32::from_bits(1), "{msg}");
            assert!(y[9] == 0.0, "{msg}");
        });
    }

    /// Every `f32` from −105 to 89 on every path (about 2.2 billion each): slow, so only on
    /// request: `cargo test --release -p cnn-runtime exp_exhaustive -- --ignored --nocapture`.
    #[test]
    #[ignore = "exhaustive: minutes"]
    fn exp_exhaustive() {
        let mut xs = Vec::with_capacity(1 << 24);
        for_each_exp(|what, exp| {
            let mut worst = Worst::default();
            let ranges = [(0u32, 89.0f32.to_bits()), (0x8000_0000, (-105.0f32).to_bits())];
            for (lo, hi) in ranges {
                let mut bits = lo;
                while bits <= hi {
                    xs.clear();
                    let end = hi.min(bits.saturating_add(1 << 24));
                    xs.extend((bits..=end).map(f32::from_bits));
                    let w = check_against_f64(what, exp, &xs);
                    if w.rel.0 > worst.rel.0 {
                        worst.rel = w.rel;
                    }
                    if w.ulps.0 > worst.ulps.0 {
                        worst.ulps = w.ulps;
                    }
                    if w.subnormal.0 > worst.subnormal.0 {
                        worst.subnormal = w.subnormal;
                    }
                    bits = end + 1;
                }
            }
            eprintln!("{what}: {worst:?}");
        });
    }
}
