//! Reading a model's `model.safetensors`: which tensor holds what, and where.
//!
//! The header is parsed and validated by the `safetensors` crate itself, so a file is accepted exactly when
//! the reference accepts it: the data offsets tile the data section with no gap, overlap or trailing byte,
//! every tensor's byte length equals its shape times its dtype size (with checked multiplication), and the
//! header is valid UTF-8 JSON of bounded size and depth. On top of that this module checks what a static
//! model needs: which tensors are present, their rank, dtype and agreement. It returns byte ranges, never
//! copies; the caller maps the tensors (NumPy views over a memory map, in the binding).

use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// Where a tensor's data lies in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSlice {
    /// The tensor's name in the header.
    pub name: String,
    /// The safetensors dtype name (`"F32"`, `"F16"`, `"BF16"`, `"F64"`, `"I8"`, `"I32"`, `"I64"`, …).
    pub dtype: &'static str,
    /// The shape.
    pub shape: Vec<usize>,
    /// Absolute byte offset of the first element in the file.
    pub start: usize,
    /// Absolute byte offset one past the last element.
    pub end: usize,
}

/// The two layouts of a static model's weights file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Sentence Transformers' `StaticEmbedding`: `embedding.weight` (and staticemb's `embedding.scales`
    /// for an int8 table).
    SentenceTransformers,
    /// model2vec: `embeddings`, optional `weights` (per token id) and `mapping` (token id → row).
    Model2Vec,
}

impl Layout {
    /// `"sentence-transformers"` or `"model2vec"`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::SentenceTransformers => "sentence-transformers",
            Layout::Model2Vec => "model2vec",
        }
    }
}

/// The tensors of a static model, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelWeights {
    /// Which layout the file has.
    pub layout: Layout,
    /// The embedding table: 2-D, float32/float16/bfloat16/float64 or int8, at least one row and column.
    pub table: TensorSlice,
    /// One float32 scale per row of an int8 table (`embedding.scales`).
    pub scales: Option<TensorSlice>,
    /// model2vec's per-token weights: 1-D floating point.
    pub weights: Option<TensorSlice>,
    /// model2vec's token id → row mapping: 1-D integer.
    pub mapping: Option<TensorSlice>,
}

const TABLE_DTYPES: &[Dtype] = &[Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::F64, Dtype::I8];
const FLOAT_DTYPES: &[Dtype] = &[Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::F64];
const INT_DTYPES: &[Dtype] = &[Dtype::I32, Dtype::I64, Dtype::U32, Dtype::U64];

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::BOOL => "BOOL",
        Dtype::U8 => "U8",
        Dtype::I8 => "I8",
        Dtype::I16 => "I16",
        Dtype::U16 => "U16",
        Dtype::F16 => "F16",
        Dtype::BF16 => "BF16",
        Dtype::I32 => "I32",
        Dtype::U32 => "U32",
        Dtype::F32 => "F32",
        Dtype::F64 => "F64",
        Dtype::I64 => "I64",
        Dtype::U64 => "U64",
        _ => "an unsupported dtype",
    }
}

/// Parse and validate the weights file held in `file` (the whole file).
pub fn read_model_weights(file: &[u8]) -> Result<ModelWeights> {
    let (header_len, metadata) = SafeTensors::read_metadata(file)
        .map_err(|e| Error::Format(format!("not a valid safetensors file: {e}")))?;
    // `read_metadata` has checked `8 + header_len + data length == file.len()`.
    let data_start = 8 + header_len;
    let get = |name: &str| slice(&metadata, name, data_start);
    if get("embeddings").is_some() && get("embedding.weight").is_some() {
        return Err(Error::Format(
            "holds both 'embedding.weight' (Sentence Transformers) and 'embeddings' (model2vec): the two \
             libraries would read different tables; keep the one this model is"
                .into(),
        ));
    }
    if let Some(table) = get("embeddings") {
        let table = table_tensor(table)?;
        let weights = get("weights")
            .map(|w| vector(w, FLOAT_DTYPES, "a floating-point"))
            .transpose()?;
        let mapping = get("mapping")
            .map(|m| vector(m, INT_DTYPES, "an integer"))
            .transpose()?;
        return Ok(ModelWeights {
            layout: Layout::Model2Vec,
            table,
            scales: None,
            weights,
            mapping,
        });
    }
    let Some(table) = get("embedding.weight") else {
        return Err(Error::Format(
            "holds neither 'embedding.weight' (Sentence Transformers) nor 'embeddings' (model2vec)"
                .into(),
        ));
    };
    let table = table_tensor(table)?;
    let scales = match get("embedding.scales") {
        None => None,
        Some(s) => {
            if table.dtype != "I8" {
                return Err(Error::Format(format!(
                    "'embedding.scales' belongs to an int8 table, but 'embedding.weight' is {}",
                    table.dtype
                )));
            }
            let s = vector(s, &[Dtype::F32], "a float32")?;
            if s.shape[0] != table.shape[0] {
                return Err(Error::Format(format!(
                    "'embedding.scales' has {} values for a table of {} rows",
                    s.shape[0], table.shape[0]
                )));
            }
            Some(s)
        }
    };
    Ok(ModelWeights {
        layout: Layout::SentenceTransformers,
        table,
        scales,
        weights: None,
        mapping: None,
    })
}

/// A tensor of the validated header with its dtype (or `None` when absent).
fn slice(metadata: &Metadata, name: &str, data_start: usize) -> Option<(TensorSlice, Dtype)> {
    let info: &TensorInfo = metadata.info(name)?;
    let (s, e) = info.data_offsets;
    Some((
        TensorSlice {
            name: name.to_string(),
            dtype: dtype_name(info.dtype),
            shape: info.shape.clone(),
            start: data_start + s,
            end: data_start + e,
        },
        info.dtype,
    ))
}

