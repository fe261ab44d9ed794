//! `TextEncoder` with a tiny WordPiece `tokenizer.json` written inline (BERT normalizer and pre-tokenizer).

mod common;

use staticemb_core::{Error, Kernel, PoolOptions, Table, TextEncoder, Threads, Truncation};

/// A bert-style tokenizer with 16 ids. Its file asks for truncation to 2 tokens, padding to 8 and [CLS]/[SEP]
/// around every text: the encoder must switch all three off.
const TOKENIZER: &str = r###"{
  "version": "1.0",
  "truncation": {"direction": "Right", "max_length": 2, "strategy": "LongestFirst", "stride": 0},
  "padding": {"strategy": {"Fixed": 8}, "direction": "Right", "pad_to_multiple_of": null,
              "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
  "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                 "strip_accents": null, "lowercase": true},
  "pre_tokenizer": {"type": "BertPreTokenizer"},
  "post_processor": {
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
             {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
             {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
    "special_tokens": {
      "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
      "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
    }
  },
  "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
  "model": {
    "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
    "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "play": 6, "##ing": 7,
              "##ed": 8, "the": 9, "cat": 10, ",": 11, "!": 12, "a": 13, "中": 14, "##s": 15}
  }
}"###;

const VOCAB: usize = 16;
const PAD: u32 = 0;
const UNK: u32 = 1;
const CLS: u32 = 2;
const SEP: u32 = 3;
const HELLO: u32 = 4;
const WORLD: u32 = 5;
const PLAY: u32 = 6;
const ING: u32 = 7;
const ED: u32 = 8;
const THE: u32 = 9;
const CAT: u32 = 10;
const COMMA: u32 = 11;
const BANG: u32 = 12;
const ZHONG: u32 = 14;
const S: u32 = 15;

const WIDTH: usize = 12;

/// `rows` x WIDTH; every value distinct and exact in f32.
fn table_data(rows: usize) -> Vec<f32> {
    (0..rows * WIDTH)
        .map(|i| ((i * 37) % 101) as f32 - 50.0)
        .collect()
}

/// Mean of `(weight, row)` pairs over `dim` columns, divided by `count`, in f64; optionally L2-normalized.
fn expected(
    data: &[f32],
    rows: &[(f32, u32)],
    count: usize,
    dim: usize,
    normalize: bool,
) -> Vec<f64> {
    let mut v = vec![0.0f64; dim];
    for &(w, r) in rows {
        for (c, x) in v.iter_mut().enumerate() {
            *x += w as f64 * data[r as usize * WIDTH + c] as f64;
        }
    }
    if count > 0 {
        v.iter_mut().for_each(|x| *x /= count as f64);
    }
    if normalize {
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
    }
    v
}

fn unweighted(rows: &[u32]) -> Vec<(f32, u32)> {
    rows.iter().map(|&r| (1.0, r)).collect()
}

fn opts(dim: usize, normalize: bool, threads: Threads) -> PoolOptions {
    PoolOptions {
        dim,
        normalize,
        threads,
        kernel: Kernel::detect(),
    }
}

fn encode(enc: &TextEncoder, texts: &[&str], data: &[f32], o: &PoolOptions) -> Vec<f32> {
    let table = Table::new(data, data.len() / WIDTH, WIDTH).unwrap();
    let mut out = vec![f32::NAN; texts.len() * o.dim];
    enc.encode(texts, &table, o, &mut out).expect("encode");
    out
}

fn assert_vec(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{what}: column {i}: got {g}, expected {w}"
        );
    }
}

