//! Differential fuzzing of the native WordPiece against the `tokenizers` crate, plus pooling of the result.
//!
//! Run: `cd rust/staticemb-core && cargo fuzz run tokenize -- -max_total_time=60`
//! (on a stable toolchain prefix it with `RUSTC_BOOTSTRAP=1`).
#![no_main]

#[path = "../../tests/common/bert_like.rs"]
mod bert_like;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticemb_core::{Kernel, PoolOptions, Table, TextEncoder, Threads};

fn encoders() -> &'static [TextEncoder] {
    static ENCODERS: OnceLock<Vec<TextEncoder>> = OnceLock::new();
    ENCODERS.get_or_init(|| {
        [(true, None), (false, Some(true)), (false, None)]
            .into_iter()
            .map(|(lower, strip)| TextEncoder::from_json(&bert_like::bert_like_tokenizer_json(lower, strip)).unwrap())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for enc in encoders() {
        let mut native = Vec::new();
        enc.push_token_ids(&text, &mut native, &mut Default::default()).unwrap();
        let mut reference = Vec::new();
        enc.push_token_ids_crate(&text, &mut reference).unwrap();
        assert_eq!(native, reference, "text {text:?}");
        let rows = enc.required_rows();
        let table: Vec<f32> = (0..rows * 8).map(|i| (i % 13) as f32 - 6.0).collect();
        let table = Table::new(&table, rows, 8).unwrap();
        let mut out = vec![0f32; 8];
        let opts = PoolOptions { dim: 8, normalize: true, threads: Threads::Current, kernel: Kernel::detect() };
        enc.encode(&[text.as_ref()], &table, &opts, &mut out).unwrap();
        assert!(out.iter().all(|x| x.is_finite()));
    }
});
