//! The CPU's f32 peak: how many GFLOP/s each vector instruction set of this CPU reaches on a loop
//! that does nothing but multiply-adds in registers, on one thread and on every core. It is the
//! ceiling the kernels' figures (the `layers` bench, the `throughput` example) are to be read against.
//!
//! ```text
//! cargo run --release --example peak -- [--quick]
//! ```
//!
//! How: each measured function keeps many independent accumulators (16 `zmm` for AVX-512, 12
//! `ymm` for AVX2, 12 four-lane arrays for the portable path), enough to hide the latency of a
//! multiply-add on every FMA pipe, and updates each with `acc = acc * m + c` for many iterations,
//! with `m` and `c` hidden from the optimiser by `std::hint::black_box` and the accumulators
//! returned through it, so nothing is folded away and nothing touches memory inside the loop.
//! - AVX-512: `_mm512_fmadd_ps` in a `#[target_feature(enable = "avx512f")]` function, 16 lanes.
//! - AVX2: `_mm256_fmadd_ps` in a `#[target_feature(enable = "avx2,fma")]` function, 8 lanes.
//! - portable: plain Rust on `[f32; 4]` arrays, a multiply then an add (Rust never fuses them),
//!   which the compiler turns into SSE2 `mulps` + `addps` on x86-64 (NEON elsewhere): what the
//!   kernels' portable path is built from.
//!
//! A multiply-add counts as 2 FLOP. The AVX paths are chosen at run time with
//! `is_x86_feature_detected!` (the binary is built for the baseline target, never with
//! `-C target-cpu=native`), and measured only when the CPU has them. Every figure is the median
//! of several runs of about 0.2 s (`--quick`: fewer, shorter); the threads run the same loop
//! together, started at once by a barrier, and the figure is their FLOP over the wall time.
//!
//! "FLOP/cycle" divides the one-thread figure by the core clock, measured (on x86-64) with a chain
//! of dependent integer additions, one per cycle, because the clock `/proc/cpuinfo` reports is
//! nominal under boost or a hypervisor. It shows the FMA units: 2 FMA pipes of full width (Zen 5,
//! Ice Lake server) give 64 on AVX-512 and 32 on AVX2; AVX-512 split into two 256-bit halves
//! (Zen 4) gives 32 on both. On other architectures only the portable loop runs, and the report
//! says "no x86 SIMD".
//!
//! Measured on 2 cores of an AMD EPYC Zen 5 (family 26, model 2; KVM; 3.54 GHz measured, 2.60
//! reported), GFLOP/s at 1 and 2 threads: AVX-512 221.7 and 432.4 (62.6 FLOP/cycle), AVX2+FMA
//! 111.0 and 217.7 (31.3), portable 49.6 and 98.7 (14.0).

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Accumulators of the portable loop.
const PORTABLE_ACC: usize = 12;

/// One measured loop: its name, FLOP per iteration, and the function running `iters` iterations
/// (returning a value derived from every accumulator, to keep them alive).
#[derive(Clone, Copy)]
struct Kernel {
    name: &'static str,
    how: &'static str,
    flop_per_iter: f64,
    run: fn(u64) -> f32,
}