#[test]
fn tokenizer_ids_are_what_the_tests_assume() {
    let enc = TextEncoder::from_json(TOKENIZER).unwrap();
    assert_eq!(enc.vocab_size(), VOCAB);
    assert_eq!(enc.required_rows(), VOCAB);
    let cases: &[(&str, &[u32])] = &[
        ("Hello, World!", &[HELLO, COMMA, WORLD, BANG]),
        ("playing played plays", &[PLAY, ING, PLAY, ED, PLAY, S]),
        ("the cat", &[THE, CAT]),
        ("THE\tCat\n", &[THE, CAT]),
        ("xyz", &[UNK]),
        ("hello xyz world", &[HELLO, UNK, WORLD]),
        ("中", &[ZHONG]),
        ("中文", &[ZHONG, UNK]),
        ("Héllo", &[HELLO]),
        ("he\u{301}llo", &[HELLO]), // combining acute accent, stripped with lowercase
        ("", &[]),
        ("   \t\n ", &[]),
    ];
    for (text, ids) in cases {
        assert_eq!(enc.token_ids(text).unwrap(), *ids, "{text:?}");
    }
    // No truncation to 2, no padding to 8 and no [CLS]/[SEP]: pad/cls/sep never appear.
    let long = enc
        .token_ids("the cat the cat the cat the cat the cat")
        .unwrap();
    assert_eq!(long.len(), 10);
    assert!(!long.iter().any(|id| [PAD, CLS, SEP].contains(id)));
}

#[test]
fn encode_is_the_mean_of_token_rows() {
    let enc = TextEncoder::from_json(TOKENIZER).unwrap();
    let data = table_data(VOCAB);
    let texts = [
        "Hello, World!",
        "playing played",
        "the cat",
        "xyz",
        "",
        "hello hello world",
    ];
    let rows: [&[u32]; 6] = [
        &[HELLO, COMMA, WORLD, BANG],
        &[PLAY, ING, PLAY, ED],
        &[THE, CAT],
        &[UNK],
        &[],
        &[HELLO, HELLO, WORLD],
    ];
    for threads in [Threads::Current, Threads::Fixed(2)] {
        for normalize in [false, true] {
            for dim in [WIDTH, 5, 1] {
                let out = encode(&enc, &texts, &data, &opts(dim, normalize, threads));
                for (i, r) in rows.iter().enumerate() {
                    let want = expected(&data, &unweighted(r), r.len(), dim, normalize);
                    assert_vec(
                        &out[i * dim..(i + 1) * dim],
                        &want,
                        &format!("{:?} dim {dim} norm {normalize}", texts[i]),
                    );
                }
                // The empty text is a zero vector, normalized or not.
                assert!(out[4 * dim..5 * dim].iter().all(|&x| x == 0.0));
            }
        }
    }
    let mut none: Vec<f32> = vec![];
    enc.encode(
        &[],
        &Table::new(&data, VOCAB, WIDTH).unwrap(),
        &opts(WIDTH, false, Threads::Auto),
        &mut none,
    )
    .unwrap();
}

#[test]
fn dropping_the_unknown_token() {
    let enc = TextEncoder::new(TOKENIZER, None, None, true).unwrap();
    assert_eq!(enc.required_rows(), VOCAB);
    let data = table_data(VOCAB);
    let out = encode(
        &enc,
        &["xyz qqq", "hello xyz world", "😀 中文"],
        &data,
        &opts(WIDTH, true, Threads::Current),
    );
    assert!(
        out[..WIDTH].iter().all(|&x| x == 0.0),
        "only unknown tokens: zeros, {:?}",
        &out[..WIDTH]
    );
    // Mean over the two kept tokens, not three.
    assert_vec(
        &out[WIDTH..2 * WIDTH],
        &expected(&data, &unweighted(&[HELLO, WORLD]), 2, WIDTH, true),
        "mixed",
    );
    assert_vec(
        &out[2 * WIDTH..],
        &expected(&data, &unweighted(&[ZHONG]), 1, WIDTH, true),
        "emoji and CJK",
    );
    // token_ids is the tokenizer's own output: dropped ids are still there.
    assert_eq!(enc.token_ids("hello xyz").unwrap(), [HELLO, UNK]);
    assert_eq!(enc.dropped_unknown(), Some(UNK));
    assert_eq!(enc.unknown_token(), Some(UNK));
    let kept = TextEncoder::new(TOKENIZER, None, None, false).unwrap();
    assert_eq!(kept.dropped_unknown(), None);
    // The unknown token is known whether or not it is dropped.
    assert_eq!(kept.unknown_token(), Some(UNK));
}

