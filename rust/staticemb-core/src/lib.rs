//! staticemb-core: the pure-Rust engine of staticemb.
//!
//! A static embedding model is a tokenizer plus one table of token vectors; a text's embedding is the mean of
//! its tokens' rows. This crate tokenizes (natively for WordPiece and SentencePiece Unigram, through the `tokenizers` crate otherwise) and pools in one multithreaded pass,
//! with runtime-dispatched SIMD kernels ([`Kernel`]), Matryoshka truncation before the gather
//! ([`PoolOptions::dim`]) and optional L2 normalization. It has no Python dependency; the `staticemb-py` crate
//! binds it.

//! The public API is the items re-exported here. The modules are private: their helpers (the scalar reference
//! kernels, the chunked thread drivers) reach tests, benches and fuzz targets through [`internals`] only.

mod added;
mod bytebpe;
mod encode;
mod error;
mod kernels;
mod lazy;
mod pool;
mod quiet;
mod segment;
mod table;
mod threads;
mod unigram;
mod weights;
mod wordpiece;

pub use bytebpe::{ByteBpeScratch, NativeByteBpe};
pub use encode::{TextEncoder, TokenMap, TokenScratch, Truncation};
pub use error::{Error, Result};
pub use kernels::Kernel;
pub use lazy::init_once;
pub use pool::{check_offsets, pool_bags, PoolOptions, BLOCK_ROWS};
pub use segment::segment_max;
pub use table::{Storage, Table, TokenId};
pub use threads::{available_threads, cached_pools, Threads, CACHED_POOLS};
pub use unigram::{NativeUnigram, UnigramScratch};
pub use weights::{read_model_weights, Layout, ModelWeights, TensorSlice};
pub use wordpiece::{BertWordPiece, WordPieceScratch};

/// Internals for this crate's tests, benches and fuzz targets: not a stable API.
#[doc(hidden)]
pub mod internals {
    pub use crate::kernels::{
        f16_to_f32, l2_normalize, scale, sum_rows_scalar, sum_rows_scalar_of,
    };
    pub use crate::pool::pool_one;
    pub use crate::threads::{for_each_chunk, map_ranges};
}