/// The portable path: `PORTABLE_ACC` chains of 4 lanes, a multiply then an add.
fn portable(iters: u64) -> f32 {
    let (m, c) = (black_box(0.999_999_9f32), black_box(1e-7f32));
    let mut acc = [[1.0f32; 4]; PORTABLE_ACC];
    for (i, a) in acc.iter_mut().enumerate() {
        a[0] = black_box(1.0 + i as f32 * 1e-3);
    }
    for _ in 0..iters {
        for a in acc.iter_mut() {
            for lane in a.iter_mut() {
                *lane = *lane * m + c;
            }
        }
    }
    black_box(acc).iter().flatten().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::hint::black_box;

    /// Accumulators of the AVX-512 loop (of the 32 `zmm` registers).
    pub const AVX512_ACC: usize = 16;
    /// Accumulators of the AVX2 loop (of the 16 `ymm` registers; two more hold `m` and `c`).
    pub const AVX2_ACC: usize = 12;

    /// `AVX512_ACC` chains of `_mm512_fmadd_ps`.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(iters: u64) -> f32 {
        let m = _mm512_set1_ps(black_box(0.999_999_9));
        let c = _mm512_set1_ps(black_box(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); AVX512_ACC];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = _mm512_set1_ps(black_box(1.0 + i as f32 * 1e-3));
        }
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, m, c);
            }
        }
        let acc = black_box(acc);
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }

    /// `AVX2_ACC` chains of `_mm256_fmadd_ps`.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(iters: u64) -> f32 {
        let m = _mm256_set1_ps(black_box(0.999_999_9));
        let c = _mm256_set1_ps(black_box(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); AVX2_ACC];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = _mm256_set1_ps(black_box(1.0 + i as f32 * 1e-3));
        }
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, m, c);
            }
        }
        let acc = black_box(acc);
        let mut lanes = [0.0f32; 8];
        let mut sum = 0.0;
        for a in acc {
            _mm256_storeu_ps(lanes.as_mut_ptr(), a);
            sum += lanes.iter().sum::<f32>();
        }
        sum
    }

    pub fn run_avx512(iters: u64) -> f32 {
        // SAFETY: `kernels()` lists this function only when `is_x86_feature_detected!("avx512f")`.
        unsafe { avx512(iters) }
    }

    pub fn run_avx2(iters: u64) -> f32 {
        // SAFETY: `kernels()` lists this function only when AVX2 and FMA are detected.
        unsafe { avx2(iters) }
    }

    /// Runs `iters` iterations of 8 dependent additions, which take one cycle each.
    pub fn add_chain(iters: u64) {
        // SAFETY: the assembly touches only the two registers it is given and the flags (which
        // `asm!` assumes clobbered), reads and writes no memory, and ends when `n` reaches 0
        // (`iters` is at least 1, see `clock_ghz`).
        unsafe {
            std::arch::asm!(
                "2:",
                "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) iters.max(1) => _,
                x = inout(reg) 0u64 => _,
                options(nomem, nostack),
            );
        }
    }
}

/// The core clock in GHz while one thread runs: additions per second of a dependent chain.
#[cfg(target_arch = "x86_64")]
fn clock_ghz(runs: usize, target: Duration) -> Option<f64> {
    let mut iters = 1u64 << 16;
    let time = |iters: u64| {
        let start = Instant::now();
        x86::add_chain(black_box(iters));
        start.elapsed().as_secs_f64()
    };
    while time(iters) < target.as_secs_f64() / 4.0 {
        iters *= 2;
    }
    let mut rates: Vec<f64> = (0..runs).map(|_| 8.0 * iters as f64 / time(iters) / 1e9).collect();
    rates.sort_by(f64::total_cmp);
    Some(rates[runs / 2])
}

#[cfg(not(target_arch = "x86_64"))]
fn clock_ghz(_runs: usize, _target: Duration) -> Option<f64> {
    None
}

/// The loops this CPU can run, widest first.
fn kernels() -> Vec<Kernel> {
    let mut list = x86_kernels();
    list.push(Kernel {
        name: "portable",
        how: if cfg!(target_arch = "x86_64") {
            "12 chains of [f32; 4], mul then add (SSE2 mulps + addps)"
        } else {
            "12 chains of [f32; 4], mul then add"
        },
        flop_per_iter: (PORTABLE_ACC * 4 * 2) as f64,
        run: portable,
    });
    list
}

/// The AVX loops this CPU has, widest first.
#[cfg(target_arch = "x86_64")]
fn x86_kernels() -> Vec<Kernel> {
    let mut list = Vec::new();
    if is_x86_feature_detected!("avx512f") {
        list.push(Kernel {
            name: "AVX-512",
            how: "16 zmm chains of _mm512_fmadd_ps",
            flop_per_iter: (x86::AVX512_ACC * 16 * 2) as f64,
            run: x86::run_avx512,
        });
    }
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        list.push(Kernel {
            name: "AVX2+FMA",
            how: "12 ymm chains of _mm256_fmadd_ps",
            flop_per_iter: (x86::AVX2_ACC * 8 * 2) as f64,
            run: x86::run_avx2,
        });
    }
    list
}

