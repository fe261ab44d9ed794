//! `staticemb._core`: the thin PyO3 binding of `staticemb-core`.
//!
//! This crate only checks arguments, borrows NumPy buffers without copying, releases the GIL around the work
//! and maps core errors to Python exceptions. The public API, its policy and its docs live in
//! `python/staticemb/`.

use std::sync::Arc;

use numpy::{
    PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use staticemb_core::{Error, Kernel, PoolOptions, Table, TextEncoder, Threads, TokenId};

// Tokenization allocates small strings and vectors for every word; mimalloc's thread-local free lists make
// that markedly cheaper than glibc malloc under several threads (see benches/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Raise one of the exception classes defined in `staticemb.errors`.
fn raise(py: Python<'_>, class: &str, msg: String) -> PyErr {
    match py.import("staticemb.errors").and_then(|m| m.getattr(class)) {
        Ok(cls) => PyErr::from_value(
            cls.call1((msg,))
                .unwrap_or_else(|e| e.into_value(py).into_any().into_bound(py)),
        ),
        Err(_) => PyValueError::new_err(msg),
    }
}

/// The one mapping from core errors to Python exceptions.
fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let msg = err.to_string();
    match err {
        Error::IdOutOfRange { .. } => raise(py, "TokenIdError", msg),
        Error::Tokenizer(_) => raise(py, "TokenizerError", msg),
        Error::ThreadPool { .. } => PyRuntimeError::new_err(msg),
        Error::TableShape { .. }
        | Error::Dim { .. }
        | Error::Offsets(_)
        | Error::Output { .. }
        | Error::Vocab(_) => raise(py, "InvalidInputError", msg),
    }
}

fn threads(num_threads: Option<i64>) -> PyResult<Threads> {
    match num_threads {
        None => Ok(Threads::Auto),
        Some(n) if n >= 1 => Ok(Threads::from_option(Some(n as usize))),
        Some(n) => Err(PyValueError::new_err(format!(
            "num_threads must be None or a positive integer, got {n}"
        ))),
    }
}

/// A table borrowed from NumPy: float32, float16 (passed as its uint16 bit pattern) or int8 with row scales.
enum TableArrays<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F16(PyReadonlyArray2<'py, u16>),
    I8(PyReadonlyArray2<'py, i8>, PyReadonlyArray1<'py, f32>),
}

impl<'py> TableArrays<'py> {
    fn extract(
        py: Python<'py>,
        table: &Bound<'py, PyAny>,
        scales: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        let arrays = if let Ok(t) = table.extract::<PyReadonlyArray2<'py, f32>>() {
            TableArrays::F32(t)
        } else if let Ok(t) = table.extract::<PyReadonlyArray2<'py, u16>>() {
            TableArrays::F16(t)
        } else if let Ok(t) = table.extract::<PyReadonlyArray2<'py, i8>>() {
            let scales = scales
                .ok_or_else(|| {
                    raise(
                        py,
                        "InvalidInputError",
                        "an int8 table needs its row scales".into(),
                    )
                })?
                .extract::<PyReadonlyArray1<'py, f32>>()
                .map_err(|_| PyTypeError::new_err("row scales must be a 1-D float32 array"))?;
            TableArrays::I8(t, scales)
        } else {
            return Err(PyTypeError::new_err(
                "the embedding table must be a 2-D float32, float16 (as uint16 bits) or int8 array",
            ));
        };
        let contiguous = match &arrays {
            TableArrays::F32(t) => t.is_c_contiguous(),
            TableArrays::F16(t) => t.is_c_contiguous(),
            TableArrays::I8(t, s) => t.is_c_contiguous() && s.is_c_contiguous(),
        };
        if !contiguous {
            return Err(raise(
                py,
                "InvalidInputError",
                "the embedding table must be C-contiguous".into(),
            ));
        }
        Ok(arrays)
    }

    fn view(&self, py: Python<'_>) -> PyResult<Table<'_>> {
        let slice_err = |e: numpy::AsSliceError| PyValueError::new_err(e.to_string());
        let table = match self {
            TableArrays::F32(t) => {
                Table::new(t.as_slice().map_err(slice_err)?, t.shape()[0], t.shape()[1])
            }
            TableArrays::F16(t) => {
                Table::f16(t.as_slice().map_err(slice_err)?, t.shape()[0], t.shape()[1])
            }
            TableArrays::I8(t, s) => Table::i8(
                t.as_slice().map_err(slice_err)?,
                s.as_slice().map_err(slice_err)?,
                t.shape()[0],
                t.shape()[1],
            ),
        };
        table.map_err(|e| to_py(py, e))
    }
}

