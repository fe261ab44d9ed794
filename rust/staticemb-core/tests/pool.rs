//! `pool_bags` against a naive f64 mean, Matryoshka truncation, normalization and every error path.

mod common;

use common::{assert_close, naive_pool, Rng};
use proptest::prelude::*;
use staticemb_core::{pool_bags, Error, Kernel, PoolOptions, Table, Threads};

fn opts(dim: usize, normalize: bool, kernel: Kernel) -> PoolOptions {
    PoolOptions {
        dim,
        normalize,
        threads: Threads::Current,
        kernel,
    }
}

fn pool(
    table: &Table<'_>,
    ids: &[u32],
    offsets: &[u32],
    weights: Option<&[f32]>,
    o: &PoolOptions,
) -> Vec<f32> {
    let mut out = vec![f32::NAN; offsets.len() * o.dim];
    pool_bags(table, ids, offsets, weights, o, &mut out).expect("valid input");
    out
}

/// One full check of a case: every kernel, with and without normalization, against the naive mean; and the
/// Matryoshka property (dim < width equals the first `dim` columns of the full-width result).
fn check_case(rows: usize, width: usize, lens: &[usize], weighted: bool, dim: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut data = rng.table(rows, width);
    // Row 0 is all zeros, so that some non-empty bags pool to an exact zero vector.
    data[..width].fill(0.0);
    let table = Table::new(&data, rows, width).unwrap();
    let (ids, offsets) = rng.bags(lens, rows);
    let weights = weighted.then(|| rng.weights(ids.len()));
    let w = weights.as_deref();
    for kernel in Kernel::available() {
        for normalize in [false, true] {
            let got = pool(&table, &ids, &offsets, w, &opts(dim, normalize, kernel));
            let (want, scale) = naive_pool(&data, width, &ids, &offsets, w, dim, normalize);
            let what = format!(
                "kernel {} dim {dim}/{width} normalize {normalize}",
                kernel.name()
            );
            assert_close(&got, &want, &scale, 1e-5, 1e-6, &what);
            if normalize {
                for (b, row) in got.chunks_exact(dim).enumerate() {
                    let n = common::l2(row);
                    if want[b * dim..(b + 1) * dim].iter().all(|&x| x == 0.0) {
                        assert!(
                            row.iter().all(|&x| x == 0.0),
                            "{what}: bag {b} should stay zero: {row:?}"
                        );
                    } else if row.iter().any(|&x| x != 0.0) {
                        assert!((n - 1.0).abs() < 1e-5, "{what}: bag {b} has norm {n}");
                    }
                }
            }
        }
        let full = pool(&table, &ids, &offsets, w, &opts(width, false, kernel));
        let cut = pool(&table, &ids, &offsets, w, &opts(dim, false, kernel));
        for (b, (f, c)) in full
            .chunks_exact(width)
            .zip(cut.chunks_exact(dim))
            .enumerate()
        {
            common::assert_close_f32(
                c,
                &f[..dim],
                1e-6,
                1e-7,
                &format!("kernel {} matryoshka bag {b}", kernel.name()),
            );
        }
    }
}

#[test]
fn fixed_cases_match_naive_mean() {
    let lens = [0, 1, 2, 5, 0, 16, 33, 1, 0];
    for (i, &width) in [1usize, 7, 31, 64, 100, 256, 1000, 1024].iter().enumerate() {
        for &dim in &[1, width / 3, width / 2, width] {
            if dim == 0 {
                continue;
            }
            check_case(29, width, &lens, false, dim, i as u64);
            check_case(29, width, &lens, true, dim, 100 + i as u64);
        }
    }
}