/// No x86 SIMD on this target.
#[cfg(not(target_arch = "x86_64"))]
fn x86_kernels() -> Vec<Kernel> {
    Vec::new()
}

/// Seconds for `threads` threads to each run `iters` iterations of `kernel`, started together.
fn run_once(kernel: Kernel, iters: u64, threads: usize) -> f64 {
    if threads == 1 {
        let start = Instant::now();
        black_box((kernel.run)(black_box(iters)));
        return start.elapsed().as_secs_f64();
    }
    let barrier = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                black_box((kernel.run)(black_box(iters)))
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for w in workers {
        black_box(w.join().expect("a measuring thread panicked"));
    }
    start.elapsed().as_secs_f64()
}

/// Median GFLOP/s of `kernel` on `threads` threads over `runs` runs of about `target` each.
fn gflops(kernel: Kernel, threads: usize, runs: usize, target: Duration) -> f64 {
    // Calibrate on one thread (also warms up the clock and the vector units).
    let mut iters = 1u64 << 16;
    while run_once(kernel, iters, 1) < target.as_secs_f64() / 4.0 {
        iters *= 2;
    }
    let per_run = target.as_secs_f64() / run_once(kernel, iters, 1);
    let iters = ((iters as f64 * per_run) as u64).max(1);
    let mut rates: Vec<f64> = (0..runs)
        .map(|_| kernel.flop_per_iter * iters as f64 * threads as f64 / run_once(kernel, iters, threads) / 1e9)
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[runs / 2]
}

/// The first value of `key` in `/proc/cpuinfo`, if any.
fn cpuinfo(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

fn print_cpu() {
    let model = cpuinfo("model name").unwrap_or_else(|| String::from("unknown (no /proc/cpuinfo)"));
    let family = cpuinfo("cpu family").unwrap_or_else(|| String::from("?"));
    let number = cpuinfo("model").unwrap_or_else(|| String::from("?"));
    println!("CPU: {model} (family {family}, model {number}), {} ({})", std::env::consts::ARCH, std::env::consts::OS);
    if let Some(mhz) = cpuinfo("cpu MHz") {
        println!("clock reported by /proc/cpuinfo: {mhz} MHz");
    }
    #[cfg(target_arch = "x86_64")]
    println!(
        "detected: avx512f {}, avx2 {}, fma {}",
        yes_no(is_x86_feature_detected!("avx512f")),
        yes_no(is_x86_feature_detected!("avx2")),
        yes_no(is_x86_feature_detected!("fma"))
    );
    #[cfg(not(target_arch = "x86_64"))]
    println!("no x86 SIMD: only the portable loop is measured");
    println!("cnn::runtime::cpu_features(): {}", cnn::runtime::cpu_features());
}

#[cfg(target_arch = "x86_64")]
fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn main() {
    let quick = std::env::args().skip(1).any(|a| a == "--quick");
    let (runs, target) = if quick { (3, Duration::from_millis(60)) } else { (7, Duration::from_millis(200)) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    print_cpu();
    let ghz = clock_ghz(runs, target);
    match ghz {
        Some(ghz) => println!("core clock measured by a chain of dependent additions: {ghz:.2} GHz"),
        None => println!("core clock: not measured on this target"),
    }
    println!();
    println!("f32 multiply-add peak, GFLOP/s (median of {runs} runs; a multiply-add is 2 FLOP)");
    println!("| ISA | 1 thread | {cores} threads | FLOP/cycle (1 thread) | loop |");
    println!("| --- | ---: | ---: | ---: | --- |");
    for kernel in kernels() {
        let one = gflops(kernel, 1, runs, target);
        let all = if cores > 1 { gflops(kernel, cores, runs, target) } else { one };
        let per_cycle = ghz.map_or(String::from("?"), |ghz| format!("{:.1}", one / ghz));
        println!("| {} | {one:.1} | {all:.1} | {per_cycle} | {} |", kernel.name, kernel.how);
    }
}