/// model2vec layout: id -> row mapping into a smaller table, per-id weights, unknown token dropped.
fn mapping() -> Vec<i64> {
    // Ids 0..4 (special) share row 0; words map to rows 1..=6, several ids share a row.
    vec![0, 0, 0, 0, 3, 1, 2, 4, 4, 5, 6, 1, 1, 6, 2, 3]
}

fn token_weights() -> Vec<f32> {
    (0..VOCAB).map(|i| 0.25 * i as f32 - 1.0).collect()
}

#[test]
fn mapping_and_weights() {
    let m = mapping();
    let w = token_weights();
    let enc = TextEncoder::new(TOKENIZER, Some(&m), Some(&w), true).unwrap();
    assert_eq!(enc.required_rows(), 7);
    let data = table_data(7);
    let texts = ["Hello, World!", "hello xyz world", "xyz", "playing"];
    let out = encode(&enc, &texts, &data, &opts(WIDTH, false, Threads::Current));
    let row = |id: u32| (w[id as usize], m[id as usize] as u32);
    let cases: [Vec<(f32, u32)>; 4] = [
        vec![row(HELLO), row(COMMA), row(WORLD), row(BANG)],
        vec![row(HELLO), row(WORLD)], // [UNK] dropped: its weight must not be used, count is 2
        vec![],
        vec![row(PLAY), row(ING)],
    ];
    for (i, c) in cases.iter().enumerate() {
        assert_vec(
            &out[i * WIDTH..(i + 1) * WIDTH],
            &expected(&data, c, c.len(), WIDTH, false),
            texts[i],
        );
    }

    // Weights without a mapping: rows are ids.
    let enc = TextEncoder::new(TOKENIZER, None, Some(&w), false).unwrap();
    let data16 = table_data(VOCAB);
    let out = encode(
        &enc,
        &["hello xyz world"],
        &data16,
        &opts(WIDTH, false, Threads::Current),
    );
    let c = [(w[4], HELLO), (w[1], UNK), (w[5], WORLD)];
    assert_vec(
        &out,
        &expected(&data16, &c, 3, WIDTH, false),
        "weights, identity rows",
    );

    // A mapping without weights, nothing dropped: [UNK] maps to row 0.
    let enc = TextEncoder::new(TOKENIZER, Some(&m), None, false).unwrap();
    let out = encode(
        &enc,
        &["hello xyz"],
        &data,
        &opts(WIDTH, false, Threads::Current),
    );
    assert_vec(
        &out,
        &expected(&data, &[(1.0, 3), (1.0, 0)], 2, WIDTH, false),
        "mapping only",
    );
}

#[test]
fn table_checks() {
    let m = mapping();
    let enc = TextEncoder::new(TOKENIZER, Some(&m), None, false).unwrap();
    let small = table_data(6);
    let table = Table::new(&small, 6, WIDTH).unwrap();
    let mut out = vec![0.0; WIDTH];
    assert!(matches!(enc.check_table(&table), Err(Error::Vocab(_))));
    let r = enc.encode(
        &["hello"],
        &table,
        &opts(WIDTH, false, Threads::Current),
        &mut out,
    );
    assert!(matches!(r, Err(Error::Vocab(_))), "{r:?}");

    let plain = TextEncoder::from_json(TOKENIZER).unwrap();
    let data = table_data(VOCAB - 1);
    let table = Table::new(&data, VOCAB - 1, WIDTH).unwrap();
    assert!(matches!(plain.check_table(&table), Err(Error::Vocab(_))));
    let data = table_data(VOCAB + 5);
    let table = Table::new(&data, VOCAB + 5, WIDTH).unwrap();
    assert!(plain.check_table(&table).is_ok(), "a larger table is fine");

    let r = plain.encode(
        &["a"],
        &table,
        &opts(WIDTH + 1, false, Threads::Current),
        &mut [0.0; WIDTH + 1],
    );
    assert!(matches!(r, Err(Error::Dim { .. })), "{r:?}");
    let r = plain.encode(&["a"], &table, &opts(0, false, Threads::Current), &mut []);
    assert!(matches!(r, Err(Error::Dim { dim: 0, .. })), "{r:?}");
    let r = plain.encode(
        &["a", "b"],
        &table,
        &opts(WIDTH, false, Threads::Current),
        &mut [0.0; WIDTH],
    );
    assert!(
        matches!(r, Err(Error::Output { len: WIDTH, expected }) if expected == 2 * WIDTH),
        "{r:?}"
    );
}

