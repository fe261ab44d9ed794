//! Pooling of pre-tokenized input: flat ids plus bag offsets, the `torch.nn.EmbeddingBag` convention.

use std::mem::MaybeUninit;

use crate::error::{Error, Result};
use crate::kernels::{l2_normalize, Kernel};
use crate::table::{Table, TokenId};
use crate::threads::{for_each_chunk, Threads};

/// What to do with each pooled vector.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    /// Output width: the first `dim` columns of the table are gathered (Matryoshka truncation).
    pub dim: usize,
    /// Divide each vector by its L2 norm (after truncation).
    pub normalize: bool,
    /// Threads to use.
    pub threads: Threads,
    /// Kernel to use (normally [`Kernel::detect`]).
    pub kernel: Kernel,
}

impl PoolOptions {
    /// Defaults for a given output width: no normalization, all cores, detected kernel.
    pub fn new(dim: usize) -> Self {
        PoolOptions {
            dim,
            normalize: false,
            threads: Threads::Auto,
            kernel: Kernel::detect(),
        }
    }
}

/// Check bag start offsets: `offsets[0] == 0` (when there is a bag), non-decreasing, none beyond `n_ids`.
pub fn check_offsets<O: TokenId>(offsets: &[O], n_ids: usize) -> Result<()> {
    let mut prev = 0usize;
    for (i, &o) in offsets.iter().enumerate() {
        let v = o.as_i128();
        if v < 0 {
            return Err(Error::Offsets(format!("offsets[{i}] = {v} is negative")));
        }
        let v = usize::try_from(v).map_err(|_| {
            Error::Offsets(format!(
                "offsets[{i}] = {v} is past the end of the {n_ids} ids"
            ))
        })?;
        if i == 0 && v != 0 {
            return Err(Error::Offsets(format!("offsets[0] must be 0, got {v}")));
        }
        if v < prev {
            return Err(Error::Offsets(format!(
                "offsets must be non-decreasing, but offsets[{i}] = {v} < offsets[{}] = {prev}",
                i - 1
            )));
        }
        if v > n_ids {
            return Err(Error::Offsets(format!(
                "offsets[{i}] = {v} is past the end of the {n_ids} ids"
            )));
        }
        prev = v;
    }
    Ok(())
}

/// Mean of the rows named by each bag, written row by row into `out` (`offsets.len()` x `opts.dim`).
///
/// Bag `b` is `ids[offsets[b]..offsets[b + 1]]` (the last runs to the end of `ids`). An empty bag gives a
/// zero vector. With `weights` (one per id) each row is scaled by its weight before the mean; the mean still
/// divides by the number of ids, as model2vec does.
pub fn pool_bags<I: TokenId, O: TokenId>(
    table: &Table<'_>,
    ids: &[I],
    offsets: &[O],
    weights: Option<&[f32]>,
    opts: &PoolOptions,
    out: &mut [f32],
) -> Result<()> {
    table.check_dim(opts.dim)?;
    table.check_ids(ids)?;
    check_offsets(offsets, ids.len())?;
    if let Some(w) = weights {
        if w.len() != ids.len() {
            return Err(Error::Vocab(format!(
                "got {} weights for {} ids",
                w.len(),
                ids.len()
            )));
        }
    }
    for_each_bag(
        opts,
        offsets,
        ids.len(),
        out,
        |rows| rows,
        || (),
        |_, (s, e), row| {
            pool_one(table, &ids[s..e], weights.map(|w| &w[s..e]), opts, row);
        },
    )
}

/// Run `job(state, (start, end), row)` for every bag of validated `offsets` over `n_ids` ids, each with its
/// own output row of `out`, which must hold `offsets.len()` x `opts.dim` values ([`Error::Output`]
/// otherwise), in chunks of a few thousand ids on `opts.threads`; `state` (scratch buffers) is made by `init`
/// once per chunk, and `rows` turns a chunk of `out` into the `f32` rows the jobs write.
pub(crate) fn for_each_bag<T, O, S, I, F>(
    opts: &PoolOptions,
    offsets: &[O],
    n_ids: usize,
    out: &mut [T],
    rows: fn(&mut [T]) -> &mut [f32],
    init: I,
    job: F,
) -> Result<()>
where
    T: Send,
    O: TokenId,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, (usize, usize), &mut [f32]) + Sync + Send,
{
    let n = offsets.len();
    let dim = opts.dim;
    let expected = n * dim;
    if out.len() != expected {
        return Err(Error::Output {
            len: out.len(),
            expected,
        });
    }
    let bounds = |b: usize| -> (usize, usize) {
        let start = offsets[b].index();
        let end = if b + 1 < n {
            offsets[b + 1].index()
        } else {
            n_ids
        };
        (start, end)
    };
    // Aim for chunks of a few thousand ids so that scheduling cost stays negligible.
    let per_chunk = (4096 * n / n_ids.max(1)).clamp(1, 1024);
    for_each_chunk(opts.threads, out, dim, per_chunk, |first, chunk| {
        let mut state = init();
        for (j, row) in rows(chunk).chunks_exact_mut(dim).enumerate() {
            job(&mut state, bounds(first + j), row);
        }
        Ok(())
    })
}

/// A chunk of uninitialized output as `f32` rows: zeroed first (by the worker that writes it, while the chunk
/// is in its cache), so that every value is initialized whatever the writer does afterwards.
pub(crate) fn zeroed_rows(chunk: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    chunk.fill(MaybeUninit::new(0.0));
    // SAFETY: every element of `chunk` was initialized by the fill above, and `MaybeUninit<f32>` has the
    // layout of `f32`.
    unsafe { &mut *(chunk as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Bags longer than this are summed in blocks whose partial sums are added in f64, so that the error of
/// a mean over millions of tokens stays at the level of a short text's instead of growing with the length.
pub const BLOCK_ROWS: usize = 1024;

/// Pool one bag of validated ids into `row` (`row.len()` = output width).
#[inline]
pub fn pool_one<I: TokenId>(
    table: &Table<'_>,
    ids: &[I],
    weights: Option<&[f32]>,
    opts: &PoolOptions,
    row: &mut [f32],
) {
    if ids.is_empty() {
        row.fill(0.0);
        return;
    }
    if ids.len() <= BLOCK_ROWS {
        // The mean's 1/n is applied as the kernel stores the sum: no second pass over the row.
        opts.kernel
            .sum_rows_table_scaled(table, ids, weights, 1.0 / ids.len() as f32, row);
    } else {
        let mut total = vec![0.0f64; row.len()];
        for (b, block) in ids.chunks(BLOCK_ROWS).enumerate() {
            let w = weights.map(|w| &w[b * BLOCK_ROWS..b * BLOCK_ROWS + block.len()]);
            opts.kernel.sum_rows_table(table, block, w, row);
            for (t, x) in total.iter_mut().zip(row.iter()) {
                *t += f64::from(*x);
            }
        }
        let inv = 1.0 / ids.len() as f64;
        for (o, t) in row.iter_mut().zip(&total) {
            *o = (t * inv) as f32;
        }
    }
    if opts.normalize {
        l2_normalize(row);
    }
}
