//! `staticemb._core`: the thin PyO3 binding of `staticemb-core`.
//!
//! The binding owns buffers: it checks dtype, contiguity, alignment and shape of every NumPy array it is
//! given, borrows them without copying, releases the GIL around the work and maps core errors to the
//! exceptions of `staticemb.errors`. Meaning (which texts, which `dim`, how many threads) is decided and
//! checked once in Python (`staticemb._inputs`); invariants the kernels rely on are checked in the core.

use std::mem::MaybeUninit;
use std::sync::{Arc, OnceLock};

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use staticemb_core::{
    Error, Kernel, PoolOptions, Table, TensorSlice, TextEncoder, Threads, TokenId, Truncation,
};

// Tokenization allocates small strings and vectors for every word; mimalloc's thread-local free lists make
// that markedly cheaper than glibc malloc under several threads (see benches/RESULTS.md). `encode`'s output
// arrays come from it too (see `allocator_policy`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_decommits` and `mi_option_purge_delay`: their positions in the `mi_option_e`
/// enum of the bundled `mimalloc.h` (the same in v2 and v3; `libmimalloc-sys` names only a few options).
/// `tests/test_api.py::test_a_dropped_output_goes_back_to_the_system` checks their effect.
const MI_OPTION_PURGE_DECOMMITS: libmimalloc_sys::mi_option_t = 5;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How memory freed by this extension goes back to the system: at once, but lazily (`MADV_FREE` on Linux,
/// the equivalents elsewhere), instead of mimalloc's default of unmapping it after a delay.
///
/// `encode` returns arrays allocated here. When a caller drops one and encodes again (a batch loop), the next
/// output reuses those pages as they are; memory from the system instead costs a page fault and the kernel's
/// zeroing per page, which measured 17-25% of a 1024-d encode on a VM (benches/RESULTS.md, 2026-12-03). The
/// system can still take the pages back whenever it needs memory; until it does, they count in the process's
/// RSS. `MIMALLOC_PURGE_DECOMMITS=1` and `MIMALLOC_PURGE_DELAY` in the environment take precedence.
fn allocator_policy() {
    // SAFETY: plain option setters of the linked mimalloc; `set_default` leaves options the environment set.
    unsafe {
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DECOMMITS, 0);
        libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0);
    }
}

pyo3::import_exception!(staticemb.errors, StaticembError);
pyo3::import_exception!(staticemb.errors, InvalidInputError);
pyo3::import_exception!(staticemb.errors, ModelFormatError);
pyo3::import_exception!(staticemb.errors, TokenIdError);
pyo3::import_exception!(staticemb.errors, TokenizerError);

/// The one mapping from core errors to Python exceptions.
fn to_py(err: Error) -> PyErr {
    let msg = err.to_string();
    match err {
        Error::IdOutOfRange { .. } => TokenIdError::new_err(msg),
        Error::Tokenizer(_) => TokenizerError::new_err(msg),
        Error::Vocab(_) | Error::Format(_) => ModelFormatError::new_err(msg),
        Error::ThreadPool { .. } => StaticembError::new_err(msg),
        Error::TableShape { .. }
        | Error::Dim { .. }
        | Error::Offsets(_)
        | Error::Output { .. }
        | Error::Lengths { .. } => InvalidInputError::new_err(msg),
    }
}

fn invalid(msg: impl Into<String>) -> PyErr {
    InvalidInputError::new_err(msg.into())
}

/// `num_threads` (already checked by Python: `None` or `1..=max_threads()`) as a core setting. `None` means
/// `RAYON_NUM_THREADS` when it holds a positive integer, else every core: the binding, not the core, reads
/// the environment. A count past [`max_threads`] reaching `_core` directly is held to it: pools live as long
/// as the process, and a count of 2**62 started threads until the machine stalled.
fn threads(num_threads: Option<usize>) -> Threads {
    Threads::from_option(
        num_threads
            .map(|n| n.min(max_threads()))
            .or_else(env_threads),
    )
}

