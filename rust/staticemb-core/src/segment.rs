//! Segment maxima: for each segment of a list of row indices, the element-wise maximum of those rows of a
//! matrix. A late-interaction search (`staticemb.SearchIndex`) uses it to take, for every query token, its
//! best match over each document's tokens: the matrix holds the similarities of the collection's tokens
//! (rows) to the query tokens (columns), a segment lists one document's tokens.

use crate::error::{Error, Result};
use crate::pool::check_offsets;
use crate::threads::{for_each_chunk, Threads};

/// Segments per parallel work item.
const SEGMENTS_PER_CHUNK: usize = 64;

/// `out[s, :]` = the element-wise maximum of rows `rows[offsets[s]..offsets[s + 1]]` of `values` (row-major,
/// `width` columns; the last segment ends at `rows.len()`), each times its entry of `scales` where given (one
/// factor per entry of `rows`), or `fill` in every column for an empty segment.
///
/// `offsets` are segment starts, as the pooling's bag offsets: `offsets[0] == 0`, non-decreasing, at most
/// `rows.len()`. Every row index is checked before any work starts. NaN is never chosen over a number
/// (`f32::max`), not even over a NaN `fill`.
#[allow(clippy::too_many_arguments)] // one buffer each, as the pooling functions take them
pub fn segment_max(
    values: &[f32],
    width: usize,
    rows: &[i64],
    scales: Option<&[f32]>,
    offsets: &[i64],
    fill: f32,
    out: &mut [f32],
    threads: Threads,
) -> Result<()> {
    if width == 0 || values.len() % width != 0 {
        return Err(Error::TableShape {
            len: values.len(),
            rows: values.len().checked_div(width).unwrap_or(0),
            width,
        });
    }
    let n_rows = values.len() / width;
    let expected = offsets.len() * width;
    if out.len() != expected {
        return Err(Error::Output {
            len: out.len(),
            expected,
        });
    }
    check_offsets(offsets, rows.len())?;
    if let Some(scales) = scales {
        if scales.len() != rows.len() {
            return Err(Error::Lengths {
                what: "scales",
                len: scales.len(),
                expected: rows.len(),
            });
        }
    }
    if let Some((position, &id)) = rows
        .iter()
        .enumerate()
        .find(|(_, &r)| r < 0 || r as u64 >= n_rows as u64)
    {
        return Err(Error::IdOutOfRange {
            id: id as i128,
            position,
            rows: n_rows,
        });
    }
    for_each_chunk(threads, out, width, SEGMENTS_PER_CHUNK, |first, chunk| {
        for (k, target) in chunk.chunks_exact_mut(width).enumerate() {
            let s = first + k;
            let start = offsets[s] as usize;
            let end = offsets.get(s + 1).map_or(rows.len(), |&o| o as usize);
            target.fill(fill);
            for (i, &r) in rows.iter().enumerate().take(end).skip(start) {
                let row = &values[r as usize * width..(r as usize + 1) * width];
                match scales {
                    // `f32::max` ignores NaN (keeps the number) and compiles to vector maxima.
                    None => {
                        for (t, &v) in target.iter_mut().zip(row) {
                            *t = t.max(v);
                        }
                    }
                    Some(scales) => {
                        let f = scales[i];
                        for (t, &v) in target.iter_mut().zip(row) {
                            *t = t.max(v * f);
                        }
                    }
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(values: &[f32], width: usize, rows: &[i64], offsets: &[i64], fill: f32) -> Vec<f32> {
        let mut out = Vec::new();
        for s in 0..offsets.len() {
            let end = offsets.get(s + 1).map_or(rows.len(), |&o| o as usize);
            let mut row = vec![fill; width];
            for &r in &rows[offsets[s] as usize..end] {
                for c in 0..width {
                    row[c] = row[c].max(values[r as usize * width + c]);
                }
            }
            out.extend(row);
        }
        out
    }

    #[test]
    fn matches_a_naive_maximum_on_any_threads() {
        let width = 5;
        let values: Vec<f32> = (0..40).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
        let rows = [0, 3, 7, 7, 1, 2, 5, 6, 4, 0, 1];
        let offsets = [0, 3, 3, 4, 8, 11, 11];
        let expected = naive(&values, width, &rows, &offsets, f32::NEG_INFINITY);
        for threads in [Threads::Current, Threads::Fixed(2), Threads::Fixed(3)] {
            let mut out = vec![0.0; offsets.len() * width];
            segment_max(
                &values,
                width,
                &rows,
                None,
                &offsets,
                f32::NEG_INFINITY,
                &mut out,
                threads,
            )
            .unwrap();
            assert_eq!(out, expected);
        }
        // The empty segments (1 and 5, 6) hold `fill`.
        assert!(expected[width..2 * width]
            .iter()
            .all(|v| *v == f32::NEG_INFINITY));
    }

    #[test]
    fn nan_is_never_chosen_over_a_number() {
        let values = [f32::NAN, 1.0, -2.0, f32::NAN];
        let mut out = vec![0.0f32; 2 * 2];
        segment_max(
            &values,
            2,
            &[0, 1, 1],
            None,
            &[0, 2],
            f32::NAN,
            &mut out,
            Threads::Current,
        )
        .unwrap();
        // Segment 0: rows 0 (NaN, 1) and 1 (-2, NaN); segment 1: row 1. A NaN fill gives way too.
        assert_eq!(out[..3], [-2.0, 1.0, -2.0]);
        assert!(out[3].is_nan(), "a column with no number keeps the NaN");
    }

    #[test]
    fn scales_multiply_each_entry_before_the_maximum() {
        let width = 3;
        let values: Vec<f32> = (0..12).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
        let rows = [0, 2, 3, 1, 1];
        let scales = [0.5, 2.0, 1.5, 3.0, 0.25];
        let offsets = [0, 2, 2];
        let mut out = vec![0.0; offsets.len() * width];
        segment_max(
            &values,
            width,
            &rows,
            Some(&scales),
            &offsets,
            -1e9,
            &mut out,
            Threads::Fixed(2),
        )
        .unwrap();
        let mut expected = vec![-1e9f32; offsets.len() * width];
        for (s, range) in [(0, 0..2), (2, 2..5)] {
            for i in range {
                for c in 0..width {
                    let v = values[rows[i] as usize * width + c] * scales[i];
                    expected[s * width + c] = expected[s * width + c].max(v);
                }
            }
        }
        assert_eq!(out, expected);
        let short = segment_max(
            &values,
            width,
            &rows,
            Some(&scales[..4]),
            &offsets,
            0.0,
            &mut out,
            Threads::Current,
        );
        assert!(matches!(
            short,
            Err(Error::Lengths {
                what: "scales",
                len: 4,
                expected: 5
            })
        ));
    }

    #[test]
    fn refuses_bad_rows_offsets_and_shapes() {
        let values = vec![1.0f32; 12];
        let mut out = vec![0.0f32; 2 * 4];
        let bad_row = segment_max(
            &values,
            4,
            &[0, 3],
            None,
            &[0, 1],
            0.0,
            &mut out,
            Threads::Current,
        );
        assert!(matches!(
            bad_row,
            Err(Error::IdOutOfRange {
                id: 3,
                position: 1,
                rows: 3
            })
        ));
        let negative = segment_max(
            &values,
            4,
            &[-1, 0],
            None,
            &[0, 1],
            0.0,
            &mut out,
            Threads::Current,
        );
        assert!(matches!(negative, Err(Error::IdOutOfRange { id: -1, .. })));
        let offsets = segment_max(
            &values,
            4,
            &[0, 1],
            None,
            &[0, 3],
            0.0,
            &mut out,
            Threads::Current,
        );
        assert!(matches!(offsets, Err(Error::Offsets(_))));
        let decreasing = segment_max(
            &values,
            4,
            &[0, 1],
            None,
            &[1, 0],
            0.0,
            &mut out,
            Threads::Current,
        );
        assert!(matches!(decreasing, Err(Error::Offsets(_))));
        let shape = segment_max(
            &values,
            5,
            &[0],
            None,
            &[0, 1],
            0.0,
            &mut out,
            Threads::Current,
        );
        assert!(matches!(shape, Err(Error::TableShape { .. })));
        let mut small = vec![0.0f32; 3];
        let output = segment_max(
            &values,
            4,
            &[0],
            None,
            &[0, 1],
            0.0,
            &mut small,
            Threads::Current,
        );
        assert!(matches!(
            output,
            Err(Error::Output {
                len: 3,
                expected: 8
            })
        ));
    }
}
