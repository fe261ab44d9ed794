//! Every available kernel agrees with the scalar reference `sum_rows_scalar`.

mod common;

use common::Rng;
use proptest::prelude::*;
use staticemb_core::internals::{l2_normalize, scale, sum_rows_scalar};
use staticemb_core::Kernel;

/// Per-element bound on the rounding error of a sum: `sum_i |w_i * x_i|` for each column.
fn abs_sums(
    data: &[f32],
    width: usize,
    rows: &[u32],
    weights: Option<&[f32]>,
    dim: usize,
) -> Vec<f64> {
    let mut s = vec![0.0f64; dim];
    for (i, &r) in rows.iter().enumerate() {
        let w = weights.map_or(1.0, |w| w[i]) as f64;
        for (c, sc) in s.iter_mut().enumerate() {
            *sc += (w * data[r as usize * width + c] as f64).abs();
        }
    }
    s
}

/// Run every available kernel on one case and compare with the scalar reference. The output buffer starts
/// filled with NaN so that a kernel that forgets to overwrite a column is caught.
fn check_all_kernels(
    data: &[f32],
    width: usize,
    rows: &[u32],
    weights: Option<&[f32]>,
    dim: usize,
) {
    let mut want = vec![f32::NAN; dim];
    sum_rows_scalar(data, width, rows, weights, &mut want);
    let bound = abs_sums(data, width, rows, weights, dim);
    for (c, (&w, &b)) in want.iter().zip(&bound).enumerate() {
        assert!(
            w.is_finite() && (w as f64).abs() <= b * (1.0 + 1e-5) + 1e-6,
            "scalar column {c}: {w} vs bound {b}"
        );
    }
    for kernel in Kernel::available() {
        let mut got = vec![f32::NAN; dim];
        kernel.sum_rows(data, width, rows, weights, &mut got);
        for (c, ((&g, &w), &b)) in got.iter().zip(&want).zip(&bound).enumerate() {
            let tol = 1e-5 * b + 1e-6;
            assert!(
                ((g - w) as f64).abs() <= tol,
                "kernel {} width {width} dim {dim} bag {} weights {}: column {c}: got {g}, scalar {w}",
                kernel.name(),
                rows.len(),
                weights.is_some()
            );
        }
    }
}

const WIDTHS: &[usize] = &[
    1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 300, 1000, 1024,
];

#[test]
fn kernels_match_scalar_on_fixed_widths() {
    let mut rng = Rng::new(1);
    for &width in WIDTHS {
        let n_rows = 37;
        let data = rng.table(n_rows, width);
        let mut dims = vec![
            1,
            width / 2,
            width.saturating_sub(1),
            width,
            7,
            31,
            64,
            100,
            128,
            256,
        ];
        dims.retain(|&d| d >= 1 && d <= width);
        dims.sort_unstable();
        dims.dedup();
        for &dim in &dims {
            for bag in [0usize, 1, 2, 3, 16, 40] {
                let rows = rng.ids(bag, n_rows);
                check_all_kernels(&data, width, &rows, None, dim);
                let w = rng.weights(bag);
                check_all_kernels(&data, width, &rows, Some(&w), dim);
            }
        }
    }
}

#[test]
fn empty_bag_gives_zeros_for_every_kernel() {
    let data = vec![1.0f32; 4 * 300];
    for kernel in Kernel::available() {
        for dim in [1, 64, 129, 300] {
            let mut out = vec![f32::NAN; dim];
            kernel.sum_rows::<u32>(&data, 300, &[], None, &mut out);
            assert!(
                out.iter().all(|&x| x == 0.0),
                "{} dim {dim}: {out:?}",
                kernel.name()
            );
            let mut out = vec![7.0f32; dim];
            kernel.sum_rows::<u32>(&data, 300, &[], Some(&[]), &mut out);
            assert!(
                out.iter().all(|&x| x == 0.0),
                "{} weighted dim {dim}",
                kernel.name()
            );
        }
    }
}

#[test]
fn repeated_row_and_exact_values() {
    // Small integers are exact in f32, so every kernel must return exactly these sums.
    let width = 200;
    let data: Vec<f32> = (0..3 * width).map(|i| (i % 17) as f32 - 8.0).collect();
    let rows = [2u32, 0, 2, 1, 2];
    let weights = [1.0f32, -2.0, 0.5, 0.0, 4.0];
    for kernel in Kernel::available() {
        let mut out = vec![0.0f32; width];
        kernel.sum_rows(&data, width, &rows, None, &mut out);
        let mut out_w = vec![0.0f32; width];
        kernel.sum_rows(&data, width, &rows, Some(&weights), &mut out_w);
        for c in 0..width {
            let x = |r: usize| data[r * width + c];
            assert_eq!(
                out[c],
                3.0 * x(2) + x(0) + x(1),
                "{} column {c}",
                kernel.name()
            );
            assert_eq!(
                out_w[c],
                5.5 * x(2) - 2.0 * x(0),
                "{} weighted column {c}",
                kernel.name()
            );
        }
    }
}

