//! Gather-and-sum kernels with runtime CPU dispatch.
//!
//! One portable kernel, written so that LLVM keeps a block of accumulators in registers, is compiled
//! several times with different `target_feature`s (the multiversioning pattern): baseline (SSE2 on x86_64,
//! NEON on aarch64, where it is part of the base ISA), AVX2+FMA and AVX-512F. The best available one is picked
//! once per process with `is_x86_feature_detected!`. A plain row-by-row scalar kernel is kept as the reference
//! that the property tests compare against.

use std::sync::OnceLock;

use crate::table::{Storage, Table, TokenId};

/// Which implementation of the gather-and-sum loop runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Row-by-row reference loop, no blocking.
    Scalar,
    /// Register-blocked loop compiled for the target's baseline ISA (SSE2 on x86_64, NEON on aarch64).
    Baseline,
    /// Register-blocked loop compiled with AVX2 and FMA enabled.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Register-blocked loop compiled with AVX-512F enabled.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// Stable lower-case name, as accepted by [`Kernel::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Baseline => {
                if cfg!(target_arch = "aarch64") {
                    "neon"
                } else {
                    "baseline"
                }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => "avx512",
        }
    }

    /// Every kernel this CPU can run, reference first.
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Scalar, Kernel::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                kernels.push(Kernel::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f") {
                kernels.push(Kernel::Avx512);
            }
        }
        kernels
    }

    /// Look a kernel up by name among the available ones.
    pub fn from_name(name: &str) -> Option<Kernel> {
        let name = name.trim().to_ascii_lowercase();
        let name = if name == "neon" {
            "baseline".to_string()
        } else {
            name
        };
        Kernel::available().into_iter().find(|k| {
            let own = if k.name() == "neon" {
                "baseline"
            } else {
                k.name()
            };
            own == name
        })
    }

    /// The kernel used by default: AVX2+FMA where the CPU has it, otherwise the baseline build. AVX-512 is
    /// not chosen automatically: on the machines we measured (`cargo bench --bench pooling`) it was not
    /// faster than AVX2 for this memory-bound loop, and it can lower the clock on some parts. The choice is
    /// made once per process; overrides (the binding's `STATICEMB_KERNEL`) go through [`Kernel::from_name`].
    pub fn detect() -> Kernel {
        static CHOSEN: OnceLock<Kernel> = OnceLock::new();
        *crate::lazy::init_once(&CHOSEN, || {
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    return Kernel::Avx2;
                }
            }
            Kernel::Baseline
        })
    }

    /// `out[..] = sum_i w_i * table[rows[i]][..out.len()]` (w_i = 1 without weights) for a float32 table.
    ///
    /// `data` is a row-major table of `width` columns. Every `rows[i]` must already be known to be a valid
    /// row; an invalid one panics on the slice bounds check instead of reading out of bounds.
    #[inline]
    pub fn sum_rows<I: TokenId>(
        self,
        data: &[f32],
        width: usize,
        rows: &[I],
        weights: Option<&[f32]>,
        out: &mut [f32],
    ) {
        self.sum_rows_of(data, None, width, rows, weights, out)
    }

    /// [`Kernel::sum_rows`] over any [`Table`] storage (float32, float16, int8 with row scales), always
    /// accumulating in float32.
    #[inline]
    pub fn sum_rows_table<I: TokenId>(
        self,
        table: &Table<'_>,
        rows: &[I],
        weights: Option<&[f32]>,
        out: &mut [f32],
    ) {
        self.sum_rows_table_scaled(table, rows, weights, 1.0, out)
    }

    /// [`Kernel::sum_rows_table`] with the sum multiplied by `factor` before it is stored (a mean is the sum
    /// times `1 / n`): the same float32 product as scaling `out` afterwards, without a second pass over it.
    #[inline]
    pub fn sum_rows_table_scaled<I: TokenId>(
        self,
        table: &Table<'_>,
        rows: &[I],
        weights: Option<&[f32]>,
        factor: f32,
        out: &mut [f32],
    ) {
        let width = table.width();
        match table.storage() {
            Storage::F32(d) => self.sum_rows_impl(d, None, width, rows, weights, factor, out),
            #[cfg(target_arch = "x86_64")]
            Storage::F16(d)
                if matches!(self, Kernel::Avx2 | Kernel::Avx512) && has_avx2_fma_f16c() =>
            {
                // SAFETY: the guard has just confirmed AVX2, FMA and F16C on this CPU.
                unsafe { sum_rows_f16c(d, width, rows, weights, factor, out) }
            }
            Storage::F16(d) => self.sum_rows_impl(d, None, width, rows, weights, factor, out),
            Storage::I8 { values, scales } => {
                self.sum_rows_impl(values, Some(scales), width, rows, weights, factor, out)
            }
        }
    }

    /// The generic form: `out[..] = sum_i w_i * s[rows[i]] * table[rows[i]][..]` with optional per-position
    /// weights `w` and per-row scales `s`.
    #[inline]
    pub fn sum_rows_of<E: Element, I: TokenId>(
        self,
        data: &[E],
        scales: Option<&[f32]>,
        width: usize,
        rows: &[I],
        weights: Option<&[f32]>,
        out: &mut [f32],
    ) {
        self.sum_rows_impl(data, scales, width, rows, weights, 1.0, out)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn sum_rows_impl<E: Element, I: TokenId>(
        self,
        data: &[E],
        scales: Option<&[f32]>,
        width: usize,
        rows: &[I],
        weights: Option<&[f32]>,
        factor: f32,
        out: &mut [f32],
    ) {
        debug_assert!(out.len() <= width);
        if let Some(w) = weights {
            assert_eq!(w.len(), rows.len(), "one weight per row");
        }
        match self {
            Kernel::Scalar => {
                sum_rows_scalar_of(data, scales, width, rows, weights, out);
                if factor != 1.0 {
                    scale(out, factor);
                }
            }
            Kernel::Baseline => {
                sum_rows_blocked::<E, I, 32>(data, scales, width, rows, weights, factor, out)
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 if has_avx2_fma() => {
                // SAFETY: the guard has just confirmed AVX2 and FMA on this CPU (the check is a cached load).
                unsafe { sum_rows_avx2(data, scales, width, rows, weights, factor, out) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 if std::is_x86_feature_detected!("avx512f") => {
                // SAFETY: the guard has just confirmed AVX-512F on this CPU.
                unsafe { sum_rows_avx512(data, scales, width, rows, weights, factor, out) }
            }
            // A variant named on a CPU that lacks its features (the enum is public) falls back safely.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 | Kernel::Avx512 => {
                sum_rows_blocked::<E, I, 32>(data, scales, width, rows, weights, factor, out)
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_avx2_fma_f16c() -> bool {
    has_avx2_fma() && std::is_x86_feature_detected!("f16c")
}

/// float16 rows with the F16C conversion instruction: 64 columns (8 ymm accumulators) at a time, each
/// 8 halves widened by one `vcvtph2ps`. The tail columns use the portable loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn sum_rows_f16c<I: TokenId>(
    data: &[u16],
    width: usize,
    rows: &[I],
    weights: Option<&[f32]>,
    factor: f32,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    const B: usize = 64;
    let k = out.len();
    let full = k - k % B;
    let mut col = 0;
    while col < full {
        let mut acc = [_mm256_setzero_ps(); 8];
        for (i, &r) in rows.iter().enumerate() {
            let start = r.index() * width + col;
            // Bounds-checked slice of exactly B halves; the loads below stay inside it.
            let src = &data[start..start + B];
            let c = _mm256_set1_ps(weights.map_or(1.0, |w| w[i]));
            for (j, a) in acc.iter_mut().enumerate() {
                // SAFETY: `src` holds 64 u16 values; lane j reads src[8j..8j+8], within the slice.
                // `_mm_loadu_si128` has no alignment requirement.
                let halves = unsafe { _mm_loadu_si128(src.as_ptr().add(8 * j) as *const __m128i) };
                let x = _mm256_cvtph_ps(halves);
                *a = if weights.is_some() {
                    _mm256_fmadd_ps(c, x, *a)
                } else {
                    _mm256_add_ps(*a, x)
                };
            }
        }
        let f = _mm256_set1_ps(factor);
        for (j, a) in acc.iter().enumerate() {
            let dst = &mut out[col + 8 * j..col + 8 * j + 8];
            // SAFETY: `dst` holds exactly 8 f32; `_mm256_storeu_ps` has no alignment requirement.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), _mm256_mul_ps(*a, f)) };
        }
        col += B;
    }
    if full < k {
        let tail = &mut out[full..];
        tail.fill(0.0);
        for (i, &r) in rows.iter().enumerate() {
            let start = r.index() * width + full;
            let row = &data[start..start + tail.len()];
            match weights {
                None => tail
                    .iter_mut()
                    .zip(row)
                    .for_each(|(o, &h)| *o += f16_to_f32(h)),
                Some(w) => tail
                    .iter_mut()
                    .zip(row)
                    .for_each(|(o, &h)| *o += w[i] * f16_to_f32(h)),
            }
        }
        if factor != 1.0 {
            scale(tail, factor);
        }
    }
}

/// A stored table value that widens to float32.
pub trait Element: Copy + Send + Sync + 'static {
    /// The value as float32.
    fn to_f32(self) -> f32;
}

impl Element for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

impl Element for i8 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
}

/// `u16` elements are IEEE float16 bit patterns.
impl Element for u16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16_to_f32(self)
    }
}

/// Exact float16 → float32 conversion without branches, so that it vectorises. Normal numbers move their
/// exponent and mantissa into place with integer arithmetic; subnormals are `mantissa * 2^-24` (an integer
/// to float conversion and a multiplication by a normal constant, so no float32 subnormal is ever an operand:
/// those take a slow microcode path on x86); infinities and NaNs keep their payload.
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let magnitude = h & 0x7fff;
    let exponent = h & 0x7c00;
    let normal = f32::from_bits((magnitude << 13) + ((127 - 15) << 23));
    let subnormal = (h & 0x03ff) as f32 * f32::from_bits((127 - 24) << 23);
    let inf_nan = f32::from_bits((magnitude << 13) | (0xff << 23));
    let value = if exponent == 0 {
        subnormal
    } else if exponent == 0x7c00 {
        inf_nan
    } else {
        normal
    };
    f32::from_bits(value.to_bits() | ((h & 0x8000) << 16))
}

