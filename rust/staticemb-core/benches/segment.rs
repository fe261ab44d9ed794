//! `segment_max` as `SearchIndex` calls it: the similarities of a block's distinct tokens (rows) to a batch of
//! query tokens (columns), and each document's maximum over its own tokens, with and without per-entry scales
//! (`term_frequency`).
//!
//! `cargo bench -p staticemb-core --bench segment`; throughput is in entries (one document token's row read).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use staticemb_core::{segment_max, Threads};

mod common;
use common::Rng;

const TOKENS: usize = 20_000; // the block's distinct tokens
const QUERY_TOKENS: usize = 256;
const DOCUMENTS: usize = 1_000;
const PER_DOCUMENT: usize = 100; // distinct tokens per document

fn benches(c: &mut Criterion) {
    let mut rng = Rng(11);
    let values: Vec<f32> = (0..TOKENS * QUERY_TOKENS).map(|_| rng.unit()).collect();
    let rows: Vec<i64> = (0..DOCUMENTS * PER_DOCUMENT)
        .map(|_| (rng.next() % TOKENS as u64) as i64)
        .collect();
    let scales: Vec<f32> = rows.iter().map(|_| 1.0 + rng.unit().abs()).collect();
    let offsets: Vec<i64> = (0..DOCUMENTS).map(|d| (d * PER_DOCUMENT) as i64).collect();
    let mut out = vec![0.0f32; DOCUMENTS * QUERY_TOKENS];
    let mut group = c.benchmark_group("segment_max");
    group.throughput(Throughput::Elements(rows.len() as u64));
    for (name, threads) in [("1 thread", Threads::Fixed(1)), ("all", Threads::Current)] {
        for (kind, s) in [("plain", None), ("scaled", Some(scales.as_slice()))] {
            group.bench_function(BenchmarkId::new(kind, name), |b| {
                b.iter(|| {
                    segment_max(
                        black_box(&values),
                        QUERY_TOKENS,
                        black_box(&rows),
                        s,
                        black_box(&offsets),
                        f32::NEG_INFINITY,
                        &mut out,
                        threads,
                    )
                    .unwrap();
                    black_box(&mut out);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(segment_benches, benches);
criterion_main!(segment_benches);
