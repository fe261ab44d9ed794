//! Helpers shared by the integration tests: a deterministic generator, random tables and bags, a naive f64
//! reference for pooling, and tolerance checks.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

/// SplitMix64: small, deterministic, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub fn table(&mut self, rows: usize, width: usize) -> Vec<f32> {
        (0..rows * width).map(|_| self.unit()).collect()
    }

    pub fn ids(&mut self, n: usize, rows: usize) -> Vec<u32> {
        (0..n).map(|_| self.below(rows) as u32).collect()
    }

    /// Weights in `[-2, 2)`, with an occasional exact zero.
    pub fn weights(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                if self.below(8) == 0 {
                    0.0
                } else {
                    2.0 * self.unit()
                }
            })
            .collect()
    }

    /// Flat ids and start offsets for bags of the given lengths.
    pub fn bags(&mut self, lens: &[usize], rows: usize) -> (Vec<u32>, Vec<u32>) {
        let mut ids = Vec::new();
        let mut offsets = Vec::with_capacity(lens.len());
        for &l in lens {
            offsets.push(ids.len() as u32);
            ids.extend(self.ids(l, rows));
        }
        (ids, offsets)
    }
}

/// Reference pooling in f64: for each bag, `sum_i w_i * row_i[..dim] / n` (zero for an empty bag), then
/// optionally divided by the L2 norm. Returns `(values, scale)` where `scale[b * dim + c]` bounds the
/// magnitude that rounding errors scale with (`sum_i |w_i * x_i| / n`, divided by the norm when normalizing).
pub fn naive_pool(
    data: &[f32],
    width: usize,
    ids: &[u32],
    offsets: &[u32],
    weights: Option<&[f32]>,
    dim: usize,
    normalize: bool,
) -> (Vec<f64>, Vec<f64>) {
    let n = offsets.len();
    let mut out = vec![0.0f64; n * dim];
    let mut scale = vec![0.0f64; n * dim];
    for b in 0..n {
        let start = offsets[b] as usize;
        let end = if b + 1 < n {
            offsets[b + 1] as usize
        } else {
            ids.len()
        };
        let row = &mut out[b * dim..(b + 1) * dim];
        let srow = &mut scale[b * dim..(b + 1) * dim];
        for i in start..end {
            let w = weights.map_or(1.0, |w| w[i] as f64);
            let r = ids[i] as usize;
            for c in 0..dim {
                let x = w * data[r * width + c] as f64;
                row[c] += x;
                srow[c] += x.abs();
            }
        }
        let count = (end - start).max(1) as f64;
        for c in 0..dim {
            row[c] /= count;
            srow[c] /= count;
        }
        if normalize {
            let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.0 {
                // The whole row's error, not one column's, leaks into every column through the norm.
                let total = srow.iter().map(|x| x * x).sum::<f64>().sqrt();
                for c in 0..dim {
                    row[c] /= norm;
                    srow[c] = total / norm;
                }
            }
        }
    }
    (out, scale)
}

/// `got[i]` is within `rel * scale[i] + abs` of `want[i]`.
pub fn assert_close(got: &[f32], want: &[f64], scale: &[f64], rel: f64, abs: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let tol = rel * s + abs;
        assert!(
            (g as f64 - w).abs() <= tol,
            "{what}: element {i}: got {g}, expected {w} (tolerance {tol})"
        );
    }
}

/// Two f32 slices agree within `rel` of the larger magnitude (plus `abs`).
pub fn assert_close_f32(got: &[f32], want: &[f32], rel: f32, abs: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = rel * g.abs().max(w.abs()) + abs;
        assert!(
            (g - w).abs() <= tol,
            "{what}: element {i}: got {g}, expected {w} (tolerance {tol})"
        );
    }
}

pub fn l2(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt()
}