/// The reference for float32 tables: add one row at a time into `out`.
pub fn sum_rows_scalar<I: TokenId>(
    data: &[f32],
    width: usize,
    rows: &[I],
    weights: Option<&[f32]>,
    out: &mut [f32],
) {
    sum_rows_scalar_of(data, None, width, rows, weights, out)
}

/// The reference for any storage: add one row at a time into `out`.
pub fn sum_rows_scalar_of<E: Element, I: TokenId>(
    data: &[E],
    scales: Option<&[f32]>,
    width: usize,
    rows: &[I],
    weights: Option<&[f32]>,
    out: &mut [f32],
) {
    let k = out.len();
    out.fill(0.0);
    for (i, &r) in rows.iter().enumerate() {
        let start = r.index() * width;
        let row = &data[start..start + k];
        if weights.is_none() && scales.is_none() {
            for (o, x) in out.iter_mut().zip(row) {
                *o += x.to_f32();
            }
        } else {
            let c = weights.map_or(1.0, |w| w[i]) * scales.map_or(1.0, |s| s[r.index()]);
            for (o, x) in out.iter_mut().zip(row) {
                *o += c * x.to_f32();
            }
        }
    }
}

/// Column-blocked gather: for each block of `B` columns, keep `B` accumulators in registers and stream the
/// matching slice of every row through them. The tail (`k % B` columns) uses the row-by-row loop.
#[inline(always)]
fn sum_rows_blocked<E: Element, I: TokenId, const B: usize>(
    data: &[E],
    scales: Option<&[f32]>,
    width: usize,
    rows: &[I],
    weights: Option<&[f32]>,
    factor: f32,
    out: &mut [f32],
) {
    let k = out.len();
    let full = k - k % B;
    let unit = weights.is_none() && scales.is_none();
    let coef = |i: usize, r: usize| weights.map_or(1.0, |w| w[i]) * scales.map_or(1.0, |s| s[r]);
    let mut col = 0;
    while col < full {
        let mut acc = [0.0f32; B];
        if unit {
            for &r in rows {
                let start = r.index() * width + col;
                let src: &[E; B] = data[start..start + B]
                    .try_into()
                    .expect("block of B columns");
                for j in 0..B {
                    acc[j] += src[j].to_f32();
                }
            }
        } else {
            for (i, &r) in rows.iter().enumerate() {
                let c = coef(i, r.index());
                let start = r.index() * width + col;
                let src: &[E; B] = data[start..start + B]
                    .try_into()
                    .expect("block of B columns");
                for j in 0..B {
                    acc[j] += c * src[j].to_f32();
                }
            }
        }
        for (o, a) in out[col..col + B].iter_mut().zip(&acc) {
            *o = a * factor;
        }
        col += B;
    }
    if full < k {
        let tail = &mut out[full..];
        tail.fill(0.0);
        for (i, &r) in rows.iter().enumerate() {
            let start = r.index() * width + full;
            let row = &data[start..start + tail.len()];
            if unit {
                for (o, x) in tail.iter_mut().zip(row) {
                    *o += x.to_f32();
                }
            } else {
                let c = coef(i, r.index());
                for (o, x) in tail.iter_mut().zip(row) {
                    *o += c * x.to_f32();
                }
            }
        }
        if factor != 1.0 {
            scale(tail, factor);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum_rows_avx2<E: Element, I: TokenId>(
    data: &[E],
    scales: Option<&[f32]>,
    width: usize,
    rows: &[I],
    weights: Option<&[f32]>,
    factor: f32,
    out: &mut [f32],
) {
    // 64 floats = 8 ymm accumulators, half of the 16 registers.
    sum_rows_blocked::<E, I, 64>(data, scales, width, rows, weights, factor, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_rows_avx512<E: Element, I: TokenId>(
    data: &[E],
    scales: Option<&[f32]>,
    width: usize,
    rows: &[I],
    weights: Option<&[f32]>,
    factor: f32,
    out: &mut [f32],
) {
    // 128 floats = 8 zmm accumulators.
    sum_rows_blocked::<E, I, 128>(data, scales, width, rows, weights, factor, out)
}

/// Multiply in place by `s`.
#[inline]
pub fn scale(v: &mut [f32], s: f32) {
    for x in v.iter_mut() {
        *x *= s;
    }
}

/// Divide by the Euclidean norm, as `torch.nn.functional.normalize` does (`x / max(||x||, 1e-12)`): a zero
/// vector stays zero, and a vector holding NaN is all NaN. A finite vector whose squares overflow f32 (values
/// above about 1e19) is divided by its largest magnitude first and then by the norm of that, so it still comes
/// out a unit vector rather than zero, even where the norm itself is past f32's range (values near 3.4e38).
#[inline]
pub fn l2_normalize(v: &mut [f32]) {
    let norm = sum_of_squares(v).sqrt();
    if norm.is_infinite() {
        let largest = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        if largest.is_finite() {
            scale(v, 1.0 / largest);
            let inv = 1.0 / sum_of_squares(v).sqrt(); // between 1 and sqrt(v.len())
            scale(v, inv);
            return;
        }
    }
    // `f32::max` returns its other operand for NaN: a NaN norm must stay NaN (torch's clamp_min does).
    let inv = 1.0 / if norm.is_nan() { norm } else { norm.max(1e-12) };
    scale(v, inv);
}

#[inline]
fn sum_of_squares(v: &[f32]) -> f32 {
    // Sixteen partial sums so that the loop vectorises (a single f32 sum would be a serial chain).
    let mut lanes = [0.0f32; 16];
    let chunks = v.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..16 {
            lanes[j] += c[j] * c[j];
        }
    }
    lanes.iter().sum::<f32>() + rest.iter().map(|x| x * x).sum::<f32>()
}