fn out_slice<'a>(
    py: Python<'_>,
    out: &'a mut PyReadwriteArray2<'_, f32>,
    rows: usize,
) -> PyResult<(&'a mut [f32], usize)> {
    if !out.is_c_contiguous() {
        return Err(raise(
            py,
            "InvalidInputError",
            "the output array must be C-contiguous".into(),
        ));
    }
    let shape = out.shape().to_vec();
    if shape[0] != rows {
        return Err(raise(
            py,
            "InvalidInputError",
            format!("the output array has {} rows, expected {rows}", shape[0]),
        ));
    }
    let slice = out
        .as_slice_mut()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((slice, shape[1]))
}

/// Borrow every item of `texts` as `&str` without creating new Python objects. The returned strings keep
/// the items alive.
fn text_items<'py>(texts: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyString>>> {
    let list = texts.cast::<PyList>().map_err(|_| {
        let kind = texts
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        PyTypeError::new_err(format!("texts must be a list of str, not {kind}"))
    })?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            item.cast_into::<PyString>().map_err(|e| {
                let kind = e
                    .into_inner()
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                PyTypeError::new_err(format!("texts[{i}] must be str, not {kind}"))
            })
        })
        .collect()
}

fn text_strs<'a>(items: &'a [Bound<'_, PyString>]) -> PyResult<Vec<&'a str>> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.to_str().map_err(|e| {
                PyValueError::new_err(format!("texts[{i}] cannot be encoded as UTF-8: {e}"))
            })
        })
        .collect()
}

/// Flat token ids and bag start offsets.
type IdsAndOffsets<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// A tokenizer plus token map, shared by every thread that encodes with it.
#[pyclass(frozen, module = "staticemb._core", name = "TextEncoder")]
struct PyTextEncoder {
    inner: Arc<TextEncoder>,
}

#[pymethods]
impl PyTextEncoder {
    #[new]
    #[pyo3(signature = (tokenizer_json, mapping=None, weights=None, drop_ids=Vec::new(), native=true))]
    fn new(
        py: Python<'_>,
        tokenizer_json: &str,
        mapping: Option<PyReadonlyArray1<'_, i64>>,
        weights: Option<PyReadonlyArray1<'_, f32>>,
        drop_ids: Vec<u32>,
        native: bool,
    ) -> PyResult<Self> {
        let mapping = mapping
            .as_ref()
            .map(|m| m.as_slice())
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let weights = weights
            .as_ref()
            .map(|w| w.as_slice())
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let inner = py
            .detach(|| TextEncoder::new(tokenizer_json, mapping, weights, &drop_ids))
            .map_err(|e| to_py(py, e))?;
        let inner = if native {
            inner
        } else {
            inner.without_native()
        };
        Ok(PyTextEncoder {
            inner: Arc::new(inner),
        })
    }

    /// One more than the largest token id the tokenizer can produce.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    /// `"native-wordpiece"` or `"tokenizers"`: which tokenizer implementation runs.
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    /// The smallest table height that serves every token id.
    #[getter]
    fn required_rows(&self) -> usize {
        self.inner.required_rows()
    }

    /// Encode `texts` (a list of str) into `out` (len(texts) x dim, C-contiguous float32).
    #[pyo3(signature = (texts, table, out, normalize=false, num_threads=None, scales=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_into<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        table: &Bound<'py, PyAny>,
        mut out: PyReadwriteArray2<'py, f32>,
        normalize: bool,
        num_threads: Option<i64>,
        scales: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<()> {
        let items = text_items(texts)?;
        let strs = text_strs(&items)?;
        let arrays = TableArrays::extract(py, table, scales)?;
        let table = arrays.view(py)?;
        let (out, dim) = out_slice(py, &mut out, strs.len())?;
        let opts = PoolOptions {
            dim,
            normalize,
            threads: threads(num_threads)?,
            kernel: Kernel::detect(),
        };
        let enc = &self.inner;
        py.detach(|| enc.encode(&strs, &table, &opts, out))
            .map_err(|e| to_py(py, e))
    }