fn table_tensor((t, dtype): (TensorSlice, Dtype)) -> Result<TensorSlice> {
    if !TABLE_DTYPES.contains(&dtype) {
        return Err(Error::Format(format!(
            "tensor '{}' has dtype {dtype:?}; an embedding table must be F32, F16, BF16, F64 or I8",
            t.name
        )));
    }
    if t.shape.len() != 2 || t.shape[0] == 0 || t.shape[1] == 0 {
        return Err(Error::Format(format!(
            "tensor '{}' has shape {:?}; an embedding table must be 2-D with at least one row and column",
            t.name, t.shape
        )));
    }
    Ok(t)
}

fn vector((t, dtype): (TensorSlice, Dtype), allowed: &[Dtype], kind: &str) -> Result<TensorSlice> {
    if !allowed.contains(&dtype) {
        return Err(Error::Format(format!(
            "tensor '{}' has dtype {dtype:?}; it must be {kind} vector",
            t.name
        )));
    }
    if t.shape.len() != 1 {
        return Err(Error::Format(format!(
            "tensor '{}' has shape {:?}; it must be 1-D",
            t.name, t.shape
        )));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file from a header (written as given) and `data_len` zero bytes.
    fn file(header: &str, data_len: usize) -> Vec<u8> {
        let mut f = (header.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(header.as_bytes());
        f.resize(f.len() + data_len, 0);
        f
    }

    #[test]
    fn a_dtype_outside_the_named_ones_is_named_by_its_own_name() {
        // dtype_name has no name for the 8-bit floats: the message said "has dtype an unsupported dtype".
        let h = r#"{"embedding.weight":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[0,4]}}"#;
        let e = read_model_weights(&file(h, 4)).unwrap_err().to_string();
        assert!(e.contains("has dtype F8_E4M3;"), "{e}");
        let h = r#"{"embeddings":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"weights":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[16,18]}}"#;
        let e = read_model_weights(&file(h, 18)).unwrap_err().to_string();
        assert!(e.contains("'weights' has dtype F8_E5M2;"), "{e}");
    }

    #[test]
    fn sentence_transformers_layout() {
        let h = r#"{"embedding.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}}"#;
        let w = read_model_weights(&file(h, 24)).unwrap();
        assert_eq!(w.layout, Layout::SentenceTransformers);
        assert_eq!(w.table.shape, vec![3, 2]);
        assert_eq!(w.table.start, 8 + h.len());
        assert_eq!(w.table.end, 8 + h.len() + 24);
    }

    #[test]
    fn model2vec_layout_with_mapping_and_weights() {
        let h = r#"{"embeddings":{"dtype":"I8","shape":[2,2],"data_offsets":[0,4]},
                    "mapping":{"dtype":"I64","shape":[3],"data_offsets":[4,28]},
                    "weights":{"dtype":"F32","shape":[3],"data_offsets":[28,40]}}"#;
        let w = read_model_weights(&file(h, 40)).unwrap();
        assert_eq!(w.layout, Layout::Model2Vec);
        assert_eq!(w.mapping.unwrap().dtype, "I64");
        assert_eq!(w.weights.unwrap().shape, vec![3]);
    }

    #[test]
    fn refuses_what_the_reference_refuses() {
        let t = r#""embedding.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}"#;
        // Trailing bytes, a short file, overlapping and gapped tensors, overflowing shapes.
        assert!(read_model_weights(&file(&format!("{{{t}}}"), 25)).is_err());
        assert!(read_model_weights(&file(&format!("{{{t}}}"), 23)).is_err());
        let overlap = r#"{"embedding.weight":{"dtype":"I8","shape":[2,2],"data_offsets":[0,4]},
                         "embedding.scales":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        assert!(read_model_weights(&file(overlap, 8)).is_err());
        let gap = r#"{"embedding.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]}}"#;
        assert!(read_model_weights(&file(gap, 8)).is_err());
        let huge = r#"{"embedding.weight":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,8]}}"#;
        assert!(read_model_weights(&file(huge, 8)).is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(read_model_weights(&file(&deep, 0)).is_err());
        assert!(read_model_weights(&[1, 2, 3]).is_err());
        assert!(read_model_weights(&u64::MAX.to_le_bytes()).is_err());
    }

    #[test]
    fn refuses_wrong_roles() {
        let float_mapping = r#"{"embeddings":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},
                               "mapping":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let e = read_model_weights(&file(float_mapping, 8)).unwrap_err();
        assert!(e.to_string().contains("mapping"), "{e}");
        let bool_table =
            r#"{"embedding.weight":{"dtype":"BOOL","shape":[2,2],"data_offsets":[0,4]}}"#;
        assert!(read_model_weights(&file(bool_table, 4)).is_err());
        let both = r#"{"embedding.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},
            "embeddings":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]}}"#;
        let e = read_model_weights(&file(both, 8)).unwrap_err();
        assert!(e.to_string().contains("holds both"), "{e}");
        let flat = r#"{"embedding.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        assert!(read_model_weights(&file(flat, 16)).is_err());
        let empty = r#"{"embedding.weight":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}}"#;
        assert!(read_model_weights(&file(empty, 0)).is_err());
        let scales_f32 = r#"{"embedding.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},
                            "embedding.scales":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        assert!(read_model_weights(&file(scales_f32, 8)).is_err());
        let scales_short = r#"{"embedding.weight":{"dtype":"I8","shape":[2,2],"data_offsets":[0,4]},
                              "embedding.scales":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        assert!(read_model_weights(&file(scales_short, 8)).is_err());
        assert!(read_model_weights(&file("{}", 0)).is_err());
    }
}