#[test]
fn bad_maps_and_bad_json() {
    let w = token_weights();
    let m = mapping();
    let err = |r: Result<TextEncoder, Error>| r.err().expect("should fail");
    assert!(matches!(
        err(TextEncoder::new(
            TOKENIZER,
            Some(&m[..VOCAB - 1]),
            None,
            false
        )),
        Error::Vocab(_)
    ));
    let mut neg = m.clone();
    neg[3] = -1;
    assert!(matches!(
        err(TextEncoder::new(TOKENIZER, Some(&neg), None, false)),
        Error::Vocab(_)
    ));
    let mut huge = m.clone();
    huge[3] = u32::MAX as i64;
    assert!(matches!(
        err(TextEncoder::new(TOKENIZER, Some(&huge), None, false)),
        Error::Vocab(_)
    ));
    huge[3] = i64::MAX;
    assert!(matches!(
        err(TextEncoder::new(TOKENIZER, Some(&huge), None, false)),
        Error::Vocab(_)
    ));
    assert!(matches!(
        err(TextEncoder::new(TOKENIZER, None, Some(&w[..3]), false)),
        Error::Vocab(_)
    ));
    let mut nan = w.clone();
    nan[7] = f32::NAN;
    assert!(matches!(
        err(TextEncoder::new(TOKENIZER, None, Some(&nan), false)),
        Error::Vocab(_)
    ));
    nan[7] = f32::INFINITY;
    assert!(matches!(
        err(TextEncoder::new(TOKENIZER, None, Some(&nan), false)),
        Error::Vocab(_)
    ));

    assert!(matches!(
        err(TextEncoder::from_json("")),
        Error::Tokenizer(_)
    ));
    assert!(matches!(
        err(TextEncoder::from_json("{\"model\": 3}")),
        Error::Tokenizer(_)
    ));
    assert!(matches!(
        err(TextEncoder::from_json(&TOKENIZER[..TOKENIZER.len() / 2])),
        Error::Tokenizer(_)
    ));
}

#[test]
fn hard_texts_encode_without_error() {
    let enc = TextEncoder::new(TOKENIZER, None, None, true).unwrap();
    let data = table_data(VOCAB);
    let big_words = "hello world ".repeat(1 << 20 >> 4); // 786 KB of words
    let mut megabyte = String::with_capacity(1 << 20);
    while megabyte.len() < (1 << 20) {
        megabyte.push_str("Hello, 世界! e\u{301}\u{0}\u{7}😀👩‍👩‍👧 the cat\r\n");
    }
    let one_word = "a".repeat(1 << 20); // longer than max_input_chars_per_word: one [UNK]
    let texts: Vec<&str> = vec![
        &big_words,
        &megabyte,
        &one_word,
        "😀😀😀",
        "\u{0}\u{1}\u{2}\u{7f}\u{feff}\u{200b}\u{fffd}",
        "\u{301}\u{301}\u{301}",
        "汉字とかなと한국어",
        "hello\u{0}world",
        "\u{10FFFF}\u{E000}",
    ];
    // Each result is the normalized mean of the kept rows of the tokenizer's own ids.
    let wants: Vec<Vec<f64>> = texts
        .iter()
        .map(|t| {
            let kept: Vec<u32> = enc
                .token_ids(t)
                .unwrap()
                .into_iter()
                .filter(|&id| id != UNK)
                .collect();
            expected(&data, &unweighted(&kept), kept.len(), WIDTH, true)
        })
        .collect();
    for threads in [Threads::Current, Threads::Fixed(3)] {
        let o = opts(WIDTH, true, threads);
        let out = encode(&enc, &texts, &data, &o);
        assert!(out.iter().all(|x| x.is_finite()));
        for (i, want) in wants.iter().enumerate() {
            assert_vec(&out[i * WIDTH..(i + 1) * WIDTH], want, &format!("text {i}"));
        }
        let want = expected(&data, &unweighted(&[HELLO, WORLD]), 2, WIDTH, true);
        assert_vec(&out[..WIDTH], &want, "1 MB of hello world");
        assert!(
            out[2 * WIDTH..3 * WIDTH].iter().all(|&x| x == 0.0),
            "one over-long word is unknown"
        );
    }
}