/// `RAYON_NUM_THREADS` as a positive count, capped at [`max_threads`] like an explicit `num_threads`: a
/// value of thousands would start thousands of threads that live as long as the process.
fn env_threads() -> Option<usize> {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map(|n| n.min(max_threads()))
}

/// The largest thread count staticemb starts: four times the CPUs this process may use, and at least 16.
#[pyfunction]
fn max_threads() -> usize {
    (4 * staticemb_core::available_threads()).max(16)
}

/// The pooling kernel: `STATICEMB_KERNEL` when it names an available kernel, else the detected best; read
/// once per process.
fn kernel() -> Kernel {
    static CHOSEN: OnceLock<Kernel> = OnceLock::new();
    *staticemb_core::init_once(&CHOSEN, || {
        std::env::var("STATICEMB_KERNEL")
            .ok()
            .and_then(|name| Kernel::from_name(&name))
            .unwrap_or_else(Kernel::detect)
    })
}

fn options(dim: usize, normalize: bool, num_threads: Option<usize>) -> PoolOptions {
    PoolOptions {
        dim,
        normalize,
        threads: threads(num_threads),
        kernel: kernel(),
    }
}

/// The embedding table held by a [`PyModel`]: float32, float16 (as its uint16 bit pattern) or int8 with
/// one float32 scale per row. Dtype, rank, contiguity and alignment are checked once, when the model is built.
enum TableRef {
    F32(Py<PyArray2<f32>>),
    F16(Py<PyArray2<u16>>),
    I8(Py<PyArray2<i8>>, Py<PyArray1<f32>>),
}

fn slice_err(what: &str) -> impl Fn(numpy::AsSliceError) -> PyErr + '_ {
    move |_| invalid(format!("{what} must be a C-contiguous, aligned array"))
}

fn borrow_err(what: &str) -> impl Fn(numpy::BorrowError) -> PyErr + '_ {
    move |e| invalid(format!("{what} is being written elsewhere: {e}"))
}

impl TableRef {
    fn extract<'py>(
        table: &Bound<'py, PyAny>,
        scales: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        // Private views: assigning a new `dtype` or `shape` to the caller's array object (NumPy allows both in
        // place) changes that object only, never what this model reads. Without them, a float32 table whose
        // `dtype` was set to uint8 afterwards was read as four times its length.
        // The view is a base-class ndarray made by ndarray's own `view`: a subclass's `view` or
        // `__array_finalize__` (which sees every view made of it) never gets hold of it.
        fn view<'py>(a: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
            if a.cast::<numpy::PyUntypedArray>().is_ok() {
                let ndarray = a.py().import("numpy")?.getattr("ndarray")?;
                ndarray.getattr("view")?.call1((a, &ndarray))
            } else {
                Ok(a.clone())
            }
        }
        let table = &view(table)?;
        let scales = scales.map(view).transpose()?;
        let scales = scales.as_ref();
        let r = if let Ok(t) = table.cast::<PyArray2<f32>>() {
            TableRef::F32(t.clone().unbind())
        } else if let Ok(t) = table.cast::<PyArray2<u16>>() {
            TableRef::F16(t.clone().unbind())
        } else if let Ok(t) = table.cast::<PyArray2<i8>>() {
            let s = scales
                .ok_or_else(|| invalid("an int8 table needs one float32 scale per row"))?
                .cast::<PyArray1<f32>>()
                .map_err(|_| PyTypeError::new_err("row scales must be a 1-D float32 array"))?;
            TableRef::I8(t.clone().unbind(), s.clone().unbind())
        } else {
            return Err(PyTypeError::new_err(
                "the embedding table must be a 2-D float32, float16 (as uint16 bits) or int8 array",
            ));
        };
        if scales.is_some() && !matches!(r, TableRef::I8(..)) {
            return Err(invalid("row scales apply to an int8 table only"));
        }
        // `as_slice` also accepts Fortran-ordered arrays: row-major order is checked here.
        if !table.cast::<numpy::PyUntypedArray>()?.is_c_contiguous() {
            return Err(invalid(
                "the embedding table must be C-contiguous (row-major)",
            ));
        }
        Ok(r)
    }

    /// Borrow the arrays and hand the core a checked view to `f`. Each array's dtype is checked again: were
    /// it changed in place (float32 to uint8, say), the typed handle would read past the buffer.
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&Table<'_>) -> PyResult<R>) -> PyResult<R> {
        fn typed<'py, T: numpy::Element, D: numpy::ndarray::Dimension>(
            a: &Py<numpy::PyArray<T, D>>,
            py: Python<'py>,
        ) -> PyResult<Bound<'py, numpy::PyArray<T, D>>> {
            let a = a.bind(py).as_any();
            a.cast::<numpy::PyArray<T, D>>().cloned().map_err(|_| {
                invalid("the embedding table's dtype or rank was changed after the model was built")
            })
        }
        let what = "the embedding table";
        match self {
            TableRef::F32(t) => {
                let t = typed(t, py)?;
                let t = t.try_readonly().map_err(borrow_err(what))?;
                let (r, w) = (t.shape()[0], t.shape()[1]);
                f(&Table::new(t.as_slice().map_err(slice_err(what))?, r, w).map_err(to_py)?)
            }
            TableRef::F16(t) => {
                let t = typed(t, py)?;
                let t = t.try_readonly().map_err(borrow_err(what))?;
                let (r, w) = (t.shape()[0], t.shape()[1]);
                f(&Table::f16(t.as_slice().map_err(slice_err(what))?, r, w).map_err(to_py)?)
            }
            TableRef::I8(t, s) => {
                let (t, s) = (typed(t, py)?, typed(s, py)?);
                let t = t.try_readonly().map_err(borrow_err(what))?;
                let s = s.try_readonly().map_err(borrow_err("the row scales"))?;
                let (r, w) = (t.shape()[0], t.shape()[1]);
                let table = Table::i8(
                    t.as_slice().map_err(slice_err(what))?,
                    s.as_slice().map_err(slice_err("the row scales"))?,
                    r,
                    w,
                )
                .map_err(to_py)?;
                f(&table)
            }
        }
    }
}

