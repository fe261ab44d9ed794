//! `segment_max` as `SearchIndex` calls it: the similarities of a block's distinct tokens (rows) to a batch of
//! query tokens (columns), and each document's maximum over its own tokens, with and without per-entry scales
//! (`term_frequency`).
//!
//! `cargo bench -p staticemb-core --bench segment`; throughput is in entries (one document token's row read).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use staticemb_core::{segment_max, Threads};

const TOKENS: usize = 20_000; // the block's distinct tokens
const QUERY_TOKENS: usize = 256;
const DOCUMENTS: usize = 1_000;
const PER_DOCUMENT: usize = 100; // distinct tokens per document

/// SplitMix64, so the bench needs no extra dependency and is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

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
