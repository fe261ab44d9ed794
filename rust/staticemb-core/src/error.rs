//! Errors of the core crate. The Python binding maps each variant to one Python exception type.

use thiserror::Error;

/// Everything that can go wrong in the core. Messages are complete sentences meant for users.
#[derive(Debug, Error)]
pub enum Error {
    /// The table buffer does not hold `rows * width` values.
    #[error("embedding table holds {len} values, which is not {rows} rows x {width} columns")]
    TableShape {
        len: usize,
        rows: usize,
        width: usize,
    },

    /// Requested output dimension is outside `1..=width`.
    #[error("dim must be between 1 and the table width {width}, got {dim}")]
    Dim { dim: usize, width: usize },

    /// A token id is not one the model has a row for (`rows`: one more than the largest id it takes).
    #[error(
        "token id {id} at position {position} is out of range: this model takes ids below {rows}"
    )]
    IdOutOfRange {
        id: i128,
        position: usize,
        rows: usize,
    },

    /// Bag offsets are malformed.
    #[error("invalid offsets: {0}")]
    Offsets(String),

    /// The output buffer has the wrong size.
    #[error("output buffer holds {len} values, expected {expected}")]
    Output { len: usize, expected: usize },

    /// A per-entry array does not have one value per entry.
    #[error("{what} holds {len} values, expected {expected} (one per row index)")]
    Lengths {
        what: &'static str,
        len: usize,
        expected: usize,
    },

    /// Per-token weights or the token-to-row mapping do not fit the tokenizer or table.
    #[error("{0}")]
    Vocab(String),

    /// The tokenizer definition could not be loaded or failed on a text.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),

    /// A model file is malformed (its header, a tensor's dtype, rank or shape).
    #[error("{0}")]
    Format(String),

    /// A thread pool could not be created.
    #[error("could not start a thread pool of {threads} threads: {reason}")]
    ThreadPool { threads: usize, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;
