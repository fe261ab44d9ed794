//! Differential tests: the native Unigram must give exactly the ids of the `tokenizers` crate, on every
//! configuration it accepts; configurations it does not accept must run the crate.
//!
//! The vocabularies here are small and synthetic (so that ties, unknown runs, byte fallback and duplicate
//! pieces are frequent); the real XLM-R vocabulary with its SentencePiece charsmap is checked from Python
//! (`tests/test_native_unigram.py`) and by the `unigram` fuzz target.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use staticemb_core::TextEncoder;

/// Pieces: single characters, `▁`-words and sub-words, with scores that repeat (ties).
fn vocab(extra: &[(&str, f64)]) -> Vec<Value> {
    let mut v = vec![
        json!(["<unk>", 0.0]),
        json!(["<s>", 0.0]),
        json!(["</s>", 0.0]),
    ];
    let chars =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789.,!?'\"-éüßçøñ日本語中文字한국어▁ーアイウ";
    for (i, c) in chars.chars().enumerate() {
        v.push(json!([c.to_string(), -5.0 - (i % 7) as f64]));
    }
    for (i, p) in [
        "▁the",
        "▁a",
        "▁an",
        "th",
        "he",
        "the",
        "▁is",
        "is",
        "ing",
        "▁play",
        "play",
        "er",
        "▁über",
        "ab",
        "bc",
        "abc",
        "▁ab",
        "▁日本",
        "日本語",
        "本語",
        "▁한국",
        "ーア",
        "▁d",
        "de",
        "ef",
        "▁x",
        "xy",
        "▁Ab",
        "AB",
        "▁AB",
        "e\u{301}",
        "▁e",
        "ss",
        "▁fi",
        "fi",
        "ー",
        "..",
        "▁.",
        "!!",
        "’",
    ]
    .iter()
    .enumerate()
    {
        v.push(json!([p, -2.0 - (i % 5) as f64 * 0.5]));
    }
    for (p, s) in extra {
        v.push(json!([p, s]));
    }
    v
}

fn tokenizer(
    normalizer: Value,
    metaspace: Value,
    vocab: Vec<Value>,
    unk: Value,
    byte_fallback: bool,
) -> String {
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true},
            {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true},
            {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false,
             "normalized": false, "special": true},
        ],
        "normalizer": normalizer,
        "pre_tokenizer": metaspace,
        "post_processor": null,
        "decoder": null,
        "model": {"type": "Unigram", "unk_id": unk, "vocab": vocab, "byte_fallback": byte_fallback},
    })
    .to_string()
}

fn metaspace(prepend: &str, split: bool) -> Value {
    json!({"type": "Metaspace", "replacement": "▁", "prepend_scheme": prepend, "split": split})
}

fn byte_pieces() -> Vec<(String, f64)> {
    (0..=255u8).map(|b| (format!("<0x{b:02X}>"), 0.0)).collect()
}

/// Every supported configuration, each one native (built once).
fn encoders() -> &'static [TextEncoder] {
    static ENCODERS: OnceLock<Vec<TextEncoder>> = OnceLock::new();
    ENCODERS.get_or_init(build_encoders)
}

