//! staticemb-core: the pure-Rust engine of staticemb.
//!
//! A static embedding model is a tokenizer plus one table of token vectors; a text's embedding is the mean of
//! its tokens' rows. This crate tokenizes (through the `tokenizers` crate) and pools in one multithreaded pass,
//! with runtime-dispatched SIMD kernels ([`Kernel`]), Matryoshka truncation before the gather
//! ([`PoolOptions::dim`]) and optional L2 normalization. It has no Python dependency; the `staticemb-py` crate
//! binds it.

pub mod encode;
pub mod error;
pub mod kernels;
pub mod pool;
pub mod table;
pub mod threads;
pub mod wordpiece;

pub use encode::{TextEncoder, TokenMap};
pub use error::{Error, Result};
pub use kernels::Kernel;
pub use pool::{check_offsets, pool_bags, PoolOptions};
pub use table::{Storage, Table, TokenId};
pub use threads::Threads;
pub use wordpiece::BertWordPiece;
