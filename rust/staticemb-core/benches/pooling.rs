//! Gather-and-sum kernels and `pool_bags` on a BERT-sized table (30,522 x 1024 float32, 125 MB).
//!
//! `cargo bench -p staticemb-core --bench pooling`; throughput is in tokens (one token = one row gathered).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use staticemb_core::{pool_bags, Kernel, PoolOptions, Table, Threads};

mod common;
use common::Rng;

const ROWS: usize = 30_522;
const WIDTH: usize = 1024;

fn table(rng: &mut Rng) -> Vec<f32> {
    (0..ROWS * WIDTH).map(|_| rng.unit()).collect()
}

/// `Kernel::sum_rows` on bags of 16 random ids; each iteration sums 64 different bags so that rows come from
/// all over the table rather than from cache.
fn kernels(c: &mut Criterion, data: &[f32]) {
    const BAG: usize = 16;
    const BAGS_PER_ITER: usize = 64;
    const N_BAGS: usize = 4096;
    let mut rng = Rng(7);
    let ids: Vec<u32> = (0..BAG * N_BAGS).map(|_| rng.below(ROWS) as u32).collect();
    let mut group = c.benchmark_group("sum_rows");
    group.throughput(Throughput::Elements((BAG * BAGS_PER_ITER) as u64));
    for dim in [1024usize, 256] {
        for kernel in Kernel::available() {
            let mut out = vec![0.0f32; dim];
            let mut next = 0usize;
            group.bench_function(BenchmarkId::new(kernel.name(), dim), |b| {
                b.iter(|| {
                    for _ in 0..BAGS_PER_ITER {
                        let bag = &ids[next * BAG..(next + 1) * BAG];
                        next = (next + 1) % N_BAGS;
                        kernel.sum_rows(black_box(data), WIDTH, black_box(bag), None, &mut out);
                        black_box(&mut out);
                    }
                })
            });
        }
    }
    group.finish();

    // The same bag every time: its 16 rows stay in L1/L2, so this measures the arithmetic, not memory.
    let mut group = c.benchmark_group("sum_rows_cached");
    group.throughput(Throughput::Elements(BAG as u64));
    let bag = &ids[..BAG];
    for dim in [1024usize, 256] {
        for kernel in Kernel::available() {
            let mut out = vec![0.0f32; dim];
            group.bench_function(BenchmarkId::new(kernel.name(), dim), |b| {
                b.iter(|| {
                    kernel.sum_rows(black_box(data), WIDTH, black_box(bag), None, &mut out);
                    black_box(&mut out);
                })
            });
        }
    }
    group.finish();
}

/// `pool_bags` on 10,000 bags of 10..=30 ids (about 20 on average).
fn pooling(c: &mut Criterion, data: &[f32]) {
    let mut rng = Rng(11);
    let mut ids: Vec<u32> = Vec::new();
    let mut offsets: Vec<u32> = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        offsets.push(ids.len() as u32);
        let len = 10 + rng.below(21);
        ids.extend((0..len).map(|_| rng.below(ROWS) as u32));
    }
    let table = Table::new(data, ROWS, WIDTH).unwrap();
    let mut group = c.benchmark_group("pool_bags");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ids.len() as u64));
    for dim in [1024usize, 256] {
        for (name, threads) in [("current", Threads::Current), ("fixed2", Threads::Fixed(2))] {
            let opts = PoolOptions {
                dim,
                normalize: true,
                threads,
                kernel: Kernel::detect(),
            };
            let mut out = vec![0.0f32; offsets.len() * dim];
            group.bench_function(
                BenchmarkId::new(format!("{name}/{}", opts.kernel.name()), dim),
                |b| {
                    b.iter(|| {
                        pool_bags(
                            &table,
                            black_box(&ids),
                            black_box(&offsets),
                            None,
                            &opts,
                            &mut out,
                        )
                        .unwrap();
                        black_box(&mut out);
                    })
                },
            );
        }
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let data = table(&mut Rng(3));
    kernels(c, &data);
    pooling(c, &data);
}

criterion_group!(pooling_benches, benches);
criterion_main!(pooling_benches);