#[test]
fn mean_divides_by_number_of_ids_even_with_weights() {
    let data = [1.0f32, 2.0, 3.0, 4.0, 10.0, 20.0];
    let table = Table::new(&data, 3, 2).unwrap();
    let ids = [0u32, 1, 2, 2];
    let offsets = [0u32, 2, 2];
    let weights = [2.0f32, 0.0, 1.0, -1.0];
    let o = opts(2, false, Kernel::detect());
    assert_eq!(
        pool(&table, &ids, &offsets, None, &o),
        [2.0, 3.0, 0.0, 0.0, 10.0, 20.0]
    );
    // Bag 0: (2 * row0 + 0 * row1) / 2 = row0; bag 2: (row2 - row2) / 2 = 0.
    assert_eq!(
        pool(&table, &ids, &offsets, Some(&weights), &o),
        [1.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    );
    let o = opts(2, true, Kernel::detect());
    let out = pool(&table, &ids, &offsets, Some(&weights), &o);
    assert!((out[0] - 1.0 / 5f32.sqrt()).abs() < 1e-6 && (out[1] - 2.0 / 5f32.sqrt()).abs() < 1e-6);
    assert_eq!(
        &out[2..],
        &[0.0; 4],
        "zero vectors stay zero after normalization"
    );
}

#[test]
fn generic_id_and_offset_types() {
    let mut rng = Rng::new(9);
    let (rows, width) = (40, 48);
    let data = rng.table(rows, width);
    let table = Table::new(&data, rows, width).unwrap();
    let (ids, offsets) = rng.bags(&[3, 0, 7, 1], rows);
    let o = opts(width, true, Kernel::detect());
    let want = pool(&table, &ids, &offsets, None, &o);
    let ids64: Vec<i64> = ids.iter().map(|&x| x as i64).collect();
    let offs32: Vec<i32> = offsets.iter().map(|&x| x as i32).collect();
    let ids_u64: Vec<u64> = ids.iter().map(|&x| x as u64).collect();
    let offs64: Vec<i64> = offsets.iter().map(|&x| x as i64).collect();
    let mut a = vec![0.0; want.len()];
    pool_bags(&table, &ids64, &offs32, None, &o, &mut a).unwrap();
    let mut b = vec![0.0; want.len()];
    pool_bags(&table, &ids_u64, &offs64, None, &o, &mut b).unwrap();
    assert_eq!(a, want);
    assert_eq!(b, want);
}

#[test]
fn no_bags_and_no_ids() {
    let data = [1.0f32; 8];
    let table = Table::new(&data, 2, 4).unwrap();
    let o = opts(4, false, Kernel::detect());
    let mut out: Vec<f32> = vec![];
    pool_bags::<u32, u32>(&table, &[], &[], None, &o, &mut out).unwrap();
    let mut out = vec![f32::NAN; 8];
    pool_bags::<u32, u32>(&table, &[], &[0, 0], None, &o, &mut out).unwrap();
    assert_eq!(out, [0.0; 8]);
}

#[test]
fn long_bags_match_naive_mean() {
    // Bags around and well past the 1024-row block of the long-bag path, weights spanning blocks.
    let lens = [1023, 1024, 1025, 2047, 2048, 2049, 5000, 3];
    for width in [1, 64, 129] {
        check_case(300, width, &lens, false, width, 7);
        check_case(300, width, &lens, true, width, 8);
        check_case(300, width, &lens, true, width.div_ceil(2), 9);
    }
}

#[test]
fn mean_of_a_very_long_bag_stays_accurate() {
    // 300,000 copies of the same row: the mean is that row. One f32 running sum drifts by about 1e-3
    // relative here (0.3% for 16.1); 1024-row blocks added in f64 keep the error of a 1024-token text (~1e-5).
    let data: Vec<f32> = (0..2 * 40).map(|i| 0.1 + (i as f32) / 3.0).collect();
    let table = Table::new(&data, 2, 40).unwrap();
    let ids = vec![1u32; 300_000];
    let weights = vec![0.7f32; ids.len()];
    for kernel in Kernel::available() {
        let o = opts(40, false, kernel);
        let out = pool(&table, &ids, &[0], None, &o);
        let out_w = pool(&table, &ids, &[0], Some(&weights), &o);
        for c in 0..40 {
            let x = data[40 + c] as f64;
            let (g, gw) = (out[c] as f64, out_w[c] as f64);
            assert!(
                (g - x).abs() <= 5e-5 * x,
                "{} column {c}: {g} vs {x}",
                kernel.name()
            );
            assert!(
                (gw - 0.7 * x).abs() <= 5e-5 * x,
                "{} weighted column {c}: {gw} vs {}",
                kernel.name(),
                0.7 * x
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Errors: each malformed input returns the matching variant, never a panic.

fn small() -> Vec<f32> {
    (0..12).map(|i| i as f32).collect() // 3 rows x 4
}

#[test]
fn table_shape_errors() {
    let data = small();
    assert!(Table::new(&data, 3, 4).is_ok());
    assert!(
        Table::new(&[], 0, 4).is_ok(),
        "an empty table is a valid shape"
    );
    for (rows, width) in [
        (3, 3),
        (4, 4),
        (2, 4),
        (12, 0),
        (0, 0),
        (usize::MAX, 2),
        (2, usize::MAX),
    ] {
        match Table::new(&data, rows, width) {
            Err(Error::TableShape {
                len,
                rows: r,
                width: w,
            }) => {
                assert_eq!((len, r, w), (12, rows, width));
            }
            other => panic!("{rows}x{width}: expected TableShape, got {other:?}"),
        }
    }
}

#[test]
fn id_out_of_range_errors() {
    let data = small();
    let table = Table::new(&data, 3, 4).unwrap();
    let o = opts(4, false, Kernel::detect());
    let mut out = vec![0.0; 4];
    let offsets = [0u32];

    let r = pool_bags(&table, &[0i64, 2, -1], &offsets, None, &o, &mut out);
    assert!(
        matches!(
            r,
            Err(Error::IdOutOfRange {
                id: -1,
                position: 2,
                rows: 3
            })
        ),
        "{r:?}"
    );
    let r = pool_bags(&table, &[i64::MIN], &offsets, None, &o, &mut out);
    assert!(
        matches!(r, Err(Error::IdOutOfRange { id, position: 0, rows: 3 }) if id == i64::MIN as i128),
        "{r:?}"
    );
    let r = pool_bags(&table, &[1i32, -5], &offsets, None, &o, &mut out);
    assert!(
        matches!(
            r,
            Err(Error::IdOutOfRange {
                id: -5,
                position: 1,
                ..
            })
        ),
        "{r:?}"
    );
    let r = pool_bags(&table, &[3u32], &offsets, None, &o, &mut out);
    assert!(
        matches!(
            r,
            Err(Error::IdOutOfRange {
                id: 3,
                position: 0,
                rows: 3
            })
        ),
        "{r:?}"
    );
    let r = pool_bags(
        &table,
        &[0u32, 1, 2, 1, 0, 1000],
        &offsets,
        None,
        &o,
        &mut out,
    );
    assert!(
        matches!(
            r,
            Err(Error::IdOutOfRange {
                id: 1000,
                position: 5,
                ..
            })
        ),
        "{r:?}"
    );
    let r = pool_bags(&table, &[u64::MAX], &offsets, None, &o, &mut out);
    assert!(
        matches!(r, Err(Error::IdOutOfRange { id, .. }) if id == u64::MAX as i128),
        "{r:?}"
    );
    let r = pool_bags(&table, &[i64::MAX], &offsets, None, &o, &mut out);
    assert!(
        matches!(r, Err(Error::IdOutOfRange { id, .. }) if id == i64::MAX as i128),
        "{r:?}"
    );
    // An id in a bag past the last offset is still checked (it belongs to the last bag).
    let r = pool_bags(&table, &[0u32, 7], &[0u32, 1], None, &o, &mut [0.0; 8]);
    assert!(
        matches!(
            r,
            Err(Error::IdOutOfRange {
                id: 7,
                position: 1,
                ..
            })
        ),
        "{r:?}"
    );
    // An empty table has no valid id.
    let empty = Table::new(&[], 0, 4).unwrap();
    let r = pool_bags(&empty, &[0u32], &offsets, None, &o, &mut out);
    assert!(
        matches!(r, Err(Error::IdOutOfRange { id: 0, rows: 0, .. })),
        "{r:?}"
    );
}

#[test]
fn offset_errors() {
    let data = small();
    let table = Table::new(&data, 3, 4).unwrap();
    let o = opts(4, false, Kernel::detect());
    let ids = [0u32, 1, 2];
    let check = |offsets: &[i64], needle: &str| {
        let mut out = vec![0.0; offsets.len() * 4];
        match pool_bags(&table, &ids, offsets, None, &o, &mut out) {
            Err(Error::Offsets(msg)) => assert!(msg.contains(needle), "{offsets:?}: {msg}"),
            other => panic!("{offsets:?}: expected Offsets, got {other:?}"),
        }
    };
    check(&[1], "offsets[0] must be 0");
    check(&[1, 2], "offsets[0] must be 0");
    check(&[-1, 2], "negative");
    check(&[0, -2], "negative");
    check(&[0, 2, 1], "non-decreasing");
    check(&[0, 4], "past the end");
    check(&[0, 1, 3, 4], "past the end");
    check(&[0, i64::MAX], "past the end");
    // The boundary cases are fine: a last offset equal to the number of ids is an empty last bag.
    let mut out = vec![f32::NAN; 12];
    pool_bags(&table, &ids, &[0u32, 0, 3], None, &o, &mut out).unwrap();
    assert_eq!(&out[..4], &[0.0; 4]);
    assert_eq!(&out[8..], &[0.0; 4]);
    // Unsigned offsets beyond the end.
    let r = pool_bags(&table, &ids, &[0u64, u64::MAX], None, &o, &mut [0.0; 8]);
    assert!(matches!(r, Err(Error::Offsets(_))), "{r:?}");
}

#[test]
fn dim_output_and_weight_errors() {
    let data = small();
    let table = Table::new(&data, 3, 4).unwrap();
    let ids = [0u32, 1];
    let offsets = [0u32, 1];
    for dim in [0, 5, usize::MAX] {
        let r = pool_bags(
            &table,
            &ids,
            &offsets,
            None,
            &opts(dim, false, Kernel::detect()),
            &mut [0.0; 8],
        );
        assert!(
            matches!(r, Err(Error::Dim { dim: d, width: 4 }) if d == dim),
            "dim {dim}: {r:?}"
        );
    }
    let o = opts(2, false, Kernel::detect());
    for len in [0, 3, 5, 8] {
        let r = pool_bags(&table, &ids, &offsets, None, &o, &mut vec![0.0; len]);
        assert!(
            matches!(r, Err(Error::Output { len: l, expected: 4 }) if l == len),
            "len {len}: {r:?}"
        );
    }
    let r = pool_bags(&table, &ids, &offsets, Some(&[1.0]), &o, &mut [0.0; 4]);
    assert!(matches!(r, Err(Error::Vocab(_))), "{r:?}");
    let r = pool_bags(
        &table,
        &ids,
        &offsets,
        Some(&[1.0, 1.0, 1.0]),
        &o,
        &mut [0.0; 4],
    );
    assert!(matches!(r, Err(Error::Vocab(_))), "{r:?}");
    // Messages are complete sentences that name the numbers.
    let msg = Error::Output {
        len: 3,
        expected: 4,
    }
    .to_string();
    assert!(msg.contains('3') && msg.contains('4'), "{msg}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn prop_pool_matches_naive_mean(
        rows in 1usize..30,
        width in 1usize..300,
        lens in proptest::collection::vec(prop_oneof![Just(0usize), 1usize..6, 6usize..40], 0..24),
        weighted: bool,
        dim_frac in 0.0f64..=1.0,
        seed: u64,
    ) {
        let dim = ((width as f64 * dim_frac).round() as usize).clamp(1, width);
        check_case(rows, width, &lens, weighted, dim, seed);
    }
}