/// A new `n x dim` float32 array from this extension's allocator ([`allocator_policy`]): `fill` gets its
/// memory uninitialized and must, when it returns `Ok`, have initialized every value (the core's `*_uninit`
/// functions do). `MemoryError` when the memory cannot be had.
fn new_rows<'py>(
    py: Python<'py>,
    n: usize,
    dim: usize,
    fill: impl FnOnce(&mut [MaybeUninit<f32>]) -> PyResult<()>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let len = n.checked_mul(dim).ok_or_else(|| {
        PyMemoryError::new_err(format!("an output of {n} x {dim} float32 is too large"))
    })?;
    let mut values: Vec<f32> = Vec::new();
    values.try_reserve_exact(len).map_err(|_| {
        PyMemoryError::new_err(format!(
            "cannot allocate the {n} x {dim} float32 output ({} bytes)",
            len.saturating_mul(4)
        ))
    })?;
    fill(&mut values.spare_capacity_mut()[..len])?;
    // SAFETY: `len` values were reserved, and `fill` returned `Ok`, which by its contract initialized each
    // of them.
    unsafe { values.set_len(len) };
    Ok(numpy::ndarray::Array2::from_shape_vec((n, dim), values)
        .expect("n x dim values for an n x dim array")
        .into_pyarray(py))
}

/// The most text one batch of `encode` or `tokenize` holds, in code points (bytes for ASCII; a batch is sized
/// before its texts are read as UTF-8): the GIL is released for a batch, and Ctrl-C is handled between batches,
/// so a few huge texts must not make one batch that runs for seconds. A batch always holds at least one text
/// (one text is not split).
const BATCH_BYTES: usize = 8 << 20;

/// Texts per `tokenize` batch (as `encode`'s default batch size).
const TOKENIZE_BATCH: usize = 16_384;

/// Table values one `embed_ids` batch reads per thread (ids and bags, each a row of `dim` values): 2M ids
/// at 1024-d, about a tenth of a second. As for `encode`, the GIL is released for a batch and Ctrl-C is
/// handled between batches.
const EMBED_BATCH_VALUES: usize = 1 << 31;

