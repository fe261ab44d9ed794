//! Differential tests: the native byte-level BPE must give exactly the ids of the `tokenizers` crate. The
//! vocabulary is small and synthetic (the 256 byte characters and merges chosen to collide: repeated pairs,
//! chains, merges across the pattern's pieces that must never apply); a real trained vocabulary is checked
//! from Python (`tests/test_native_bytelevel_bpe.py`) and by the `native` fuzz target.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use staticemb_core::TextEncoder;

/// GPT-2's byte -> character table.
fn byte_char(b: u8) -> char {
    let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable {
        return b as char;
    }
    let n = (0..=b)
        .filter(|&x| !matches!(x, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF))
        .count() as u32;
    char::from_u32(255 + n).unwrap()
}

fn mapped(s: &str) -> String {
    s.bytes().map(byte_char).collect()
}

fn tokenizer(pre: Value, normalizer: Value, ignore_merges: bool) -> String {
    let mut vocab = Map::new();
    for b in 0..=255u8 {
        vocab.insert(byte_char(b).to_string(), json!(vocab.len()));
    }
    let pairs = [
        (" ", "t"),
        ("h", "e"),
        (" t", "he"),
        ("i", "n"),
        ("in", "g"),
        ("e", "r"),
        ("'", "s"),
        ("a", "a"),
        ("aa", "a"),
        ("aa", "aa"),
        (" ", " "),
        ("  ", " "),
        ("\n", "\n"),
        ("1", "2"),
        ("12", "3"),
        ("é", "t"),
        ("日", "本"),
        ("e", "\u{301}"),
        (" ", "w"),
        (" w", "or"),
        ("o", "r"),
        ("or", "ld"),
        ("l", "d"),
    ];
    let mut merges = Vec::new();
    for (a, b) in pairs {
        let (ma, mb) = (mapped(a), mapped(b));
        for piece in [&ma, &mb] {
            if !vocab.contains_key(piece.as_str()) {
                // Multi-byte characters: their bytes merge first.
                let chars: Vec<char> = piece.chars().collect();
                let mut acc = chars[0].to_string();
                for c in &chars[1..] {
                    let next = format!("{acc}{c}");
                    if !vocab.contains_key(&next) {
                        merges.push(json!([acc.clone(), c.to_string()]));
                        vocab.insert(next.clone(), json!(vocab.len()));
                    }
                    acc = next;
                }
            }
        }
        let joined = format!("{ma}{mb}");
        if !vocab.contains_key(&joined) {
            vocab.insert(joined, json!(vocab.len()));
        }
        merges.push(json!([ma, mb]));
    }
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 0, "content": "<|end|>", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": null, "decoder": null,
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges},
    })
    .to_string()
}

fn byte_level(prefix: bool) -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": true, "use_regex": true})
}

fn encoders() -> &'static [TextEncoder] {
    static ENCODERS: OnceLock<Vec<TextEncoder>> = OnceLock::new();
    ENCODERS.get_or_init(|| {
        [
            tokenizer(byte_level(false), Value::Null, false),
            tokenizer(byte_level(true), json!({"type": "NFC"}), false),
            tokenizer(byte_level(false), Value::Null, true),
        ]
        .iter()
        .map(|j| {
            let enc = TextEncoder::from_json(j).unwrap();
            assert_eq!(enc.backend(), "native-bytelevel-bpe");
            enc
        })
        .collect()
    })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    for (k, enc) in encoders().iter().enumerate() {
        let mut native = Vec::new();
        enc.push_token_ids(text, &mut native, &mut Default::default())
            .unwrap();
        let reference = enc.tokenizer().unwrap().encode_fast(text, false).unwrap();
        prop_assert_eq!(
            native.as_slice(),
            reference.get_ids(),
            "encoder {} text {:?}",
            k,
            text
        );
    }
    Ok(())
}

#[test]
fn fixed_cases() {
    for text in [
        "",
        " ",
        "  ",
        "the weather",
        " the",
        "aaaaaaa aaaa",
        "it's we'll I'd 'S 'sx",
        "a  b   c\n\n d\t\te",
        "123123 12 3",
        "été e\u{301}t 日本語",
        "<|end|> the",
        "x \u{3000}y\u{a0}z\u{85}",
        "\u{1c}\u{1d} world",
        "hello world!!! ?? ...",
        "🙂 🇫🇷",
        "\r\n\r\n",
    ] {
        check(text).unwrap();
    }
}

/// Every code point of the first planes inside a small context: each class decision against Oniguruma's.
#[test]
fn every_character() {
    let mut text = String::new();
    for cp in (0u32..0x3_0000).step_by(5) {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        text.clear();
        text.push(c);
        text.push_str(" a");
        text.push(c);
        text.push_str("1 ");
        text.push(c);
        check(&text).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn same_ids_on_pattern_edges(text in "(the|he|'s|'S|'ll|'x|a|aa| |  |\t|\n|1|23|é|e\u{301}|日本|!|\u{3000}|\u{85}|<\\|end\\|>){0,16}") {
        check(&text)?;
    }

    #[test]
    fn same_ids_on_any_text(text in "\\PC{0,30}") {
        check(&text)?;
    }
}
