//! A native byte-level BPE pipeline (GPT-2, RoBERTa and their descendants): the ids of the `tokenizers`
//! crate, without building it.
//!
//! Supported `tokenizer.json` configurations (everything else goes to the crate):
//! - normalizer: none or `NFC`;
//! - pre-tokenizer: `ByteLevel` with its built-in GPT-2 pattern (`use_regex: true`), with or without
//!   `add_prefix_space`;
//! - model: `BPE` without dropout, continuing-subword prefix, end-of-word suffix or byte fallback, whose
//!   vocabulary holds the 256 byte characters (so no unknown token can arise).
//!
//! The GPT-2 pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` is matched
//! by hand, leftmost-first as Oniguruma does; the character classes are asked of Oniguruma itself (the
//! engine the crate runs), once per code point, in lazily built pages, so `\p{L}`, `\p{N}` and `\s` are
//! the crate's to the last code point. Merges follow the crate's queue: lowest rank first, then leftmost,
//! with its staleness check. A per-thread cache keeps the ids of recent words.

use crate::lazy::init_once;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use ahash::AHashMap;
use serde::Deserialize;

use crate::added::{AddedGuard, AddedJson};
use serde_json::value::RawValue;
use serde_json::Value;
use unicode_normalization_alignments::UnicodeNormalization;

const CACHED_WORD_BYTES: usize = 64;
const CACHE_WORDS: usize = 65_536;
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Default)]
struct WordCache {
    owner: u64,
    words: AHashMap<Box<[u8]>, Box<[u32]>>,
}

thread_local! {
    static WORD_CACHE: RefCell<WordCache> = RefCell::default();
}

/// The character classes of the GPT-2 pattern.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

const PAGE: usize = 256;

/// `\p{L}`, `\p{N}` and `\s` as Oniguruma decides them, per code point, 256 at a time.
struct Classes {
    ascii: [Class; 128],
    pages: Vec<OnceLock<Box<[Class; PAGE]>>>,
}

impl Classes {
    fn new() -> Self {
        let mut ascii = [Class::Other; 128];
        for (b, slot) in ascii.iter_mut().enumerate() {
            *slot = classify(b as u8 as char);
        }
        Classes {
            ascii,
            pages: (0..(char::MAX as usize + 1).div_ceil(PAGE))
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    #[inline]
    fn of(&self, c: char) -> Class {
        if c.is_ascii() {
            return self.ascii[c as usize];
        }
        let index = c as usize / PAGE;
        let page = init_once(&self.pages[index], || {
            let mut page = Box::new([Class::Other; PAGE]);
            for (k, slot) in page.iter_mut().enumerate() {
                if let Some(c) = char::from_u32((index * PAGE + k) as u32) {
                    *slot = classify(c);
                }
            }
            page
        });
        page[c as usize % PAGE]
    }
}

/// The class of `c` by Oniguruma's own `\p{L}`, `\p{N}` and `\s`.
fn classify(c: char) -> Class {
    let re = regexes();
    let mut buf = [0u8; 4];
    let s = c.encode_utf8(&mut buf);
    if re.0.is_match(s) {
        Class::Letter
    } else if re.1.is_match(s) {
        Class::Number
    } else if re.2.is_match(s) {
        Class::Space
    } else {
        Class::Other
    }
}

/// Oniguruma's `\p{L}`, `\p{N}` and `\s`, anchored to a whole one-character string.
fn regexes() -> &'static (onig::Regex, onig::Regex, onig::Regex) {
    static RE: OnceLock<(onig::Regex, onig::Regex, onig::Regex)> = OnceLock::new();
    init_once(&RE, || {
        let re = |p: &str| onig::Regex::new(p).expect("a valid pattern");
        (re(r"\A\p{L}\z"), re(r"\A\p{N}\z"), re(r"\A\s\z"))
    })
}

#[derive(Deserialize)]
struct FileJson<'a> {
    #[serde(borrow, default)]
    normalizer: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pre_tokenizer: Option<&'a RawValue>,
    #[serde(borrow)]
    model: &'a RawValue,
    #[serde(default)]
    added_tokens: Vec<AddedJson>,
}

#[derive(Deserialize)]
struct BpeJson {
    #[serde(rename = "type")]
    kind: Option<String>,
    vocab: AHashMap<String, u32>,
    merges: Vec<MergeJson>,
    #[serde(default)]
    dropout: Option<f32>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    ignore_merges: bool,
}

/// A merge as `tokenizers` writes it: `"a b"` (older files) or `["a", "b"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum MergeJson {
    Joined(String),
    Pair(String, String),
}

/// The native byte-level BPE of one `tokenizer.json` (see the module docs).
pub struct NativeByteBpe {
    id: u64,
    nfc: bool,
    add_prefix_space: bool,
    classes: Classes,
    /// The id of each byte's character.
    byte_ids: [u32; 256],
    /// `(left, right)` -> `(rank, merged id)`.
    merges: AHashMap<(u32, u32), (u32, u32)>,
    /// With `ignore_merges`: whole words (as bytes) that are one token.
    whole: Option<AHashMap<Box<[u8]>, u32>>,
    added: AddedGuard,
}