/// Consecutive ranges of the bags of checked `offsets` (over `n_ids` ids), each holding at most `limit` ids
/// and bags together, and at least one bag (a bag is not split).
fn bag_batches(offsets: &[i64], n_ids: usize, limit: usize) -> Vec<std::ops::Range<usize>> {
    let n = offsets.len();
    let start_of = |b: usize| offsets.get(b).map_or(n_ids, |&o| o as usize);
    let mut out = Vec::new();
    let mut first = 0;
    while first < n {
        let mut end = first + 1;
        while end < n && start_of(end + 1) - start_of(first) + (end + 1 - first) <= limit {
            end += 1;
        }
        out.push(first..end);
        first = end;
    }
    out
}

/// `err` of a batch whose ids begin at `first` of the caller's, with an id's position counted in the
/// caller's array.
fn at_id(err: Error, first: usize) -> Error {
    match err {
        Error::IdOutOfRange { id, position, rows } => Error::IdOutOfRange {
            id,
            position: position + first,
            rows,
        },
        other => other,
    }
}

/// Consecutive ranges of texts of the given `sizes` (code points), of at most `max_texts` texts (at least one)
/// and at most [`BATCH_BYTES`] code points in all, unless one text alone is longer.
fn batches(sizes: &[usize], max_texts: usize) -> Vec<std::ops::Range<usize>> {
    let max_texts = max_texts.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < sizes.len() {
        let (mut end, mut bytes) = (start + 1, sizes[start]);
        while end < sizes.len() && end - start < max_texts && bytes + sizes[end] <= BATCH_BYTES {
            bytes += sizes[end];
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// Check that every item of `texts` (a list) is a `str`, and take a reference to each: the caller changing
/// the list afterwards cannot free them. With each text's length in code points.
fn text_items<'py>(
    texts: &Bound<'py, PyList>,
) -> PyResult<(Vec<Bound<'py, PyString>>, Vec<usize>)> {
    let items = texts
        .iter()
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
        .collect::<PyResult<Vec<_>>>()?;
    let sizes = items.iter().map(|s| s.len()).collect::<PyResult<_>>()?;
    Ok((items, sizes))
}

/// The UTF-8 text of each of `items` (numbered from `first` in errors) for one batch: an ASCII `str` is read
/// in place; any other is encoded into a bytes object that lives as long as the batch. Reading it in place
/// (`PyUnicode_AsUTF8AndSize`) would store a UTF-8 copy inside the caller's `str` for its whole life: up to
/// three times the memory of a corpus kept in a list, after every `encode`.
fn utf8_texts<'py>(items: &[Bound<'py, PyString>], first: usize) -> PyResult<Vec<Utf8<'py>>> {
    let py = match items.first() {
        Some(item) => item.py(),
        None => return Ok(Vec::new()),
    };
    // `str.isascii` itself, called with the text: no method lookup or bound method per text.
    static ISASCII: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let isascii = ISASCII
        .get_or_try_init(py, || {
            py.get_type::<PyString>()
                .getattr("isascii")
                .map(Bound::unbind)
        })?
        .bind(py);
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if isascii.call1((s,))?.is_truthy()? {
                return Ok(Utf8::Str(s.clone()));
            }
            s.encode_utf8().map(Utf8::Bytes).map_err(|_| {
                invalid(format!(
                    "texts[{}] is not valid Unicode text (it holds a lone surrogate code point)",
                    first + i
                ))
            })
        })
        .collect()
}

/// A text's UTF-8: an ASCII `str` itself, or a bytes object encoded from a `str`.
enum Utf8<'py> {
    Str(Bound<'py, PyString>),
    Bytes(Bound<'py, PyBytes>),
}

impl Utf8<'_> {
    fn as_str(&self) -> PyResult<&str> {
        match self {
            // ASCII: its UTF-8 is the string's own data, with no copy kept.
            Utf8::Str(s) => s.to_str(),
            Utf8::Bytes(b) => std::str::from_utf8(b.as_bytes())
                .map_err(|e| invalid(format!("a text encoded to invalid UTF-8: {e}"))),
        }
    }
}

