//! Added tokens for the native pipelines: which texts must go to the `tokenizers` crate.

use aho_corasick::AhoCorasick;
use serde::Deserialize;

/// One entry of a `tokenizer.json`'s `added_tokens` (its declared `id` is not read: the crate gives the token
/// its own id).
#[derive(Deserialize)]
pub(crate) struct AddedJson {
    pub(crate) content: String,
    #[serde(default)]
    pub(crate) normalized: bool,
}

/// The crate finds `normalized: false` added tokens in the raw text and `normalized: true` ones in the
/// normalized text, by their normalized content. A text holding either is left to the crate, so the automata
/// find a superset of the crate's matches (`single_word`, `lstrip` and `rstrip` only ever remove matches).
#[derive(Default)]
pub(crate) struct AddedGuard {
    raw: Option<AhoCorasick>,
    normalized: Option<AhoCorasick>,
}

impl AddedGuard {
    /// The guard for `tokens`, `normalize` being the pipeline's own normalizer; `None` when a `normalized: true`
    /// token cannot be normalized (`normalize` gives `None`) or normalizes to nothing: the crate's matcher then
    /// matches that empty pattern at every position of every text (each character becomes its own piece),
    /// which only the crate itself reproduces.
    pub(crate) fn new(
        tokens: &[AddedJson],
        normalize: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let (mut raw, mut normalized) = (Vec::new(), Vec::new());
        for t in tokens.iter().filter(|t| !t.content.is_empty()) {
            if t.normalized {
                let Some(content) = normalize(&t.content).filter(|c| !c.is_empty()) else {
                    return Ok(None);
                };
                normalized.push(content);
                // The raw content too: harmless (a superset) and robust to any normalizer quirk.
                normalized.push(t.content.clone());
            } else {
                raw.push(t.content.clone());
            }
        }
        let automaton = |p: Vec<String>| -> Result<Option<AhoCorasick>, String> {
            if p.is_empty() {
                Ok(None)
            } else {
                AhoCorasick::new(&p).map(Some).map_err(|e| e.to_string())
            }
        };
        Ok(Some(AddedGuard {
            raw: automaton(raw)?,
            normalized: automaton(normalized)?,
        }))
    }

    /// Whether the raw text holds a `normalized: false` added token.
    pub(crate) fn in_raw(&self, text: &str) -> bool {
        self.raw.as_ref().is_some_and(|ac| ac.is_match(text))
    }

    /// Whether the normalized text holds a `normalized: true` added token.
    pub(crate) fn in_normalized(&self, text: &str) -> bool {
        self.normalized.as_ref().is_some_and(|ac| ac.is_match(text))
    }
}