    /// Token ids of each text, flattened, with bag start offsets: `(ids uint32, offsets int64)`.
    #[pyo3(signature = (texts, num_threads=None))]
    fn tokenize<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        num_threads: Option<i64>,
    ) -> PyResult<IdsAndOffsets<'py>> {
        let items = text_items(texts)?;
        let strs = text_strs(&items)?;
        let threads = threads(num_threads)?;
        let enc = &self.inner;
        let (ids, offsets) = py
            .detach(|| enc.tokenize_batch(&strs, threads))
            .map_err(|e| to_py(py, e))?;
        Ok((PyArray1::from_vec(py, ids), PyArray1::from_vec(py, offsets)))
    }
}

fn pool_typed<I: TokenId + numpy::Element, O: TokenId + numpy::Element>(
    py: Python<'_>,
    table: &Table<'_>,
    ids: &Bound<'_, PyAny>,
    offsets: &Bound<'_, PyAny>,
    weights: Option<&[f32]>,
    opts: &PoolOptions,
    out: &mut [f32],
) -> PyResult<bool> {
    let (Ok(ids), Ok(offsets)) = (
        ids.extract::<PyReadonlyArray1<'_, I>>(),
        offsets.extract::<PyReadonlyArray1<'_, O>>(),
    ) else {
        return Ok(false);
    };
    if !ids.is_c_contiguous() || !offsets.is_c_contiguous() {
        return Err(raise(
            py,
            "InvalidInputError",
            "ids and offsets must be C-contiguous arrays".into(),
        ));
    }
    let ids = ids
        .as_slice()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let offsets = offsets
        .as_slice()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.detach(|| staticemb_core::pool_bags(table, ids, offsets, weights, opts, out))
        .map_err(|e| to_py(py, e))?;
    Ok(true)
}

/// Mean of the table rows of each bag (`torch.nn.EmbeddingBag` convention), written into `out`.
///
/// `ids` and `offsets` are 1-D int64 arrays (the Python layer converts other integer dtypes).
#[pyfunction]
#[pyo3(signature = (table, ids, offsets, out, normalize=false, num_threads=None, weights=None, scales=None))]
#[allow(clippy::too_many_arguments)]
fn pool_into<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyAny>,
    ids: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    mut out: PyReadwriteArray2<'py, f32>,
    normalize: bool,
    num_threads: Option<i64>,
    weights: Option<PyReadonlyArray1<'py, f32>>,
    scales: Option<&Bound<'py, PyAny>>,
) -> PyResult<()> {
    let arrays = TableArrays::extract(py, table, scales)?;
    let table = arrays.view(py)?;
    let n_bags = offsets.len()?;
    let (out, dim) = out_slice(py, &mut out, n_bags)?;
    let opts = PoolOptions {
        dim,
        normalize,
        threads: threads(num_threads)?,
        kernel: Kernel::detect(),
    };
    if let Some(w) = &weights {
        if !w.is_c_contiguous() {
            return Err(raise(
                py,
                "InvalidInputError",
                "weights must be a C-contiguous array".into(),
            ));
        }
    }
    let weights = weights
        .as_ref()
        .map(|w| w.as_slice())
        .transpose()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    if pool_typed::<i64, i64>(py, &table, ids, offsets, weights, &opts, out)?
        || pool_typed::<u32, i64>(py, &table, ids, offsets, weights, &opts, out)?
        || pool_typed::<i32, i64>(py, &table, ids, offsets, weights, &opts, out)?
    {
        return Ok(());
    }
    Err(PyTypeError::new_err(
        "ids must be a 1-D int32, uint32 or int64 array and offsets a 1-D int64 array",
    ))
}

/// Validate bag start offsets against a number of ids (raises `InvalidInputError`).
#[pyfunction]
fn check_offsets(py: Python<'_>, offsets: PyReadonlyArray1<'_, i64>, n_ids: usize) -> PyResult<()> {
    let offsets = offsets
        .as_slice()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    staticemb_core::check_offsets(offsets, n_ids).map_err(|e| to_py(py, e))
}

/// Name of the SIMD kernel this process uses.
#[pyfunction]
fn kernel_name() -> &'static str {
    Kernel::detect().name()
}

/// Names of every kernel this CPU can run.
#[pyfunction]
fn available_kernels() -> Vec<&'static str> {
    Kernel::available().into_iter().map(Kernel::name).collect()
}

/// The thread count used for `num_threads=None`.
#[pyfunction]
fn default_threads() -> usize {
    staticemb_core::threads::default_threads()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTextEncoder>()?;
    m.add_function(wrap_pyfunction!(pool_into, m)?)?;
    m.add_function(wrap_pyfunction!(check_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(kernel_name, m)?)?;
    m.add_function(wrap_pyfunction!(available_kernels, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