#[test]
fn encoder_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TextEncoder>();
    let enc = TextEncoder::from_json(TOKENIZER).unwrap();
    let data = table_data(VOCAB);
    let texts: Vec<String> = (0..2000)
        .map(|i| format!("hello {} cat{} xyz played", "the ".repeat(i % 7), i % 3))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = encode(&enc, &texts, &data, &opts(WIDTH, true, Threads::Current));
    std::thread::scope(|s| {
        for i in 0..8 {
            let (enc, texts, data, want) = (&enc, &texts, &data, &want);
            s.spawn(move || {
                let t = [Threads::Auto, Threads::Fixed(2), Threads::Current][i % 3];
                assert!(
                    encode(enc, texts, data, &opts(WIDTH, true, t)) == *want,
                    "caller {i} with {t:?}"
                );
            });
        }
    });
}

#[test]
fn required_rows_ignores_mapping_entries_past_the_vocabulary() {
    // A mapping may be longer than the tokenizer's vocabulary; entries the tokenizer can never produce
    // should not raise the table height that check_table demands.
    let mut m = mapping();
    m.push(1000);
    let enc = TextEncoder::new(TOKENIZER, Some(&m), None, false).unwrap();
    assert_eq!(enc.required_rows(), 7);
}

#[test]
fn token_ids_match_the_tokenizers_own_encode() {
    // `token_ids` reads ids straight from the pre-tokenized splits; it must agree with
    // `Tokenizer::encode_fast(text, false)` on everything, added/special tokens in the text included.
    let enc = TextEncoder::from_json(TOKENIZER).unwrap();
    let texts = [
        "",
        "Hello, World!",
        "playing played plays xyz",
        "[CLS] hello [SEP]",
        "hello[UNK]world [unk] [PAD][PAD]",
        "  leading and trailing  ",
        "中文 汉字とかなと한국어 😀👩‍👩‍👧",
        "e\u{301}\u{0}\u{7}\u{feff}\u{200b}\u{fffd}",
        "THE\tCat\r\nthe cat!!!,,,",
    ];
    for text in texts {
        let want = enc.tokenizer().unwrap().encode_fast(text, false).unwrap();
        assert_eq!(enc.token_ids(text).unwrap(), want.get_ids(), "{text:?}");
    }
    let long = "hello world, the cat played! ".repeat(5000);
    let want = enc
        .tokenizer()
        .unwrap()
        .encode_fast(long.as_str(), false)
        .unwrap();
    assert_eq!(enc.token_ids(&long).unwrap(), want.get_ids());
}