fn build_encoders() -> Vec<TextEncoder> {
    let bytes = byte_pieces();
    let byte_refs: Vec<(&str, f64)> = bytes.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let jsons = [
        tokenizer(
            json!({"type": "NFKC"}),
            metaspace("always", true),
            vocab(&[]),
            json!(0),
            false,
        ),
        tokenizer(
            json!({"type": "Sequence", "normalizers": [
                {"type": "Lowercase"},
                {"type": "Strip", "strip_left": true, "strip_right": true},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
                {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            ]}),
            metaspace("always", true),
            vocab(&[]),
            json!(0),
            false,
        ),
        // `first` prepends at the text's start only (native while no step can remove leading characters).
        tokenizer(
            json!({"type": "Sequence", "normalizers": [
                {"type": "Lowercase"},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
                {"type": "NFKC"},
            ]}),
            metaspace("first", true),
            vocab(&[]),
            json!(0),
            false,
        ),
        tokenizer(
            Value::Null,
            metaspace("never", false),
            vocab(&[]),
            json!(0),
            false,
        ),
        tokenizer(
            json!({"type": "NFD"}),
            metaspace("always", true),
            vocab(&byte_refs),
            json!(0),
            true,
        ),
        // Byte fallback with only some byte pieces: a run whose bytes are not all there is unknown.
        tokenizer(
            json!({"type": "NFC"}),
            metaspace("always", true),
            vocab(&byte_refs[..0xC3]),
            json!(0),
            true,
        ),
        // Duplicate pieces (the last id wins, with its score) and a piece equal to the unknown token.
        tokenizer(
            json!({"type": "NFKD"}),
            metaspace("always", true),
            vocab(&[("th", -0.5), ("a", -1.0), ("▁the", -9.0), ("<unk>", -1.0)]),
            json!(0),
            false,
        ),
        // Scores that are not exact in f32 (a model trained by `tokenizers`): kept as f64, ties included.
        tokenizer(
            json!({"type": "NFKC"}),
            metaspace("always", true),
            vocab(&[
                ("ab", -2.000_000_000_1),
                ("▁ab", -4.000_000_000_1),
                ("c", -0.1),
                ("bc", -2.1),
            ]),
            json!(0),
            false,
        ),
        // A different replacement character and a Replace that produces it.
        tokenizer(
            json!({"type": "Replace", "pattern": {"String": "_"}, "content": "ー"}),
            json!({"type": "Metaspace", "replacement": "ー", "prepend_scheme": "always", "split": true}),
            vocab(&[]),
            json!(0),
            false,
        ),
    ];
    jsons
        .iter()
        .map(|j| {
            let enc = TextEncoder::from_json(j).unwrap();
            assert_eq!(enc.backend(), "native-unigram", "{j:.300}");
            enc
        })
        .collect()
}

fn check(encoders: &[TextEncoder], text: &str) -> Result<(), TestCaseError> {
    for (k, enc) in encoders.iter().enumerate() {
        let mut native = Vec::new();
        enc.push_token_ids(text, &mut native, &mut Default::default())
            .unwrap();
        let mut reference = Vec::new();
        enc.push_token_ids_crate(text, &mut reference).unwrap();
        prop_assert_eq!(&native, &reference, "encoder {} text {:?}", k, text);
        let encoding = enc.tokenizer().unwrap().encode_fast(text, false).unwrap();
        prop_assert_eq!(native.as_slice(), encoding.get_ids());
    }
    Ok(())
}

#[test]
fn fixed_cases() {
    let encs = encoders();
    for text in [
        "",
        " ",
        "   ",
        "the player is playing",
        "The  Player   IS  ``playing``  ",
        "  leading and trailing  ",
        "▁already ▁marked▁",
        "日本語 中文字 한국어 アイウー",
        "unknown: ζωή Ж ק ع 🙂 𝔘",
        "zzz qqq ζζζ",
        "e\u{301} ü ü ß ﬁ ① Ａ",
        "\r\n\r\n x \t y \u{a0} z \u{3000}",
        "<unk> <s>x</s> a<unk>b",
        // Added tokens cut the text; the pieces between run natively (not with the `first` prepend scheme).
        "<s>",
        "<s> the player",
        " <s>the",
        "the</s>",
        "the </s> player <s> is  playing",
        "</s></s>x  </s> ",
        "\u{ffff} a\u{ffff}b",
        "_under_score_",
        "!!!...???",
    ] {
        check(encs, text).unwrap();
    }
}

/// Every character of the first planes, alone and between known letters: exercises each normalizer and the
/// unknown/byte-fallback paths on every code point.
#[test]
fn every_character() {
    let encs = encoders();
    let mut text = String::new();
    for cp in (0u32..0x3_0000).step_by(7).chain(0xE_0000..0xE_0080) {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        text.clear();
        text.push(c);
        text.push_str(" a");
        text.push(c);
        text.push('b');
        check(encs, &text).unwrap();
    }
}

#[test]
fn unsupported_configurations_run_the_crate() {
    let regex = tokenizer(
        json!({"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "#"}),
        metaspace("always", true),
        vocab(&[]),
        json!(0),
        false,
    );
    let whitespace = tokenizer(
        json!({"type": "NFKC"}),
        json!({"type": "Whitespace"}),
        vocab(&[]),
        json!(0),
        false,
    );
    let bert = tokenizer(
        json!({"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
               "strip_accents": null, "lowercase": true}),
        metaspace("always", true),
        vocab(&[]),
        json!(0),
        false,
    );
    let first_after_strip = tokenizer(
        json!({"type": "Strip", "strip_left": true, "strip_right": false}),
        metaspace("first", true),
        vocab(&[]),
        json!(0),
        false,
    );
    for j in [regex, whitespace, bert, first_after_strip] {
        let enc = TextEncoder::from_json(&j).unwrap();
        assert_eq!(enc.backend(), "tokenizers");
        assert!(!enc.token_ids("the 123 abc").unwrap().is_empty());
    }
}

#[test]
fn missing_unknown_token_is_the_crates_error() {
    let j = tokenizer(
        json!({"type": "NFKC"}),
        metaspace("always", true),
        vocab(&[]),
        Value::Null,
        false,
    );
    let enc = TextEncoder::from_json(&j).unwrap();
    assert_eq!(enc.backend(), "native-unigram");
    assert!(!enc.token_ids("the abc").unwrap().is_empty());
    let err = enc.token_ids("the ζ").unwrap_err().to_string();
    assert!(err.contains("nk"), "{err}");
}

#[test]
fn invalid_definitions_are_errors() {
    let bad_unk = tokenizer(
        json!({"type": "NFKC"}),
        metaspace("always", true),
        vocab(&[]),
        json!(100_000),
        false,
    );
    assert!(TextEncoder::from_json(&bad_unk).is_err());
    let bad_norm = tokenizer(
        json!({"type": "Precompiled", "precompiled_charsmap": "not base64!"}),
        metaspace("always", true),
        vocab(&[]),
        json!(0),
        false,
    );
    assert!(TextEncoder::from_json(&bad_norm).is_err());
    // A charsmap that decodes but is not one: refused at load or at encode, never a panic.
    let garbage = tokenizer(
        json!({"type": "Precompiled", "precompiled_charsmap": "AAAAAAAAAAAAAAAA"}),
        metaspace("always", true),
        vocab(&[]),
        json!(0),
        false,
    );
    if let Ok(enc) = TextEncoder::from_json(&garbage) {
        let _ = enc.token_ids("the abc ζ");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn same_ids_as_the_crate(text in "[a-e the▁ ._!ζü日本語한ー\u{301}\u{ffff}\r\n\t<>s/unk]{0,40}") {
        let encs = encoders();
        check(encs, &text)?;
    }

    #[test]
    fn same_ids_as_the_crate_on_any_text(text in "\\PC{0,30}") {
        let encs = encoders();
        check(encs, &text)?;
    }
}

/// The facts read from the file without the crate agree with the crate's: vocabulary size, unknown id and
/// the median token length model2vec's text cut uses.
#[test]
fn file_facts_match_the_crate() {
    for enc in encoders() {
        let tok = enc.tokenizer().unwrap();
        let vocab = tok.get_vocab(true);
        assert_eq!(
            enc.vocab_size(),
            *vocab.values().max().unwrap() as usize + 1
        );
        let mut lengths: Vec<usize> = vocab.keys().map(|k| k.chars().count()).collect();
        lengths.sort_unstable();
        let n = lengths.len();
        let median = if n % 2 == 1 {
            lengths[n / 2]
        } else {
            (lengths[n / 2 - 1] + lengths[n / 2]) / 2
        };
        assert_eq!(enc.median_token_chars().unwrap(), median);
    }
}
