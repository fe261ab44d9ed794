/// A BERT-style `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece) with a vocabulary that has
/// whole words, `##` continuations, accented and CJK pieces, digits and punctuation, so that greedy matching,
/// unknown words, normalization and added-token handling are all exercised. Shared by the differential
/// tests and the fuzz target.
pub fn bert_like_tokenizer_json(lowercase: bool, strip_accents: Option<bool>) -> String {
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let words = [
        "the",
        "a",
        "an",
        "play",
        "player",
        "playing",
        "un",
        "able",
        "static",
        "embed",
        "embedding",
        "model",
        "fast",
        "token",
        "izer",
        "hello",
        "world",
        "café",
        "naïve",
        "über",
        "日本",
        "中",
        "文",
        "é",
        "ü",
        "ñ",
        "ß",
        "σ",
        "ς",
        "α",
        "ω",
        "i",
        "İ",
        "x",
        "xx",
        "xxx",
        "0",
        "1",
        "12",
        "123",
        "9",
    ];
    let pieces = [
        "s", "ed", "ing", "er", "able", "ly", "e", "x", "xx", "1", "2", "3", "é", "本", "ü", "a",
        "b", "c",
    ];
    for w in words {
        vocab.push(w.to_string());
    }
    for c in 'a'..='z' {
        vocab.push(c.to_string());
        vocab.push(format!("##{c}"));
    }
    for p in pieces {
        vocab.push(format!("##{p}"));
    }
    for c in "!#$%&'()*+,-./:;<=>?@[]^_`{|}~¡¿«»—–…。，、".chars() {
        vocab.push(c.to_string());
    }
    vocab.sort();
    vocab.dedup();
    let entries: Vec<String> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| format!("\"{}\": {i}", t.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    let id = |t: &str| vocab.iter().position(|v| v == t).unwrap();
    let added: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|t| {
            format!(
                "{{\"id\": {}, \"content\": \"{t}\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \
                 \"normalized\": false, \"special\": true}}",
                id(t)
            )
        })
        .collect();
    let strip = match strip_accents {
        None => "null".to_string(),
        Some(b) => b.to_string(),
    };
    format!(
        r###"{{"version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [{added}],
  "normalizer": {{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                  "strip_accents": {strip}, "lowercase": {lowercase}}},
  "pre_tokenizer": {{"type": "BertPreTokenizer"}},
  "post_processor": null, "decoder": null,
  "model": {{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
             "max_input_chars_per_word": 12, "vocab": {{{vocab}}}}}}}"###,
        added = added.join(", "),
        vocab = entries.join(", "),
    )
}