/// `&str`s of `texts`, for as long as they live.
fn strs<'a>(texts: &'a [Utf8<'_>]) -> PyResult<Vec<&'a str>> {
    texts.iter().map(Utf8::as_str).collect()
}

/// Flat token ids and bag start offsets.
type IdsAndOffsets<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// A static model's native half: the tokenizer with its token map, and the embedding table (NumPy's, never
/// copied). Built once per model; every method takes only per-call arguments.
#[pyclass(frozen, module = "staticemb._core", name = "Model")]
struct PyModel {
    encoder: Arc<TextEncoder>,
    table: TableRef,
    rows: usize,
    width: usize,
}

#[pymethods]
impl PyModel {
    #[new]
    #[pyo3(signature = (tokenizer_json, table, *, scales=None, mapping=None, weights=None, drop_unknown=false, native=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        tokenizer_json: &Bound<'_, PyAny>,
        table: &Bound<'_, PyAny>,
        scales: Option<&Bound<'_, PyAny>>,
        mapping: Option<PyReadonlyArray1<'_, i64>>,
        weights: Option<PyReadonlyArray1<'_, f32>>,
        drop_unknown: bool,
        native: bool,
    ) -> PyResult<Self> {
        // `tokenizer.json` as str, or as the file's bytes (no Python copy of a large vocabulary).
        let tokenizer_json: &str = if let Ok(bytes) = tokenizer_json.cast::<PyBytes>() {
            std::str::from_utf8(bytes.as_bytes()).map_err(|e| {
                TokenizerError::new_err(format!(
                    "tokenizer error: tokenizer.json is not UTF-8 text: {e}"
                ))
            })?
        } else if let Ok(text) = tokenizer_json.cast::<PyString>() {
            text.to_str()?
        } else {
            return Err(PyTypeError::new_err(format!(
                "tokenizer_json must be str or bytes, not {}",
                tokenizer_json.get_type().name()?
            )));
        };
        let table = TableRef::extract(table, scales)?;
        let mapping = mapping
            .as_ref()
            .map(|m| m.as_slice())
            .transpose()
            .map_err(slice_err("the token mapping"))?;
        let weights = weights
            .as_ref()
            .map(|w| w.as_slice())
            .transpose()
            .map_err(slice_err("the token weights"))?;
        let encoder = py
            .detach(|| {
                let encoder = TextEncoder::new(tokenizer_json, mapping, weights, drop_unknown)?;
                if native {
                    Ok(encoder)
                } else {
                    encoder.without_native()
                }
            })
            .map_err(to_py)?;
        let (rows, width) = table.with(py, |t| {
            encoder.check_table(t).map_err(to_py)?;
            encoder.check_scales(t).map_err(to_py)?;
            Ok((t.rows(), t.width()))
        })?;
        Ok(PyModel {
            encoder: Arc::new(encoder),
            table,
            rows,
            width,
        })
    }

    /// One more than the largest token id the tokenizer can produce.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.encoder.vocab_size()
    }

    /// `"native-wordpiece"`, `"native-unigram"`, `"native-bytelevel-bpe"` or `"tokenizers"`: which tokenizer
    /// implementation runs.
    #[getter]
    fn backend(&self) -> &'static str {
        self.encoder.backend()
    }

    /// Rows of the embedding table.
    #[getter]
    fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the embedding table.
    #[getter]
    fn width(&self) -> usize {
        self.width
    }

    /// The truncation `tokenizer.json` asks for, as `(max_tokens, keep_end)`, or `None`.
    #[getter]
    fn file_truncation(&self) -> Option<(usize, bool)> {
        self.encoder
            .file_truncation()
            .and_then(|t| t.max_tokens.map(|m| (m, t.keep_end)))
    }

    /// The median length in characters of the vocabulary's tokens (model2vec's text cut uses it).
    #[getter]
    fn median_token_chars(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| self.encoder.median_token_chars())
            .map_err(to_py)
    }

    /// The unknown token's id when it is dropped before pooling, else `None`.
    #[getter]
    fn dropped_unknown(&self) -> Option<u32> {
        self.encoder.dropped_unknown()
    }

    /// The tokenizer's unknown token id, whether or not it is dropped, else `None`.
    #[getter]
    fn unknown_token(&self) -> Option<u32> {
        self.encoder.unknown_token()
    }

    /// Encode `texts` (a list of str) into a new `len(texts) x dim` float32 array, keeping at most
    /// `max_tokens` token ids per text (the last ones with `keep_end`).
    ///
    /// The work runs in batches of `batch_size` texts (and at most [`BATCH_BYTES`] of text, see [`batches`])
    /// with the GIL released; between batches, pending
    /// signals are handled (Ctrl-C raises `KeyboardInterrupt`) and `progress(n)` is called with the batch's
    /// size. The array is allocated here, so that memory a dropped output held is reused without a page
    /// fault ([`allocator_policy`]); the workers write each row, and no uninitialized value is ever visible.
    #[pyo3(signature = (texts, dim, normalize, num_threads=None, max_tokens=None, keep_end=false, batch_size=16384, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyList>,
        dim: usize,
        normalize: bool,
        num_threads: Option<usize>,
        max_tokens: Option<usize>,
        keep_end: bool,
        batch_size: usize,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (items, sizes) = text_items(texts)?;
        let opts = options(dim, normalize, num_threads);
        let truncation = Truncation {
            max_tokens,
            keep_end,
        };
        let enc = &self.encoder;
        new_rows(py, items.len(), dim, |spare| {
            for range in batches(&sizes, batch_size) {
                let first = range.start;
                let held = utf8_texts(&items[range], first)?;
                let texts = &strs(&held)?;
                let out = &mut spare[first * dim..(first + texts.len()) * dim];
                self.table.with(py, |table| {
                    py.detach(|| {
                        enc.encode_truncated_uninit(texts, first, table, &opts, truncation, out)
                    })
                    .map_err(to_py)
                })?;
                py.check_signals()?;
                if let Some(progress) = &progress {
                    progress.call1((texts.len(),))?;
                }
            }
            // The batches cover `spare` (each returned `Ok`, so each initialized its part).
            Ok(())
        })
    }

    /// Pool token ids (the tokenizer's, flat) with bag start `offsets` into a new `len(offsets) x dim`
    /// float32 array, applying the model's token map, as `encode` does for texts (and with its output
    /// memory). A large input runs in batches of bags ([`EMBED_BATCH_VALUES`]), Ctrl-C handled between
    /// them.
    #[pyo3(signature = (ids, offsets, dim, normalize, num_threads=None))]
    fn embed_ids<'py>(
        &self,
        py: Python<'py>,
        ids: &Bound<'py, PyAny>,
        offsets: PyReadonlyArray1<'py, i64>,
        dim: usize,
        normalize: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        // Copied while the GIL is held: once it is released another Python thread could write into the caller's
        // arrays between the core's checks and its reads (ids and offsets index memory).
        let offsets = offsets.as_slice().map_err(slice_err("offsets"))?.to_vec();
        let offsets = offsets.as_slice();
        let opts = options(dim, normalize, num_threads);
        new_rows(py, offsets.len(), dim, |out| {
            if let Some(r) = self.embed_typed::<i64>(py, ids, offsets, &opts, out) {
                r
            } else if let Some(r) = self.embed_typed::<u32>(py, ids, offsets, &opts, out) {
                r
            } else if let Some(r) = self.embed_typed::<i32>(py, ids, offsets, &opts, out) {
                r
            } else {
                Err(PyTypeError::new_err(
                    "ids must be a 1-D int32, uint32 or int64 array",
                ))
            }
        })
    }

    /// Token ids of each text, flattened, with bag start offsets: `(ids uint32, offsets int64)`.
    #[pyo3(signature = (texts, num_threads=None))]
    fn tokenize<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyList>,
        num_threads: Option<usize>,
    ) -> PyResult<IdsAndOffsets<'py>> {
        let (items, sizes) = text_items(texts)?;
        let threads = threads(num_threads);
        let enc = &self.encoder;
        let (mut ids, mut offsets) = (Vec::new(), Vec::with_capacity(items.len()));
        for range in batches(&sizes, TOKENIZE_BATCH) {
            let first = range.start;
            let held = utf8_texts(&items[range], first)?;
            let texts = &strs(&held)?;
            let (part, starts) = py
                .detach(|| enc.tokenize_batch_from(texts, first, threads))
                .map_err(to_py)?;
            let shift = ids.len() as i64;
            offsets.extend(starts.into_iter().map(|start| start + shift));
            ids.extend_from_slice(&part);
            py.check_signals()?;
        }
        Ok((PyArray1::from_vec(py, ids), PyArray1::from_vec(py, offsets)))
    }
}

