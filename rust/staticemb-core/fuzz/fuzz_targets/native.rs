//! Differential fuzzing of the native Unigram and byte-level BPE against the `tokenizers` crate on real
//! vocabularies (XLM-R, XLM-R with byte fallback, a GPT-2-style byte-level BPE), plus pooling of the result.
//!
//! Build the tokenizers first (`python -m training.xlmr --out DIR [--byte-fallback]`,
//! `python -m training.bytelevel_bpe --out DIR`; `make fuzz-native` does it all), then:
//! `STATICEMB_FUZZ_NATIVE=DIR1/tokenizer.json:DIR2/tokenizer.json cargo fuzz run native -- -max_total_time=600`
//! (on a stable toolchain prefix it with `RUSTC_BOOTSTRAP=1`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticemb_core::{Kernel, PoolOptions, Table, TextEncoder, Threads};

fn encoders() -> &'static [TextEncoder] {
    static ENCODERS: OnceLock<Vec<TextEncoder>> = OnceLock::new();
    ENCODERS.get_or_init(|| {
        let paths = std::env::var("STATICEMB_FUZZ_NATIVE")
            .expect("STATICEMB_FUZZ_NATIVE names the tokenizer.json files to fuzz, ':'-separated");
        paths
            .split(':')
            .map(|p| {
                let json = std::fs::read_to_string(p).expect("readable tokenizer.json");
                let enc = TextEncoder::from_json(&json).unwrap();
                assert_ne!(enc.backend(), "tokenizers", "{p} must run a native pipeline");
                enc
            })
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
        let table = vec![0.5f32; rows * 4];
        let table = Table::new(&table, rows, 4).unwrap();
        let mut out = vec![0f32; 4];
        let opts = PoolOptions { dim: 4, normalize: true, threads: Threads::Current, kernel: Kernel::detect() };
        enc.encode(&[text.as_ref()], &table, &opts, &mut out).unwrap();
        assert!(out.iter().all(|x| x.is_finite()));
    }
});
