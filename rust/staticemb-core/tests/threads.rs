//! Thread settings change nothing in the result, and concurrent callers share the pools safely.

mod common;

use common::Rng;
use staticemb_core::{available_threads, cached_pools, CACHED_POOLS};
use staticemb_core::{pool_bags, Kernel, PoolOptions, Table, Threads};

struct Case {
    data: Vec<f32>,
    rows: usize,
    width: usize,
    ids: Vec<u32>,
    offsets: Vec<u32>,
    weights: Vec<f32>,
}

fn case() -> Case {
    let mut rng = Rng::new(42);
    let (rows, width) = (500, 96);
    let data = rng.table(rows, width);
    // A few thousand bags, mostly short, some empty, a few long ones.
    let lens: Vec<usize> = (0..5000)
        .map(|i| match i % 50 {
            0 => 0,
            1 => 300,
            _ => rng.below(30),
        })
        .collect();
    let (ids, offsets) = rng.bags(&lens, rows);
    let weights = rng.weights(ids.len());
    Case {
        data,
        rows,
        width,
        ids,
        offsets,
        weights,
    }
}

fn run(c: &Case, threads: Threads, dim: usize, normalize: bool, weighted: bool) -> Vec<f32> {
    let table = Table::new(&c.data, c.rows, c.width).unwrap();
    let opts = PoolOptions {
        dim,
        normalize,
        threads,
        kernel: Kernel::detect(),
    };
    let mut out = vec![f32::NAN; c.offsets.len() * dim];
    let w = weighted.then_some(c.weights.as_slice());
    pool_bags(&table, &c.ids, &c.offsets, w, &opts, &mut out).unwrap();
    out
}

const SETTINGS: &[Threads] = &[
    Threads::Current,
    Threads::Fixed(0),
    Threads::Fixed(1),
    Threads::Fixed(2),
    Threads::Fixed(3),
    Threads::Fixed(7),
    Threads::Auto,
];

#[test]
fn every_thread_setting_gives_identical_results() {
    let c = case();
    for (dim, normalize, weighted) in [
        (96, false, false),
        (96, true, true),
        (40, true, false),
        (1, false, true),
    ] {
        let want = run(&c, Threads::Current, dim, normalize, weighted);
        assert!(want.iter().all(|x| x.is_finite()));
        for &t in SETTINGS {
            let got = run(&c, t, dim, normalize, weighted);
            // Each bag is pooled by one thread in a fixed order, so results are bit-identical.
            assert!(
                got == want,
                "{t:?} differs (dim {dim}, normalize {normalize}, weighted {weighted})"
            );
        }
    }
}

#[test]
fn concurrent_callers_get_the_same_results() {
    let c = case();
    let want = run(&c, Threads::Current, 96, true, true);
    let settings = [
        Threads::Auto,
        Threads::Fixed(2),
        Threads::Fixed(3),
        Threads::Current,
    ];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (c, want) = (&c, &want);
                s.spawn(move || {
                    for round in 0..5 {
                        let t = settings[(i + round) % settings.len()];
                        assert!(
                            run(c, t, 96, true, true) == *want,
                            "thread {i} round {round} with {t:?}"
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a caller thread panicked");
        }
    });
}

#[test]
fn thread_setting_conversions() {
    assert_eq!(Threads::from_option(None), Threads::Auto);
    assert_eq!(Threads::from_option(Some(0)), Threads::Current);
    assert_eq!(Threads::from_option(Some(1)), Threads::Current);
    assert_eq!(Threads::from_option(Some(4)), Threads::Fixed(4));
    assert_eq!(Threads::Current.count(), 1);
    assert_eq!(Threads::Fixed(0).count(), 1);
    assert_eq!(Threads::Fixed(5).count(), 5);
    assert_eq!(Threads::Auto.count(), available_threads());
    assert!(available_threads() >= 1);
}

#[test]
fn pools_are_a_bounded_cache() {
    // Every size gets a pool, but only the most recently used few are kept: the others are freed.
    for n in 2..(CACHED_POOLS + 6) {
        let mut out = vec![0.0f32; 64];
        staticemb_core::internals::for_each_chunk(Threads::Fixed(n), &mut out, 4, 1, |_, c| {
            c.fill(1.0);
            Ok(())
        })
        .unwrap();
        assert!(out.iter().all(|&x| x == 1.0));
        assert!(cached_pools() <= CACHED_POOLS);
    }
    assert_eq!(cached_pools(), CACHED_POOLS);
}