impl PyModel {
    /// Pool `ids` when it is a 1-D array of `I`; `None` when it is not.
    fn embed_typed<I: TokenId + numpy::Element>(
        &self,
        py: Python<'_>,
        ids: &Bound<'_, PyAny>,
        offsets: &[i64],
        opts: &PoolOptions,
        out: &mut [MaybeUninit<f32>],
    ) -> Option<PyResult<()>> {
        let ids = ids.cast::<PyArray1<I>>().ok()?;
        Some((|| {
            let ids = ids.try_readonly().map_err(borrow_err("ids"))?;
            let ids = ids.as_slice().map_err(slice_err("ids"))?.to_vec(); // (see embed_ids)
            let enc = &self.encoder;
            let limit = (EMBED_BATCH_VALUES / opts.dim.max(1))
                .max(1)
                .saturating_mul(opts.threads.count());
            if offsets.is_empty() || ids.len() + offsets.len() <= limit {
                return self.table.with(py, |table| {
                    py.detach(|| enc.pool_ids_uninit(table, &ids, offsets, opts, out))
                        .map_err(to_py)
                });
            }
            // A large input is pooled in batches of bags, Ctrl-C handled between them. The offsets are
            // checked whole first, so that every error names a position in the caller's arrays.
            py.detach(|| staticemb_core::check_offsets(offsets, ids.len()))
                .map_err(to_py)?;
            let dim = opts.dim;
            for bags in bag_batches(offsets, ids.len(), limit) {
                let first = offsets[bags.start] as usize;
                let end = offsets.get(bags.end).map_or(ids.len(), |&o| o as usize);
                let starts: Vec<i64> = offsets[bags.clone()]
                    .iter()
                    .map(|&o| o - first as i64)
                    .collect();
                let part = &mut out[bags.start * dim..bags.end * dim];
                self.table.with(py, |table| {
                    py.detach(|| enc.pool_ids_uninit(table, &ids[first..end], &starts, opts, part))
                        .map_err(|e| to_py(at_id(e, first)))
                })?;
                py.check_signals()?;
            }
            // The batches cover `out` (each returned `Ok`, so each initialized its part).
            Ok(())
        })())
    }
}