#[test]
fn a_tokenizer_definition_that_panics_the_crate_is_an_error() {
    // `tokenizers` `expect`s while deserializing this decoder (a raw control character inside a string).
    let bad = TOKENIZER.replacen("\"prefix\": \"##\"", "\"prefix\": \"\u{1}\"", 1);
    assert_ne!(bad, TOKENIZER);
    match TextEncoder::from_json(&bad) {
        Err(Error::Tokenizer(msg)) => assert!(msg.contains("panicked"), "{msg}"),
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn truncation_keeps_the_first_or_last_tokens_before_the_token_map() {
    let enc = TextEncoder::new(TOKENIZER, None, None, true).unwrap();
    let data = table_data(VOCAB);
    let table = Table::new(&data, VOCAB, WIDTH).unwrap();
    let o = opts(WIDTH, false, Threads::Current);
    let run = |t: Truncation| {
        let mut out = vec![f32::NAN; WIDTH];
        enc.encode_truncated(&["hello xyz world the cat"], &table, &o, t, &mut out)
            .unwrap();
        out
    };
    // ids: hello [UNK] world the cat; the unknown token is dropped after truncation, as model2vec does.
    let first = run(Truncation {
        max_tokens: Some(2),
        keep_end: false,
    });
    assert_vec(
        &first,
        &expected(&data, &unweighted(&[HELLO]), 1, WIDTH, false),
        "first two",
    );
    let last = run(Truncation {
        max_tokens: Some(2),
        keep_end: true,
    });
    assert_vec(
        &last,
        &expected(&data, &unweighted(&[THE, CAT]), 2, WIDTH, false),
        "last two",
    );
    let all = run(Truncation {
        max_tokens: Some(100),
        keep_end: false,
    });
    assert_eq!(all, encode(&enc, &["hello xyz world the cat"], &data, &o));
    // The test tokenizer's file asks for 2 tokens from the right.
    assert_eq!(
        enc.file_truncation(),
        Some(Truncation {
            max_tokens: Some(2),
            keep_end: false
        })
    );
    let truncating = TOKENIZER.replacen(
        "\"direction\": \"Right\", \"max_length\": 2",
        "\"direction\": \"Left\", \"max_length\": 3",
        1,
    );
    assert_ne!(truncating, TOKENIZER);
    let enc = TextEncoder::from_json(&truncating).unwrap();
    assert_eq!(
        enc.file_truncation(),
        Some(Truncation {
            max_tokens: Some(3),
            keep_end: true
        })
    );
    // The file's truncation is reported, never applied by itself.
    assert_eq!(enc.token_ids("hello xyz world the cat").unwrap().len(), 5);
    assert!(enc.median_token_chars().unwrap() >= 1);
}

/// Texts that repeat tokens (and, through a mapping, rows) pool to the mean over every token, counted as often
/// as it occurs, with or without a mapping, weights, a dropped unknown token, normalization, and bags longer
/// than `BLOCK_ROWS`: whatever way the gather treats repeats, the vector must not change.
#[test]
fn repeated_tokens_give_the_mean_over_every_token() {
    let m = mapping();
    let w = token_weights();
    let repeated = "the cat the cat, the cat! hello hello hello world xyz xyz the";
    let short = "the the the"; // a short bag of one row
    let long = "the cat hello world ".repeat(700); // 2,800 tokens, 4 distinct
    let distinct = "hello world the cat , ! a playing played"; // nothing repeats
    let texts = [repeated, short, long.as_str(), distinct];
    let ids: Vec<Vec<u32>> = {
        let plain = TextEncoder::from_json(TOKENIZER).unwrap();
        texts.iter().map(|t| plain.token_ids(t).unwrap()).collect()
    };
    assert!(ids[0].len() >= 8 && ids[0].contains(&UNK));
    assert_eq!(ids[2].len(), 2800);
    for (map, weights, drop) in [
        (None, None, false),
        (None, Some(&w), false),
        (Some(&m), None, true),
        (Some(&m), Some(&w), true),
    ] {
        let enc = TextEncoder::new(
            TOKENIZER,
            map.map(Vec::as_slice),
            weights.map(Vec::as_slice),
            drop,
        )
        .unwrap();
        let data = table_data(enc.required_rows());
        for normalize in [false, true] {
            for dim in [WIDTH, 5] {
                let o = opts(dim, normalize, Threads::Fixed(2));
                let out = encode(&enc, &texts, &data, &o);
                for (i, text_ids) in ids.iter().enumerate() {
                    let kept: Vec<(f32, u32)> = text_ids
                        .iter()
                        .filter(|&&id| !(drop && id == UNK))
                        .map(|&id| {
                            let row = map.map_or(id, |m| m[id as usize] as u32);
                            (weights.map_or(1.0, |w| w[id as usize]), row)
                        })
                        .collect();
                    let want = expected(&data, &kept, kept.len(), dim, normalize);
                    let what = format!(
                        "text {i}, map {}, weights {}, dim {dim}, normalize {normalize}",
                        map.is_some(),
                        weights.is_some()
                    );
                    assert_vec(&out[i * dim..(i + 1) * dim], &want, &what);
                }
            }
        }
    }
}

#[test]
fn encoding_into_uninitialized_memory_writes_every_value_as_encode_does() {
    let enc = TextEncoder::new(TOKENIZER, None, None, true).unwrap();
    let data = table_data(VOCAB);
    let table = Table::new(&data, VOCAB, WIDTH).unwrap();
    // Enough texts for several worker chunks, including empty ones (zero rows) and unknown-only ones.
    let base = [
        "hello world",
        "",
        "the cat, playing!",
        "xyz",
        "played cats the hello",
    ];
    let texts: Vec<&str> = (0..1_000).map(|i| base[i % base.len()]).collect();
    for dim in [1, 5, WIDTH] {
        for threads in [Threads::Current, Threads::Fixed(2)] {
            let o = opts(dim, dim == 5, threads);
            let t = Truncation {
                max_tokens: Some(3),
                keep_end: dim == 1,
            };
            let mut want = vec![f32::NAN; texts.len() * dim];
            enc.encode_truncated(&texts, &table, &o, t, &mut want)
                .unwrap();
            // A recycled buffer full of NaN stands for memory that was never initialized.
            let mut buf: Vec<f32> = vec![f32::NAN; texts.len() * dim];
            buf.clear();
            let spare = &mut buf.spare_capacity_mut()[..texts.len() * dim];
            enc.encode_truncated_uninit(&texts, 0, &table, &o, t, spare)
                .unwrap();
            // SAFETY: `Ok` means every element of `spare` was written.
            unsafe { buf.set_len(texts.len() * dim) };
            assert_eq!(
                buf.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "dim {dim}, {threads:?}"
            );
        }
    }
    // The output length is checked as for an initialized buffer.
    let mut short = Vec::<f32>::with_capacity(3);
    let o = opts(WIDTH, false, Threads::Current);
    let err = enc
        .encode_truncated_uninit(
            &["a"],
            0,
            &table,
            &o,
            Truncation::default(),
            &mut short.spare_capacity_mut()[..3],
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Output {
                len: 3,
                expected: 12
            }
        ),
        "{err}"
    );
}

#[test]
fn pooling_ids_into_uninitialized_memory_writes_every_value_as_pool_ids_does() {
    let data = table_data(VOCAB);
    let table = Table::new(&data, VOCAB, WIDTH).unwrap();
    let weights = token_weights();
    let enc = TextEncoder::new(TOKENIZER, None, Some(&weights), true).unwrap();
    // Bags of every length 0..7 over all ids, several worker chunks.
    let mut ids = Vec::new();
    let mut offsets = Vec::new();
    for b in 0..3_000u32 {
        offsets.push(ids.len() as i64);
        ids.extend((0..b % 7).map(|k| (b + k) % VOCAB as u32));
    }
    for dim in [1, 5, WIDTH] {
        for threads in [Threads::Current, Threads::Fixed(2)] {
            let o = opts(dim, dim == 5, threads);
            let mut want = vec![f32::NAN; offsets.len() * dim];
            enc.pool_ids(&table, &ids, &offsets, &o, &mut want).unwrap();
            let mut buf: Vec<f32> = vec![f32::NAN; offsets.len() * dim];
            buf.clear();
            let spare = &mut buf.spare_capacity_mut()[..offsets.len() * dim];
            enc.pool_ids_uninit(&table, &ids, &offsets, &o, spare)
                .unwrap();
            // SAFETY: `Ok` means every element of `spare` was written.
            unsafe { buf.set_len(offsets.len() * dim) };
            assert_eq!(
                buf.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "dim {dim}, {threads:?}"
            );
        }
    }
}
