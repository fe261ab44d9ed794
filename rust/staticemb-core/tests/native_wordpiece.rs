//! Differential tests: the native WordPiece must give exactly the ids of the `tokenizers` crate.

#[path = "common/bert_like.rs"]
mod bert_like;

use proptest::prelude::*;
use staticemb_core::TextEncoder;

fn encoders() -> Vec<TextEncoder> {
    let mut out = Vec::new();
    for lowercase in [true, false] {
        for strip in [None, Some(true), Some(false)] {
            let enc =
                TextEncoder::from_json(&bert_like::bert_like_tokenizer_json(lowercase, strip))
                    .unwrap();
            assert_eq!(enc.backend(), "native-wordpiece");
            out.push(enc);
        }
    }
    out
}

fn check(encoders: &[TextEncoder], text: &str) -> Result<(), TestCaseError> {
    for enc in encoders {
        let mut native = Vec::new();
        let mut scratch = Default::default();
        enc.push_token_ids(text, &mut native, &mut scratch).unwrap();
        let mut reference = Vec::new();
        enc.push_token_ids_crate(text, &mut reference).unwrap();
        prop_assert_eq!(&native, &reference, "text {:?}", text);
        // The crate's own public entry point agrees too.
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
        "The player is playing, unable to play!",
        "CAFÉ naïve Über ÜBER ß İstanbul ΣΟΦΟΣ σοφος",
        "日本中文 字 本本",
        "[CLS] hello [SEP] world [MASK]",
        "[cls] lower",
        "xxxxxxxxxxxx xxxxxxxxxxxxx",
        "a\u{301} e\u{301} \u{301}\u{302} combining",
        "\u{0}\u{1}\u{7f} \u{fffd} \u{200b}\u{feff} \u{a0}\u{2003}\u{3000}",
        "123 1234 12a a12 ... ¿¡ «quoted» — dash … 。，",
        "ﬁ ﬀ Ⅻ ① ＡＢＣ",
        // Marks that strip_accents keeps and canonical reordering moves: the per-character table flags them.
        "\u{1D165}\u{1D167} x\u{1D16D}\u{1D165}\u{301} \u{1D15E}\u{1D172}\u{0334}",
        "e\u{0323}\u{0302} \u{1EC7} \u{0915}\u{093C}\u{094D} \u{1F82}\u{0345} \u{AC00}\u{11A8}",
        // Beyond the table: plane 3 and above, tags, private use.
        "\u{30000}\u{31350} \u{E0041}\u{E007F} \u{F0000} a\u{E0100}b",
    ] {
        check(&encs, text).unwrap();
    }
}

/// Every character of the precomputed table's range on its own, and after a letter and before a mark, so that
/// each table entry (and each character's class) is checked against the crate.
#[test]
fn every_character_of_the_table() {
    let encs = encoders();
    let mut text = String::new();
    for cp in (0x80u32..0x3_0000).chain(0xE_0000..0xE_0200) {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        for context in [["", ""], ["a", "\u{301}"], ["\u{301}", "b"]] {
            text.clear();
            text.push_str(context[0]);
            text.push(c);
            text.push_str(context[1]);
            check(&encs, &text).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn marks_and_letters(text in "([a-zA-Zé日]|[\u{300}-\u{36F}]|[\u{1D165}-\u{1D16D}]|[\u{1D17B}-\u{1D182}]|[\u{0900}-\u{097F}]|[\u{1F00}-\u{1FFF}]|[\u{AC00}-\u{AC10}]|[\u{1100}-\u{11FF}]| ){0,30}") {
        check(&ENCODERS.with(|e| e.clone()), &text)?;
    }

    #[test]
    fn any_unicode(text in any::<String>()) {
        check(&ENCODERS.with(|e| e.clone()), &text)?;
    }

    #[test]
    fn word_like(text in "([a-zA-Z]{1,14}|[éüñßσςİ日本中文]{1,3}|[0-9]{1,4}|[ .,!?'\\[\\]#-]|\\[(CLS|SEP|MASK|PAD|UNK)\\]|\u{301}|\u{a0}|\t|\n){0,40}") {
        check(&ENCODERS.with(|e| e.clone()), &text)?;
    }
}

thread_local! {
    static ENCODERS: std::rc::Rc<Vec<TextEncoder>> = std::rc::Rc::new(encoders());
}

/// A WordPiece `tokenizer.json` over `pieces` (word-initial) and `cont` (continuations, without `##`), lower
/// case, no accent stripping (so pieces with accents and CJK characters stay as written).
fn random_vocab_json(pieces: &[String], cont: &[String]) -> String {
    let mut vocab: Vec<String> = vec!["[UNK]".into()];
    vocab.extend(pieces.iter().cloned());
    vocab.extend(cont.iter().map(|c| format!("##{c}")));
    vocab.sort();
    vocab.dedup();
    let entries: Vec<String> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| format!("\"{t}\": {i}"))
        .collect();
    format!(
        r###"{{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
  "normalizer": {{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": false,
                  "strip_accents": false, "lowercase": true}},
  "pre_tokenizer": {{"type": "BertPreTokenizer"}}, "post_processor": null, "decoder": null,
  "model": {{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
             "max_input_chars_per_word": 100, "vocab": {{{}}}}}}}"###,
        entries.join(", ")
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Random vocabularies whose pieces share prefixes of one, two and three bytes with pieces of every
    /// length (ASCII, two-byte and three-byte characters): the longest-match search gives the crate's ids on
    /// words of the same alphabet (each case is a new vocabulary on the same thread: the word memo must follow).
    #[test]
    fn longest_match_on_random_vocabularies(
        pieces in prop::collection::vec("[abé日]{1,7}", 1..40),
        cont in prop::collection::vec("[abé日]{1,7}", 0..40),
        words in prop::collection::vec("[abé日]{1,16}", 1..12),
    ) {
        let enc = TextEncoder::from_json(&random_vocab_json(&pieces, &cont)).unwrap();
        prop_assert_eq!(enc.backend(), "native-wordpiece");
        check(std::slice::from_ref(&enc), &words.join(" "))?;
    }
}

/// The per-thread word memo: two vocabularies that split the same words differently, alternating text by text on
/// one thread, over more distinct words than the memo holds (so it is emptied and refilled), twice over (so
/// the second pass is answered from it).
#[test]
fn word_memo_follows_the_vocabulary() {
    let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let a = TextEncoder::from_json(&random_vocab_json(
        &s(&["a", "ab", "bé"]),
        &s(&["b", "é", "ba"]),
    ))
    .unwrap();
    let b = TextEncoder::from_json(&random_vocab_json(
        &s(&["a", "b"]),
        &s(&["ab", "é", "b", "a"]),
    ))
    .unwrap();
    let encs = [a, b];
    let alphabet = ['a', 'b', 'é'];
    let words: Vec<String> = (0..45_000usize)
        .map(|i| {
            let (mut n, mut w) = (i + 3, String::new());
            while n > 0 {
                w.push(alphabet[n % 3]);
                n /= 3;
            }
            w
        })
        .collect();
    for _ in 0..2 {
        for chunk in words.chunks(300) {
            check(&encs, &chunk.join(" ")).unwrap();
        }
    }
}