fn tensor_dict<'py>(py: Python<'py>, t: &TensorSlice) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &t.name)?;
    d.set_item("dtype", t.dtype)?;
    d.set_item("shape", t.shape.clone())?;
    d.set_item("start", t.start)?;
    d.set_item("end", t.end)?;
    Ok(d)
}

/// Validate a whole `model.safetensors` file (a 1-D uint8 array: a memory map or the bytes read) and
/// return its layout: `{"layout": "sentence-transformers" | "model2vec", "table": {...}, "scales": ...,
/// "weights": ..., "mapping": ...}`, each tensor as `{"name", "dtype", "shape", "start", "end"}` with
/// absolute byte offsets, or `None`. Raises `ModelFormatError` (without the file name: the caller adds it).
#[pyfunction]
fn read_model_weights<'py>(
    py: Python<'py>,
    data: PyReadonlyArray1<'py, u8>,
) -> PyResult<Bound<'py, PyDict>> {
    let bytes = data.as_slice().map_err(slice_err("the file buffer"))?;
    let w = py
        .detach(|| staticemb_core::read_model_weights(bytes))
        .map_err(to_py)?;
    let d = PyDict::new(py);
    d.set_item("layout", w.layout.name())?;
    d.set_item("table", tensor_dict(py, &w.table)?)?;
    for (key, t) in [
        ("scales", &w.scales),
        ("weights", &w.weights),
        ("mapping", &w.mapping),
    ] {
        match t {
            Some(t) => d.set_item(key, tensor_dict(py, t)?)?,
            None => d.set_item(key, py.None())?,
        }
    }
    Ok(d)
}

