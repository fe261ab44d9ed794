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
        let encoding = enc.tokenizer().encode_fast(text, false).unwrap();
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
    ] {
        check(&encs, text).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

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
