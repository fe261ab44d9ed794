//! Fuzzing of model loading from bytes: the `model.safetensors` validation (header parsed by the
//! `safetensors` crate, roles, dtypes and shapes checked by staticemb), the tokenizer definition, and the whole
//! path from those bytes to a pooled vector. Nothing may panic, and every accepted file must describe ranges
//! inside itself that a table can be built from.
//!
//! The input is split in two: the first two bytes give the length of the weights file, the rest is the
//! `tokenizer.json` text. Run: `cd rust/staticemb-core && RUSTC_BOOTSTRAP=1 cargo fuzz run load`.
#![no_main]

#[path = "../../tests/common/bert_like.rs"]
mod bert_like;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticemb_core::{read_model_weights, Kernel, PoolOptions, Table, TextEncoder, Threads};

fn reference_tokenizer() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| bert_like::bert_like_tokenizer_json(true, None))
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fuzz_target!(|data: &[u8]| {
    // Panics inside the `tokenizers` crate (it `expect`s on some malformed definitions) are caught and turned
    // into errors by the core; libFuzzer's hook would abort on them even so. A silent hook lets a caught panic
    // pass, while a panic that escapes the core still reaches libfuzzer-sys, which aborts: a crash.
    static QUIET: OnceLock<()> = OnceLock::new();
    QUIET.get_or_init(|| std::panic::set_hook(Box::new(|_| {})));
    if data.len() < 2 {
        return;
    }
    let split = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
    let (file, json) = data[2..].split_at(split);
    let json = std::str::from_utf8(json).ok();

    let Ok(w) = read_model_weights(file) else {
        // Any tokenizer text alone: an error or an encoder, never a panic.
        if let Some(json) = json {
            if let Ok(enc) = TextEncoder::new(json, None, None, true) {
                let _ = enc.token_ids("Hello, wörld! 中文 [UNK]");
            }
        }
        return;
    };
    for t in [Some(&w.table), w.scales.as_ref(), w.weights.as_ref(), w.mapping.as_ref()]
        .into_iter()
        .flatten()
    {
        assert!(t.start <= t.end && t.end <= file.len(), "{t:?} outside a file of {}", file.len());
    }
    let (rows, width) = (w.table.shape[0], w.table.shape[1]);
    assert!(rows > 0 && width > 0);

    // The whole loading path, as the binding runs it: token map from the file, tokenizer, table, a vector.
    let bytes = |t: &staticemb_core::TensorSlice| &file[t.start..t.end];
    let mapping: Option<Vec<i64>> = w.mapping.as_ref().map(|m| match m.dtype {
        "I32" => bytes(m).chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect(),
        "I64" => bytes(m).chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect(),
        _ => Vec::new(),
    });
    let weights: Option<Vec<f32>> = w.weights.as_ref().filter(|t| t.dtype == "F32").map(|t| f32s(bytes(t)));
    let reference = reference_tokenizer();
    let enc = json
        .and_then(|j| TextEncoder::new(j, mapping.as_deref(), weights.as_deref(), true).ok())
        .unwrap_or_else(|| TextEncoder::from_json(reference).unwrap());
    let raw = bytes(&w.table);
    let (a, b, c, ones);
    let table = match w.table.dtype {
        "F32" => {
            a = f32s(raw);
            Table::new(&a, rows, width)
        }
        "F16" => {
            b = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>();
            Table::f16(&b, rows, width)
        }
        "I8" => {
            c = raw.iter().map(|&x| x as i8).collect::<Vec<_>>();
            ones = vec![1.0f32; rows];
            Table::i8(&c, &ones, rows, width)
        }
        _ => return,
    }
    .expect("a validated table has rows x width values");
    if enc.check_table(&table).is_err() {
        return;
    }
    let dim = width.min(16);
    let mut out = vec![0f32; 2 * dim];
    let opts = PoolOptions { dim, normalize: true, threads: Threads::Current, kernel: Kernel::detect() };
    // A tokenizer may fail on a text (an error), never panic.
    let _ = enc.encode(&["hello world", "Hello, wörld! 中文 [UNK]"], &table, &opts, &mut out);
});
