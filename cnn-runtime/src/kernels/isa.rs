//! Run-time choice of the vector instruction set the hot kernels are compiled for.
//!
//! Each hot kernel has one body, an `#[inline(always)]` function, compiled three times: inside a
//! `#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]` wrapper, inside a
//! `#[target_feature(enable = "avx2,fma")]` wrapper, and as plain code for the target's baseline
//! (SSE2 on x86-64; elsewhere arrays of 4 lanes that the compiler vectorises, NEON on AArch64).
//! The public kernel asks [`isa`] which one to run. So a release binary built anywhere, without
//! `-C target-cpu`, runs the widest code the CPU it runs on has.
//!
//! The CPU is asked once (`is_x86_feature_detected!`) and the answer is cached. The environment
//! variable `CNN_ISA` (`avx512`, `avx2` or `portable`), read at that moment, can force a lower path
//! (to compare, or to rule a vector path out), never a higher one than the CPU has; another value
//! is ignored with one warning on stderr. On targets other than x86 and x86-64 only the portable
//! path exists.

use core::cell::Cell;
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// A vector instruction set the hot kernels have a compiled path for.
///
/// Ordered by width: `Portable < Avx2Fma < Avx512`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The target's baseline (SSE2 on x86-64): 4 lanes; multiply and add separate on x86.
    Portable,
    /// AVX2 and FMA (Haswell, Zen 1 and later): 8 lanes, fused multiply-add.
    Avx2Fma,
    /// AVX-512 F, BW and VL, with AVX2 and FMA (Skylake-X, Ice Lake, Zen 4 and later): 16 lanes.
    Avx512,
}

impl Isa {
    /// Every path, from the lowest to the highest.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2Fma, Isa::Avx512];

    /// The name `CNN_ISA` takes: `avx512`, `avx2` or `portable`.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The path named `name` (as [`Isa::name`] spells it, ignoring ASCII case), if any.
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The paths this CPU can run, from the lowest to the highest ([`Isa::Portable`] at least).
    pub fn available() -> impl Iterator<Item = Isa> {
        let top = supported();
        Isa::ALL.into_iter().filter(move |&isa| isa <= top)
    }

    /// The path as a nonzero byte, for the atomics.
    #[inline]
    fn code(self) -> u8 {
        match self {
            Isa::Portable => 1,
            Isa::Avx2Fma => 2,
            Isa::Avx512 => 3,
        }
    }

