//! float16 and int8 (per-row scale) tables: exact widening, every kernel equal to the scalar reference, and
//! pooling equal to pooling the dequantized float32 table.

use proptest::prelude::*;
use staticemb_core::internals::{f16_to_f32, sum_rows_scalar_of};
use staticemb_core::{pool_bags, Kernel, PoolOptions, Table, Threads};

#[test]
fn f16_widening_is_exact_for_every_bit_pattern() {
    for bits in 0..=u16::MAX {
        let want = half::f16::from_bits(bits).to_f32();
        let got = f16_to_f32(bits);
        if want.is_nan() {
            assert!(got.is_nan(), "{bits:#06x}");
        } else {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{bits:#06x}: {got} != {want}"
            );
        }
    }
}

fn tables(rows: usize, width: usize, seed: u64) -> (Vec<f32>, Vec<u16>, Vec<i8>, Vec<f32>) {
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let f32s: Vec<f32> = (0..rows * width).map(|_| next() as f32).collect();
    let f16s: Vec<u16> = f32s
        .iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect();
    let mut i8s = Vec::with_capacity(rows * width);
    let mut scales = Vec::with_capacity(rows);
    for row in f32s.chunks(width) {
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12);
        let scale = max / 127.0;
        scales.push(scale);
        i8s.extend(
            row.iter()
                .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
        );
    }
    (f32s, f16s, i8s, scales)
}

#[test]
fn quantized_kernels_match_the_scalar_reference() {
    for width in [1usize, 7, 33, 64, 100, 256, 1024] {
        let rows = 200;
        let (_, f16s, i8s, scales) = tables(rows, width, width as u64);
        let ids: Vec<u32> = (0..50).map(|i| (i * 37 % rows) as u32).collect();
        let weights: Vec<f32> = (0..50).map(|i| 0.5 + i as f32 / 50.0).collect();
        for dim in [1, width / 2 + 1, width] {
            for w in [None, Some(weights.as_slice())] {
                let mut want = vec![0f32; dim];
                sum_rows_scalar_of(&f16s, None, width, &ids, w, &mut want);
                let mut want_i8 = vec![0f32; dim];
                sum_rows_scalar_of(&i8s, Some(&scales), width, &ids, w, &mut want_i8);
                for kernel in Kernel::available() {
                    let mut got = vec![f32::NAN; dim];
                    kernel.sum_rows_of(&f16s, None, width, &ids, w, &mut got);
                    for (a, b) in got.iter().zip(&want) {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "f16 {kernel:?} {width} {dim}"
                        );
                    }
                    let mut got = vec![f32::NAN; dim];
                    kernel.sum_rows_of(&i8s, Some(&scales), width, &ids, w, &mut got);
                    for (a, b) in got.iter().zip(&want_i8) {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "i8 {kernel:?} {width} {dim}"
                        );
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn pooling_a_quantized_table_equals_pooling_its_dequantized_copy(
        bags in prop::collection::vec(prop::collection::vec(0u32..300, 0..40), 1..30),
        width in 1usize..300,
        normalize: bool,
        seed in 1u64..1000,
    ) {
        let rows = 300;
        let (_, f16s, i8s, scales) = tables(rows, width, seed);
        let deq_f16: Vec<f32> = f16s.iter().map(|&b| half::f16::from_bits(b).to_f32()).collect();
        let deq_i8: Vec<f32> = i8s.chunks(width).zip(&scales).flat_map(|(r, s)| r.iter().map(move |&q| q as f32 * s)).collect();
        let ids: Vec<u32> = bags.iter().flatten().copied().collect();
        let mut offsets = Vec::new();
        let mut at = 0i64;
        for b in &bags { offsets.push(at); at += b.len() as i64; }
        let dim = width.div_ceil(2).max(1);
        let opts = PoolOptions { dim, normalize, threads: Threads::Current, kernel: Kernel::detect() };
        let n = bags.len() * dim;
        let cases = [
            (Table::f16(&f16s, rows, width).unwrap(), Table::new(&deq_f16, rows, width).unwrap()),
            (Table::i8(&i8s, &scales, rows, width).unwrap(), Table::new(&deq_i8, rows, width).unwrap()),
        ];
        for (quantized, reference) in cases {
            let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
            pool_bags(&quantized, &ids, &offsets, None, &opts, &mut a).unwrap();
            pool_bags(&reference, &ids, &offsets, None, &opts, &mut b).unwrap();
            for (x, y) in a.iter().zip(&b) {
                prop_assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
    }
}

#[test]
fn int8_tables_need_one_scale_per_row() {
    let values = vec![0i8; 12];
    assert!(Table::i8(&values, &[1.0; 3], 3, 4).is_ok());
    assert!(Table::i8(&values, &[1.0; 2], 3, 4).is_err());
    assert!(Table::f16(&[0u16; 11], 3, 4).is_err());
}

#[test]
fn float16_tables_through_every_kernel_match_the_reference() {
    for width in [8usize, 63, 64, 65, 200, 1024] {
        let rows = 100;
        let (_, f16s, _, _) = tables(rows, width, 7 + width as u64);
        let table = Table::f16(&f16s, rows, width).unwrap();
        let ids: Vec<u32> = (0..40).map(|i| (i * 13 % rows) as u32).collect();
        let weights: Vec<f32> = (0..40).map(|i| 0.25 + i as f32 / 40.0).collect();
        for dim in [1, 64, width / 2 + 1, width]
            .into_iter()
            .filter(|&d| d <= width)
        {
            for w in [None, Some(weights.as_slice())] {
                let mut want = vec![0f32; dim];
                sum_rows_scalar_of(&f16s, None, width, &ids, w, &mut want);
                for kernel in Kernel::available() {
                    let mut got = vec![f32::NAN; dim];
                    kernel.sum_rows_table(&table, &ids, w, &mut got);
                    for (a, b) in got.iter().zip(&want) {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "{kernel:?} {width} {dim}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_scaled_sum_is_the_sum_scaled_afterwards_bit_for_bit() {
    // `sum_rows_table_scaled` applies the mean's 1/n as it stores; it must give exactly the float32 products
    // of summing first and scaling after, on every storage and kernel (including the tail columns).
    for width in [8usize, 63, 64, 65, 200, 1024] {
        let rows = 50;
        let (f32s, f16s, i8s, scales) = tables(rows, width, 11 + width as u64);
        let all = [
            Table::new(&f32s, rows, width).unwrap(),
            Table::f16(&f16s, rows, width).unwrap(),
            Table::i8(&i8s, &scales, rows, width).unwrap(),
        ];
        let ids: Vec<u32> = (0..23).map(|i| (i * 7 % rows) as u32).collect();
        let weights: Vec<f32> = (0..23).map(|i| 0.5 + i as f32 / 23.0).collect();
        let factor = 1.0 / ids.len() as f32;
        for table in &all {
            for w in [None, Some(weights.as_slice())] {
                for kernel in Kernel::available() {
                    for dim in [1, width / 2 + 1, width] {
                        let mut want = vec![f32::NAN; dim];
                        kernel.sum_rows_table(table, &ids, w, &mut want);
                        want.iter_mut().for_each(|x| *x *= factor);
                        let mut got = vec![f32::NAN; dim];
                        kernel.sum_rows_table_scaled(table, &ids, w, factor, &mut got);
                        assert_eq!(
                            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                            "{kernel:?} width {width} dim {dim} weights {}",
                            w.is_some()
                        );
                    }
                }
            }
        }
    }
}