/// Reusable buffers of one worker.
#[derive(Default)]
pub struct ByteBpeScratch {
    normalized: String,
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Reverse<(u32, usize, u32)>>,
}

#[derive(Clone, Copy)]
struct Symbol {
    id: u32,
    prev: isize,
    next: isize,
    alive: bool,
}

/// The byte -> character table of the byte-level alphabet (GPT-2's `bytes_to_unicode`).
fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        out[b as usize] = if printable {
            b as char
        } else {
            n += 1;
            char::from_u32(255 + n).expect("a valid code point")
        };
    }
    out
}

impl NativeByteBpe {
    /// Build the native pipeline for `json` when its configuration is supported; `Ok(None)` otherwise.
    pub(crate) fn from_json(json: &str) -> Result<Option<Self>, String> {
        let Ok(file) = serde_json::from_str::<FileJson<'_>>(json) else {
            return Ok(None);
        };
        let Some(pre) = file.pre_tokenizer else {
            return Ok(None);
        };
        let Ok(pre) = serde_json::from_str::<Value>(pre.get()) else {
            return Ok(None);
        };
        if pre.get("type").and_then(Value::as_str) != Some("ByteLevel")
            || pre.get("use_regex").and_then(Value::as_bool) == Some(false)
        {
            return Ok(None);
        }
        let add_prefix_space = pre
            .get("add_prefix_space")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let nfc = match file.normalizer {
            None => false,
            Some(n) => match serde_json::from_str::<Value>(n.get()) {
                Ok(Value::Null) => false,
                Ok(v) if v.get("type").and_then(Value::as_str) == Some("NFC") => true,
                _ => return Ok(None),
            },
        };
        let Ok(model) = serde_json::from_str::<BpeJson>(file.model.get()) else {
            return Ok(None);
        };
        if model.kind.as_deref() != Some("BPE")
            || model.dropout.is_some_and(|d| d != 0.0)
            || model.continuing_subword_prefix.is_some()
            || model.end_of_word_suffix.is_some()
            || model.byte_fallback
        {
            return Ok(None);
        }
        let chars = byte_chars();
        let mut byte_ids = [0u32; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            match model.vocab.get(chars[b].to_string().as_str()) {
                Some(&id) => *slot = id,
                None => return Ok(None), // an unknown byte: the crate's unknown-token rules apply
            }
        }
        let char_byte: AHashMap<char, u8> = (0..=255u8).map(|b| (chars[b as usize], b)).collect();
        let to_bytes = |s: &str| -> Option<Box<[u8]>> {
            s.chars().map(|c| char_byte.get(&c).copied()).collect()
        };
        // The vocabulary as byte strings (pieces outside the byte alphabet can never be produced).
        let mut merges = AHashMap::with_capacity(model.merges.len());
        for (rank, m) in model.merges.iter().enumerate() {
            let (a, b) = match m {
                MergeJson::Pair(a, b) => (a.as_str(), b.as_str()),
                MergeJson::Joined(s) => match s.split_once(' ') {
                    Some((a, b)) if !b.contains(' ') => (a, b),
                    _ => return Ok(None),
                },
            };
            let (Some(&ia), Some(&ib)) = (model.vocab.get(a), model.vocab.get(b)) else {
                return Ok(None); // the crate refuses such a file; let it say so
            };
            let Some(&merged) = model.vocab.get(format!("{a}{b}").as_str()) else {
                return Ok(None);
            };
            // Later duplicates overwrite earlier ones, as in the crate's map.
            merges.insert((ia, ib), (rank as u32, merged));
        }
        let whole = model.ignore_merges.then(|| {
            model
                .vocab
                .iter()
                .filter_map(|(k, &id)| to_bytes(k).map(|b| (b, id)))
                .collect()
        });
        let mut native = NativeByteBpe {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            nfc,
            add_prefix_space,
            classes: Classes::new(),
            byte_ids,
            merges,
            whole,
            added: AddedGuard::default(),
        };
        let guard = AddedGuard::new(&file.added_tokens, |t| {
            let mut out = String::new();
            native.normalize(t, &mut out);
            Some(out)
        })?;
        let Some(guard) = guard else {
            return Ok(None);
        };
        native.added = guard;
        Ok(Some(native))
    }

    fn normalize(&self, text: &str, out: &mut String) {
        out.clear();
        if self.nfc {
            out.extend(text.nfc().map(|(c, _)| c));
        } else {
            out.push_str(text);
        }
    }

    /// Whether the raw text holds an added token that the crate matches there (`normalized: false`).
    pub(crate) fn has_raw_added(&self, text: &str) -> bool {
        self.added.in_raw(text)
    }

    /// Append the ids of `text` to `ids`. Returns `false` (leaving `ids` untouched) when the text contains
    /// an added token: the caller must then use the `tokenizers` crate.
    pub fn push_ids(&self, text: &str, ids: &mut Vec<u32>, s: &mut ByteBpeScratch) -> bool {
        if self.added.in_raw(text) {
            return false;
        }
        let mut normalized = std::mem::take(&mut s.normalized);
        self.normalize(text, &mut normalized);
        if self.added.in_normalized(&normalized) {
            s.normalized = normalized;
            return false;
        }
        if !normalized.is_empty() && self.add_prefix_space && !normalized.starts_with(' ') {
            normalized.insert(0, ' ');
        }
        WORD_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.owner != self.id {
                cache.words.clear();
                cache.owner = self.id;
            }
            let mut start = 0;
            while start < normalized.len() {
                let end = self.next_match(&normalized, start);
                self.push_word(&normalized.as_bytes()[start..end], ids, s, &mut cache);
                start = end;
            }
        });
        s.normalized = normalized;
        true
    }

    /// The end of the GPT-2 pattern's leftmost-first match at `start` (every position matches).
    fn next_match(&self, text: &str, start: usize) -> usize {
        let rest = &text[start..];
        let bytes = rest.as_bytes();
        if bytes[0] == b'\'' {
            for c in ["s", "t", "re", "ve", "m", "ll", "d"] {
                if rest[1..].starts_with(c) {
                    return start + 1 + c.len();
                }
            }
        }
        let mut chars = rest.char_indices().peekable();
        let (_, first) = chars.next().expect("a character at start");
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
        let (run_start, run_class) = if first == ' ' {
            match chars.peek() {
                Some(&(i, c)) => (Some(i), self.classes.of(c)),
                None => (None, Class::Space),
            }
        } else {
            (Some(0), self.classes.of(first))
        };
        if let (Some(i), class) = (run_start, run_class) {
            if class != Class::Space {
                let mut end = rest.len();
                for (j, c) in rest[i..].char_indices() {
                    if self.classes.of(c) != class {
                        end = i + j;
                        break;
                    }
                }
                return start + end;
            }
        }
        debug_assert!(first == ' ' || self.classes.of(first) == Class::Space);
        // `\s+(?!\S)` then `\s+`: a whitespace run, less its last character when a non-space follows
        // (unless that leaves nothing).
        let mut end = rest.len();
        let mut last = 0;
        for (j, c) in rest.char_indices() {
            if self.classes.of(c) != Class::Space {
                end = j;
                break;
            }
            last = j;
        }
        if end < rest.len() && last > 0 {
            end = last;
        }
        start + end
    }

    fn push_word(
        &self,
        word: &[u8],
        ids: &mut Vec<u32>,
        s: &mut ByteBpeScratch,
        cache: &mut WordCache,
    ) {
        if let Some(whole) = &self.whole {
            if let Some(&id) = whole.get(word) {
                ids.push(id);
                return;
            }
        }
        if word.len() <= CACHED_WORD_BYTES {
            if let Some(hit) = cache.words.get(word) {
                ids.extend_from_slice(hit);
                return;
            }
        }
        let before = ids.len();
        self.merge(word, ids, s);
        if word.len() <= CACHED_WORD_BYTES {
            if cache.words.len() >= CACHE_WORDS {
                cache.words.clear();
            }
            cache.words.insert(word.into(), ids[before..].into());
        }
    }

    /// The crate's `Word::merge_all` on the word's bytes.
    fn merge(&self, word: &[u8], ids: &mut Vec<u32>, s: &mut ByteBpeScratch) {
        let n = word.len();
        s.symbols.clear();
        s.symbols
            .extend(word.iter().enumerate().map(|(i, &b)| Symbol {
                id: self.byte_ids[b as usize],
                prev: i as isize - 1,
                next: if i + 1 < n { i as isize + 1 } else { -1 },
                alive: true,
            }));
        s.heap.clear();
        for i in 0..n.saturating_sub(1) {
            if let Some(&(rank, new_id)) = self.merges.get(&(s.symbols[i].id, s.symbols[i + 1].id))
            {
                s.heap.push(Reverse((rank, i, new_id)));
            }
        }
        while let Some(Reverse((_, pos, new_id))) = s.heap.pop() {
            let sym = s.symbols[pos];
            if !sym.alive || sym.next == -1 {
                continue;
            }
            let next = sym.next as usize;
            let right = s.symbols[next];
            if self
                .merges
                .get(&(sym.id, right.id))
                .is_none_or(|&(_, id)| id != new_id)
            {
                continue;
            }
            s.symbols[pos].id = new_id;
            s.symbols[pos].next = right.next;
            s.symbols[next].alive = false;
            if right.next >= 0 {
                s.symbols[right.next as usize].prev = pos as isize;
            }
            let cur = s.symbols[pos];
            if cur.prev >= 0 {
                let prev = cur.prev as usize;
                if let Some(&(rank, id)) = self.merges.get(&(s.symbols[prev].id, cur.id)) {
                    s.heap.push(Reverse((rank, prev, id)));
                }
            }
            if cur.next >= 0 {
                let nx = cur.next as usize;
                if let Some(&(rank, id)) = self.merges.get(&(cur.id, s.symbols[nx].id)) {
                    s.heap.push(Reverse((rank, pos, id)));
                }
            }
        }
        ids.extend(s.symbols.iter().filter(|x| x.alive).map(|x| x.id));
    }
}
