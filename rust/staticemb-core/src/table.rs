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

/// A borrowed float32 table of `rows` x `width`, row-major and contiguous.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    data: &'a [f32],
    rows: usize,
    width: usize,
}

impl<'a> Table<'a> {
    /// Wrap a buffer, checking that it holds exactly `rows * width` values.
    pub fn new(data: &'a [f32], rows: usize, width: usize) -> Result<Self> {
        if width == 0 || rows.checked_mul(width) != Some(data.len()) {
            return Err(Error::TableShape {
                len: data.len(),
                rows,
                width,
            });
        }
        Ok(Table { data, rows, width })
    }

    /// Number of rows (the vocabulary size the table can serve).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (the full embedding width).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The raw buffer.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// One row.
    pub fn row(&self, r: usize) -> &'a [f32] {
        &self.data[r * self.width..(r + 1) * self.width]
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
        // A single pass with no early exit vectorises; report the first bad id only when there is one.
        let rows = self.rows;
        let all_ok = ids
            .iter()
            .all(|&id| matches!(id.checked_index(), Some(i) if i < rows));
        if all_ok {
            return Ok(());
        }
        let (position, id) = ids
            .iter()
            .enumerate()
            .find(|(_, id)| !matches!(id.checked_index(), Some(i) if i < rows))
            .map(|(p, id)| (p, *id))
            .expect("a bad id exists");
        Err(Error::IdOutOfRange {
            id: id.as_i128(),
            position,
            rows,
        })
    }
}