#[test]
fn every_id_type_gives_the_same_sum() {
    let mut rng = Rng::new(2);
    let (n_rows, width) = (20, 96);
    let data = rng.table(n_rows, width);
    let rows = rng.ids(25, n_rows);
    let as_i32: Vec<i32> = rows.iter().map(|&r| r as i32).collect();
    let as_i64: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    let as_u64: Vec<u64> = rows.iter().map(|&r| r as u64).collect();
    for kernel in Kernel::available() {
        let mut a = vec![0.0; width];
        kernel.sum_rows(&data, width, &rows, None, &mut a);
        for (name, got) in [
            ("i32", {
                let mut o = vec![0.0; width];
                kernel.sum_rows(&data, width, &as_i32, None, &mut o);
                o
            }),
            ("i64", {
                let mut o = vec![0.0; width];
                kernel.sum_rows(&data, width, &as_i64, None, &mut o);
                o
            }),
            ("u64", {
                let mut o = vec![0.0; width];
                kernel.sum_rows(&data, width, &as_u64, None, &mut o);
                o
            }),
        ] {
            assert_eq!(a, got, "{} with {name} ids", kernel.name());
        }
    }
}

#[test]
fn kernel_names_and_lookup() {
    let available = Kernel::available();
    assert_eq!(available[0], Kernel::Scalar, "the reference comes first");
    assert!(available.contains(&Kernel::Baseline));
    assert!(
        available.contains(&Kernel::detect()),
        "detect() picks an available kernel"
    );
    for &k in &available {
        assert_eq!(Kernel::from_name(k.name()), Some(k), "{}", k.name());
        assert_eq!(
            Kernel::from_name(&format!(" {} ", k.name().to_uppercase())),
            Some(k)
        );
    }
    let mut names: Vec<_> = available.iter().map(|k| k.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), available.len(), "names are unique");
    assert_eq!(Kernel::from_name("no-such-kernel"), None);
    #[cfg(target_arch = "x86_64")]
    {
        // Documented policy: AVX2+FMA when present, never AVX-512 automatically.
        let want = if available.contains(&Kernel::Avx2) {
            Kernel::Avx2
        } else {
            Kernel::Baseline
        };
        assert_eq!(Kernel::detect(), want);
    }
}

#[test]
fn l2_normalize_and_scale() {
    let mut zero = vec![0.0f32; 33];
    l2_normalize(&mut zero);
    assert!(zero.iter().all(|&x| x == 0.0), "a zero vector stays zero");

    let mut rng = Rng::new(3);
    for len in [1, 3, 15, 16, 17, 64, 100, 1024] {
        let mut v: Vec<f32> = (0..len).map(|_| rng.unit() * 50.0).collect();
        let before = v.clone();
        let norm = common::l2(&before);
        l2_normalize(&mut v);
        assert!(
            (common::l2(&v) - 1.0).abs() < 1e-5,
            "len {len}: norm {}",
            common::l2(&v)
        );
        for (a, b) in v.iter().zip(&before) {
            assert!(((*a as f64) - (*b as f64) / norm).abs() < 1e-6);
        }
    }

    // Finite values whose squares overflow f32 still give a unit vector in their direction.
    for len in [1, 17, 1024] {
        let small: Vec<f32> = (0..len).map(|_| rng.unit() * 50.0).collect();
        let mut huge: Vec<f32> = small.iter().map(|x| x * 1e30).collect();
        assert!(huge.iter().all(|x| x.is_finite()));
        let mut expected = small.clone();
        l2_normalize(&mut expected);
        l2_normalize(&mut huge);
        for (a, b) in huge.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "len {len}: {a} vs {b}");
        }
    }

    // Values whose norm itself is past f32's range (3e38 in four columns: norm 6e38) came out all zero.
    for (value, len) in [(3e38f32, 4), (-3e38, 4), (2e37, 1024)] {
        let mut v = vec![value; len];
        l2_normalize(&mut v);
        let want = value.signum() / (len as f32).sqrt();
        assert!(
            v.iter().all(|x| (x - want).abs() < 1e-6),
            "{value} x {len}: {:?}",
            &v[..4]
        );
    }
    let mut mixed = vec![3e38f32, 1.0, -3e38, 0.0];
    l2_normalize(&mut mixed);
    assert!((common::l2(&mixed) - 1.0).abs() < 1e-6 && mixed[3] == 0.0);

    // A NaN makes the whole vector NaN, as torch's normalize does (the 1e-12 floor made it 1e12 times too big).
    let mut nan = vec![f32::NAN, 0.5, 0.5, 0.5];
    l2_normalize(&mut nan);
    assert!(nan.iter().all(|x| x.is_nan()), "{nan:?}");

    let mut v = vec![1.0f32, -2.0, 4.0];
    scale(&mut v, 0.5);
    assert_eq!(v, [0.5, -1.0, 2.0]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn prop_kernels_match_scalar(
        width in 1usize..400,
        n_rows in 1usize..40,
        bag in 0usize..48,
        dim_frac in 0.0f64..=1.0,
        weighted: bool,
        seed: u64,
    ) {
        let mut rng = Rng::new(seed);
        let data = rng.table(n_rows, width);
        let rows = rng.ids(bag, n_rows);
        let weights = weighted.then(|| rng.weights(bag));
        let dim = ((width as f64 * dim_frac).round() as usize).clamp(1, width);
        check_all_kernels(&data, width, &rows, weights.as_deref(), dim);
    }
}