    /// The path of a byte from [`Isa::code`]; `None` for 0 (not decided).
    #[inline]
    fn from_code(code: u8) -> Option<Isa> {
        match code {
            1 => Some(Isa::Portable),
            2 => Some(Isa::Avx2Fma),
            3 => Some(Isa::Avx512),
            _ => None,
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The widest path this CPU can run, ignoring `CNN_ISA`; asked once.
pub fn supported() -> Isa {
    static SUPPORTED: AtomicU8 = AtomicU8::new(0);
    if let Some(isa) = Isa::from_code(SUPPORTED.load(Ordering::Relaxed)) {
        return isa;
    }
    let isa = detect();
    SUPPORTED.store(isa.code(), Ordering::Relaxed);
    isa
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn detect() -> Isa {
    let avx2_fma = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    let avx512 = is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl");
    match (avx2_fma, avx512) {
        (true, true) => Isa::Avx512,
        (true, false) => Isa::Avx2Fma,
        _ => Isa::Portable,
    }
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn detect() -> Isa {
    Isa::Portable
}

/// The process-wide path as an [`Isa::code`], 0 until decided.
static GLOBAL: AtomicU8 = AtomicU8::new(0);

/// The process-wide path: [`supported`], lowered by `CNN_ISA` if it names a lower one. Decided
/// on first use and then fixed.
#[inline]
fn global() -> Isa {
    match Isa::from_code(GLOBAL.load(Ordering::Relaxed)) {
        Some(isa) => isa,
        None => decide_global(),
    }
}

/// Decides the process-wide path (see [`global`]), warning once about a `CNN_ISA` that names none.
#[cold]
fn decide_global() -> Isa {
    let value = std::env::var("CNN_ISA").ok();
    let (isa, warning) = resolve(supported(), value.as_deref());
    // Two threads may get here at once; only the first to store speaks.
    match GLOBAL.compare_exchange(0, isa.code(), Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => {
            if let Some(warning) = warning {
                eprintln!("warning: {warning}");
            }
            isa
        }
        Err(stored) => Isa::from_code(stored).unwrap_or(isa),
    }
}

/// The path for a CPU whose widest is `top` and a `CNN_ISA` of `value`: the one named if it is
/// not wider than `top`, else `top`; with a warning if `value` names none.
fn resolve(top: Isa, value: Option<&str>) -> (Isa, Option<String>) {
    match value.map(str::trim) {
        None | Some("") => (top, None),
        Some(name) => match Isa::from_name(name) {
            Some(wanted) => (wanted.min(top), None),
            None => {
                let warning = format!("CNN_ISA={name:?} is not one of avx512, avx2, portable; ignored (using {top})");
                (top, Some(warning))
            }
        },
    }
}

thread_local! {
    /// A per-thread override set by [`with_isa`]; 0 for none.
    static OVERRIDE: Cell<u8> = const { Cell::new(0) };
}

/// The path the kernels take on this thread: the one [`with_isa`] set, else the process-wide one
/// (the CPU's widest, lowered by `CNN_ISA`).
#[inline]
pub fn isa() -> Isa {
    match Isa::from_code(OVERRIDE.with(Cell::get)) {
        Some(isa) => isa,
        None => global(),
    }
}

/// Runs `f` with the kernels on this thread taking the path `wanted`, or the widest this CPU has
/// if `wanted` is wider; returns what `f` returns. For tests and benchmarks: other threads (a
/// rayon pool included) keep their own path, and `CNN_ISA` is not consulted.
pub fn with_isa<R>(wanted: Isa, f: impl FnOnce() -> R) -> R {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|o| o.replace(wanted.min(supported()).code())));
    f()
}

/// A one-line description of the CPU's vector features and the path the kernels take, for
/// summaries and benchmark reports, such as `x86_64: avx512f avx512bw avx512vl avx2 fma; kernels:
/// avx512`.
pub fn cpu_features() -> String {
    let mut s = String::from(std::env::consts::ARCH);
    s.push(':');
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let features = [
            ("avx512f", is_x86_feature_detected!("avx512f")),
            ("avx512bw", is_x86_feature_detected!("avx512bw")),
            ("avx512vl", is_x86_feature_detected!("avx512vl")),
            ("avx2", is_x86_feature_detected!("avx2")),
            ("fma", is_x86_feature_detected!("fma")),
        ];
        let present: Vec<&str> = features.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect();
        if present.is_empty() {
            s.push_str(" baseline");
        }
        for name in present {
            s.push(' ');
            s.push_str(name);
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    s.push_str(" baseline");
    s.push_str("; kernels: ");
    s.push_str(isa().name());
    if isa() < supported() {
        s.push_str(" (lowered from ");
        s.push_str(supported().name());
        s.push(')');
    }
    s
}

/// Calls a kernel on the path [`isa`] chooses: `dispatch!(avx512, avx2, body::<G…>(args…))` calls
/// the `#[target_feature]` wrapper `avx512::<G…>(args…)` or `avx2::<G…>(args…)`, or else the body
/// itself as `body::<_, G…>(PORTABLE, args…)`. The wrappers make the token of their path and call
/// the same body, so the kernel's code exists once. `dispatch!(_, avx2, …)` runs the AVX2 wrapper
/// on AVX-512 CPUs too, for kernels whose AVX-512 code is slower (see [`wrappers!`]).
macro_rules! dispatch {
    (_, $avx2:ident, $body:ident :: <$($g:ident),*> ($($arg:expr),* $(,)?)) => {
        match $crate::kernels::isa::isa() {
            // SAFETY: `isa()` returns `Avx512` or `Avx2Fma` only when the CPU has AVX2 and FMA.
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            $crate::kernels::isa::Isa::Avx512 | $crate::kernels::isa::Isa::Avx2Fma => unsafe {
                $avx2::<$($g),*>($($arg),*)
            },
            _ => $body::<_, $($g),*>($crate::kernels::simd::PORTABLE, $($arg),*),
        }
    };
    ($avx512:ident, $avx2:ident, $body:ident :: <$($g:ident),*> ($($arg:expr),* $(,)?)) => {
        match $crate::kernels::isa::isa() {
            // SAFETY: `isa()` returns `Avx512` only when the CPU has AVX-512 F/BW/VL, AVX2 and FMA.
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            $crate::kernels::isa::Isa::Avx512 => unsafe { $avx512::<$($g),*>($($arg),*) },
            // SAFETY: `isa()` returns `Avx2Fma` only when the CPU has AVX2 and FMA.
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            $crate::kernels::isa::Isa::Avx2Fma => unsafe { $avx2::<$($g),*>($($arg),*) },
            _ => $body::<_, $($g),*>($crate::kernels::simd::PORTABLE, $($arg),*),
        }
    };
    ($avx512:tt, $avx2:ident, $body:ident ($($arg:expr),* $(,)?)) => {
        $crate::kernels::isa::dispatch!($avx512, $avx2, $body::<>($($arg),*))
    };
}
pub(crate) use dispatch;

/// Defines the `#[target_feature]` wrappers of a kernel body for [`dispatch!`]:
/// `wrappers!(avx512, avx2, body, [const N: usize, …], (arg: Type, …))` defines
/// `unsafe`-to-call `avx512::<N…>(args…)` and `avx2::<N…>(args…)`, each compiled with its features,
/// making its token and calling `body::<Token, N…>(token, args…)`, which is inlined into it;
/// `wrappers!(_, avx2, …)` defines only the AVX2 one.
macro_rules! wrappers {
    (_, $avx2:ident, $body:ident, [$(const $g:ident: usize),* $(,)?], ($($arg:ident: $ty:ty),* $(,)?)) => {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2<$(const $g: usize),*>($($arg: $ty),*) {
            // SAFETY: this function is compiled with AVX2 and FMA, and is only called (by `dispatch!`)
            // when the CPU has them.
            let token = unsafe { $crate::kernels::simd::Avx2::new() };
            $body::<_, $($g),*>(token, $($arg),*)
        }
    };
    ($avx512:ident, $avx2:ident, $body:ident, [$(const $g:ident: usize),* $(,)?], ($($arg:ident: $ty:ty),* $(,)?)) => {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
        fn $avx512<$(const $g: usize),*>($($arg: $ty),*) {
            // SAFETY: this function is compiled with AVX-512 F/BW/VL, AVX2 and FMA, and is only called
            // (by `dispatch!`) when the CPU has them.
            let token = unsafe { $crate::kernels::simd::Avx512::new() };
            $body::<_, $($g),*>(token, $($arg),*)
        }

        $crate::kernels::isa::wrappers!(_, $avx2, $body, [$(const $g: usize),*], ($($arg: $ty),*));
    };
}
pub(crate) use wrappers;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_by_width() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
            assert_eq!(isa.to_string(), isa.name());
        }
        assert_eq!(Isa::from_name(" AVX2 "), Some(Isa::Avx2Fma));
        assert_eq!(Isa::from_name("sse"), None);
        assert!(Isa::Portable < Isa::Avx2Fma && Isa::Avx2Fma < Isa::Avx512);
    }

    #[test]
    fn cnn_isa_lowers_but_never_raises() {
        assert_eq!(resolve(Isa::Avx512, None), (Isa::Avx512, None));
        assert_eq!(resolve(Isa::Avx512, Some("  ")), (Isa::Avx512, None));
        assert_eq!(resolve(Isa::Avx512, Some("avx2")), (Isa::Avx2Fma, None));
        assert_eq!(resolve(Isa::Avx512, Some("portable")), (Isa::Portable, None));
        assert_eq!(resolve(Isa::Avx2Fma, Some("avx512")), (Isa::Avx2Fma, None));
        assert_eq!(resolve(Isa::Portable, Some("avx2")), (Isa::Portable, None));
        let (isa, warning) = resolve(Isa::Avx2Fma, Some("neon"));
        assert_eq!(isa, Isa::Avx2Fma);
        assert!(warning.is_some_and(|w| w.contains("\"neon\"")));
    }

    #[test]
    fn available_paths_run_from_portable_to_the_cpus_widest() {
        let available: Vec<Isa> = Isa::available().collect();
        assert_eq!(available.first(), Some(&Isa::Portable));
        assert_eq!(available.last(), Some(&supported()));
        assert!(available.windows(2).all(|w| w[0] < w[1]));
        assert!(isa() <= supported());
    }

    #[test]
    fn with_isa_is_per_thread_clamped_nested_and_restored() {
        let outside = isa();
        with_isa(Isa::Portable, || {
            assert_eq!(isa(), Isa::Portable);
            with_isa(Isa::Avx512, || assert_eq!(isa(), supported()));
            assert_eq!(isa(), Isa::Portable);
            std::thread::spawn(|| assert_eq!(isa(), global())).join().unwrap();
        });
        assert_eq!(isa(), outside);
        let unwound = std::panic::catch_unwind(|| with_isa(Isa::Portable, || panic!("inside")));
        assert!(unwound.is_err());
        assert_eq!(isa(), outside);
    }

    #[test]
    fn cpu_features_names_the_path() {
        let s = cpu_features();
        assert!(s.contains("kernels: "), "{s}");
        assert!(s.contains(isa().name()), "{s}");
    }
}
