//! A borrowed, row-major embedding table and the integer types accepted as token ids.

use crate::error::{Error, Result};

/// An integer type usable as a token id or row index.
pub trait TokenId: Copy + Send + Sync + 'static {
    /// The value as a row index, or `None` when negative or not representable.
    fn checked_index(self) -> Option<usize>;
    /// The value as a row index, for ids already validated with [`TokenId::checked_index`].
    fn index(self) -> usize;
    /// The value widened for error messages.
    fn as_i128(self) -> i128;
}

macro_rules! token_id {
    ($($t:ty),*) => {$(
        impl TokenId for $t {
            #[inline(always)]
            fn checked_index(self) -> Option<usize> {
                usize::try_from(self).ok()
            }
            #[inline(always)]
            fn index(self) -> usize {
                self as usize
            }
            #[inline(always)]
            fn as_i128(self) -> i128 {
                self as i128
            }
        }
    )*};
}
token_id!(u32, i32, i64, u64);

/// How the table's values are stored. Every kind is accumulated in float32.
#[derive(Clone, Copy, Debug)]
pub enum Storage<'a> {
    /// float32 values.
    F32(&'a [f32]),
    /// IEEE float16 values, as their bit patterns.
    F16(&'a [u16]),
    /// int8 values with one float32 scale per row: `value = scale[row] * q`.
    I8 {
        /// The quantized values.
        values: &'a [i8],
        /// One scale per row.
        scales: &'a [f32],
    },
}

/// A borrowed table of `rows` x `width`, row-major and contiguous.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    storage: Storage<'a>,
    rows: usize,
    width: usize,
}

impl<'a> Table<'a> {
    /// Wrap a float32 buffer, checking that it holds exactly `rows * width` values.
    pub fn new(data: &'a [f32], rows: usize, width: usize) -> Result<Self> {
        Self::with_storage(Storage::F32(data), rows, width)
    }

    /// Wrap a float16 buffer (bit patterns).
    pub fn f16(data: &'a [u16], rows: usize, width: usize) -> Result<Self> {
        Self::with_storage(Storage::F16(data), rows, width)
    }

    /// Wrap an int8 buffer with one scale per row.
    pub fn i8(values: &'a [i8], scales: &'a [f32], rows: usize, width: usize) -> Result<Self> {
        if scales.len() != rows {
            return Err(Error::Vocab(format!(
                "an int8 table of {rows} rows needs {rows} row scales, got {}",
                scales.len()
            )));
        }
        Self::with_storage(Storage::I8 { values, scales }, rows, width)
    }

    fn with_storage(storage: Storage<'a>, rows: usize, width: usize) -> Result<Self> {
        let len = match storage {
            Storage::F32(d) => d.len(),
            Storage::F16(d) => d.len(),
            Storage::I8 { values, .. } => values.len(),
        };
        if width == 0 || rows.checked_mul(width) != Some(len) {
            return Err(Error::TableShape { len, rows, width });
        }
        Ok(Table {
            storage,
            rows,
            width,
        })
    }

    /// The storage kind and buffers.
    pub fn storage(&self) -> Storage<'a> {
        self.storage
    }

    /// Number of rows (the vocabulary size the table can serve).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (the full embedding width).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The float32 buffer; empty for a quantized table.
    pub fn data(&self) -> &'a [f32] {
        match self.storage {
            Storage::F32(d) => d,
            _ => &[],
        }
    }

    /// Check that `dim` is a valid output width (1..=width).
    pub fn check_dim(&self, dim: usize) -> Result<()> {
        if dim == 0 || dim > self.width {
            return Err(Error::Dim {
                dim,
                width: self.width,
            });
        }
        Ok(())
    }

    /// Check that every id is a row of this table.
    pub fn check_ids<I: TokenId>(&self, ids: &[I]) -> Result<()> {
        check_ids_below(ids, self.rows)
    }
}

/// Check that every id is below `limit` (the table height, or a token map's length).
pub(crate) fn check_ids_below<I: TokenId>(ids: &[I], limit: usize) -> Result<()> {
    // A single pass with no early exit vectorises; report the first bad id only when there is one.
    let all_ok = ids
        .iter()
        .all(|&id| matches!(id.checked_index(), Some(i) if i < limit));
    if all_ok {
        return Ok(());
    }
    let (position, id) = ids
        .iter()
        .enumerate()
        .find(|(_, id)| !matches!(id.checked_index(), Some(i) if i < limit))
        .map(|(p, id)| (p, *id))
        .expect("a bad id exists");
    Err(Error::IdOutOfRange {
        id: id.as_i128(),
        position,
        rows: limit,
    })
}