/// For each segment `s` (starts `offsets`, the last ending at `len(rows)`), the element-wise maximum of rows
/// `rows[offsets[s]:offsets[s + 1]]` of `values` (a C-contiguous float32 matrix), each times its entry of
/// `scales` where given, `fill` for an empty segment: a new `len(offsets) x values.shape[1]` float32 array,
/// computed without the GIL.
#[pyfunction]
#[pyo3(signature = (values, rows, offsets, fill, num_threads=None, scales=None))]
fn segment_max<'py>(
    py: Python<'py>,
    values: PyReadonlyArray2<'py, f32>,
    rows: PyReadonlyArray1<'py, i64>,
    offsets: PyReadonlyArray1<'py, i64>,
    fill: f32,
    num_threads: Option<usize>,
    scales: Option<PyReadonlyArray1<'py, f32>>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let width = values.shape()[1];
    if !values.is_c_contiguous() {
        // `as_slice` also accepts a Fortran-ordered array, whose flat order is not the rows'.
        return Err(invalid("values must be a C-contiguous, aligned array"));
    }
    let matrix = values.as_slice().map_err(slice_err("values"))?;
    // Copied while the GIL is held: rows and offsets index memory, and another Python thread could write into
    // them once it is released (the values are only read as numbers).
    let rows = rows.as_slice().map_err(slice_err("rows"))?.to_vec();
    let offsets = offsets.as_slice().map_err(slice_err("offsets"))?.to_vec();
    let (rows, offsets) = (rows.as_slice(), offsets.as_slice());
    let scales = match &scales {
        Some(s) => Some(s.as_slice().map_err(slice_err("scales"))?),
        None => None,
    };
    let n = offsets.len();
    let len = n.checked_mul(width).ok_or_else(|| {
        PyMemoryError::new_err(format!("an output of {n} x {width} float32 is too large"))
    })?;
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(len).map_err(|_| {
        PyMemoryError::new_err(format!("cannot allocate the {n} x {width} float32 output"))
    })?;
    out.resize(len, fill);
    let threads = threads(num_threads);
    py.detach(|| {
        staticemb_core::segment_max(
            matrix, width, rows, scales, offsets, fill, &mut out, threads,
        )
    })
    .map_err(to_py)?;
    Ok(numpy::ndarray::Array2::from_shape_vec((n, width), out)
        .expect("n x width values for an n x width array")
        .into_pyarray(py))
}

/// Name of the SIMD kernel this process uses.
#[pyfunction]
fn kernel_name() -> &'static str {
    kernel().name()
}

/// Names of every kernel this CPU can run.
#[pyfunction]
fn available_kernels() -> Vec<&'static str> {
    Kernel::available().into_iter().map(Kernel::name).collect()
}

/// The thread count used for `num_threads=None`: `RAYON_NUM_THREADS` if set to a positive integer (at most
/// [`max_threads`]), else the CPUs this process may use.
#[pyfunction]
fn default_threads() -> usize {
    threads(None).count()
}

/// The CPUs this process may run on.
#[pyfunction]
fn available_threads() -> usize {
    staticemb_core::available_threads()
}

/// How many thread pools are cached now (a small LRU; evicted pools are freed).
#[pyfunction]
fn cached_pools() -> usize {
    staticemb_core::cached_pools()
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    allocator_policy();
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(read_model_weights, m)?)?;
    m.add_function(wrap_pyfunction!(segment_max, m)?)?;
    m.add_function(wrap_pyfunction!(kernel_name, m)?)?;
    m.add_function(wrap_pyfunction!(available_kernels, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(available_threads, m)?)?;
    m.add_function(wrap_pyfunction!(max_threads, m)?)?;
    m.add_function(wrap_pyfunction!(cached_pools, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CACHED_POOLS", staticemb_core::CACHED_POOLS)?;
    Ok(())
}
