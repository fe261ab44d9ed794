//! A native tokenizer for BERT-style `tokenizer.json` files: `BertNormalizer` + `BertPreTokenizer` +
//! `WordPiece`, producing exactly the ids of the `tokenizers` crate with `add_special_tokens = false`.
//!
//! It runs one pass per text with reused buffers: normalize into a scratch string (ASCII bytes through a
//! 128-entry table; other characters through per-character tables built lazily, 256 code points at a time,
//! with the full Unicode pipeline kept for the few characters whose result depends on their neighbours),
//! split into words, and match each word greedily against two hash maps (word-initial pieces and continuation
//! pieces, the latter keyed without their `##` prefix), never trying a piece longer than the longest one in
//! the vocabulary. A word that is not one piece is answered from a per-thread memo ([`WordMemo`]) after its
//! first occurrence: on text in another script or language than the vocabulary's, most words are. Character classes come from the same crates the
//! `tokenizers` crate uses (`unicode_categories`, `unicode-normalization-alignments`) and the same `char`
//! methods, so the Unicode tables agree; `tests/native_wordpiece.rs` checks every code point of the tables.
//!
//! Texts that contain an added token (in the raw or the normalized text) are left to the `tokenizers`
//! crate: [`BertWordPiece::push_ids`] returns `false` and the caller falls back. Any `tokenizer.json` that
//! is not exactly this pipeline is not handled here at all ([`BertWordPiece::from_tokenizer`] is `None`).

use crate::lazy::init_once;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::added::{AddedGuard, AddedJson};
use ahash::AHashMap;
use tokenizers::models::ModelWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{Model, NormalizedString, Normalizer, Tokenizer};
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::char::{canonical_combining_class, decompose_canonical};
use unicode_normalization_alignments::UnicodeNormalization;

/// The native BERT WordPiece pipeline.
pub struct BertWordPiece {
    clean_text: bool,
    handle_chinese_chars: bool,
    strip_accents: bool,
    lowercase: bool,
    /// Word-initial pieces, and continuation pieces keyed without their prefix.
    first: AHashMap<Box<str>, u32>,
    cont: AHashMap<Box<str>, u32>,
    max_first: usize,
    max_cont: usize,
    unk: u32,
    max_chars: usize,
    /// Added tokens matched against the raw text (`normalized: false`) and against the normalized text.
    added: AddedGuard,
    /// BertNormalizer on one ASCII byte: the byte it becomes, or [`DROP`].
    ascii_norm: [u8; 128],
    /// BertPreTokenizer on one ASCII byte.
    ascii_class: [Class; 128],
    /// Identifies this pipeline to the per-thread [`WordMemo`].
    id: u64,
}

/// Each [`BertWordPiece`] gets its own id, so that a thread's [`WordMemo`] never serves another vocabulary.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Words of at most this many bytes are memoized.
const MEMO_WORD_BYTES: usize = 48;
/// The memo is emptied when it holds this many words (a few MB per thread at most).
const MEMO_WORDS: usize = 1 << 15;

/// The ids of recently seen words that are not a single vocabulary piece, per thread: greedy matching of such
/// a word probes the vocabulary once per candidate piece (a German or Polish word in an English vocabulary
/// takes dozens of probes), while the memo answers with one. It memoizes a pure function of the normalized
/// word for one pipeline (`owner`), so it cannot change an id; it lives across calls because the workers do.
#[derive(Default)]
struct WordMemo {
    owner: Option<u64>,
    words: AHashMap<Box<str>, Box<[u32]>>,
}

thread_local! {
    static WORD_MEMO: RefCell<WordMemo> = RefCell::new(WordMemo::default());
}

/// Marks an ASCII byte that the normalizer removes (no ASCII byte maps to it).
const DROP: u8 = 0xFF;

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    Word,
    Space,
    Punct,
}

/// Reusable buffers of one worker.
#[derive(Default)]
pub struct WordPieceScratch {
    normalized: String,
    chars: String,
}

impl BertWordPiece {
    /// Build the native pipeline when `tok` is exactly BertNormalizer + BertPreTokenizer + WordPiece;
    /// `None` otherwise (including when the unknown token is missing from the vocabulary).
    pub fn from_tokenizer(tok: &Tokenizer) -> Option<Self> {
        let Some(NormalizerWrapper::BertNormalizer(norm)) = tok.get_normalizer() else {
            return None;
        };
        let Some(PreTokenizerWrapper::BertPreTokenizer(_)) = tok.get_pre_tokenizer() else {
            return None;
        };
        let ModelWrapper::WordPiece(wp) = tok.get_model() else {
            return None;
        };
        let vocab = wp.get_vocab();
        let unk = *vocab.get(&wp.unk_token)?;
        let prefix = wp.continuing_subword_prefix.as_str();
        let mut first: AHashMap<Box<str>, u32> = AHashMap::with_capacity(vocab.len());
        let mut cont: AHashMap<Box<str>, u32> = AHashMap::new();
        for (piece, &id) in &vocab {
            first.insert(piece.as_str().into(), id);
            if let Some(rest) = piece.strip_prefix(prefix) {
                if !rest.is_empty() || prefix.is_empty() {
                    cont.insert(rest.into(), id);
                }
            }
        }
        let max_first = first.keys().map(|k| k.len()).max().unwrap_or(0);
        let max_cont = cont.keys().map(|k| k.len()).max().unwrap_or(0);
        // A text holding an added token goes to the crate (see `AddedGuard`).
        let normalizer = tok.get_normalizer()?;
        let tokens: Vec<AddedJson> = tok
            .get_added_tokens_decoder()
            .into_values()
            .map(|t| AddedJson {
                content: t.content,
                normalized: t.normalized,
            })
            .collect();
        let added = AddedGuard::new(&tokens, |t| {
            let mut content = NormalizedString::from(t);
            normalizer.normalize(&mut content).ok()?;
            Some(content.get().to_string())
        })
        .ok()??;
        let strip_accents = norm.strip_accents.unwrap_or(norm.lowercase);
        let mut ascii_norm = [0u8; 128];
        let mut ascii_class = [Class::Word; 128];
        for b in 0..128u8 {
            let c = b as char;
            ascii_class[b as usize] = classify(c);
            ascii_norm[b as usize] = if norm.clean_text && (b == 0 || is_control(c)) {
                DROP
            } else {
                let c = if norm.clean_text && is_whitespace(c) {
                    ' '
                } else {
                    c
                };
                if norm.lowercase {
                    c.to_ascii_lowercase() as u8
                } else {
                    c as u8
                }
            };
        }
        Some(BertWordPiece {
            clean_text: norm.clean_text,
            handle_chinese_chars: norm.handle_chinese_chars,
            strip_accents,
            lowercase: norm.lowercase,
            first,
            cont,
            max_first,
            max_cont,
            unk,
            max_chars: wp.max_input_chars_per_word,
            added,
            ascii_norm,
            ascii_class,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Whether the raw text holds an added token that the crate matches there (`normalized: false`).
    pub(crate) fn has_raw_added(&self, text: &str) -> bool {
        self.added.in_raw(text)
    }

    /// Append the ids of `text` to `ids`. Returns `false` (leaving `ids` untouched) when the text contains
    /// an added token: the caller must then use the `tokenizers` crate.
    pub fn push_ids(&self, text: &str, ids: &mut Vec<u32>, scratch: &mut WordPieceScratch) -> bool {
        if self.added.in_raw(text) {
            return false;
        }
        self.normalize(text, scratch);
        let normalized = scratch.normalized.as_str();
        if self.added.in_normalized(normalized) {
            return false;
        }
        self.push_normalized_ids(normalized, ids);
        true
    }

    /// BertPreTokenizer and WordPiece on text already normalized (by this pipeline, or by the crate's
    /// normalizer, which gives the same text).
    pub(crate) fn push_normalized_ids(&self, normalized: &str, ids: &mut Vec<u32>) {
        WORD_MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            if memo.owner != Some(self.id) {
                memo.words.clear();
                memo.owner = Some(self.id);
            }
            self.split(normalized, ids, &mut memo);
        });
    }

    /// BertPreTokenizer then WordPiece on normalized text: whitespace separates words and is dropped;
    /// punctuation is a word of its own. ASCII bytes are classified by table; other characters are decoded
    /// and classified one by one.
    fn split(&self, normalized: &str, ids: &mut Vec<u32>, memo: &mut WordMemo) {
        let bytes = normalized.as_bytes();
        let mut start = None;
        let mut i = 0;
        let mut last: Option<(usize, &Page)> = None;
        while i < bytes.len() {
            let (class, len) = if bytes[i] < 0x80 {
                (self.ascii_class[bytes[i] as usize], 1)
            } else {
                let c = normalized[i..].chars().next().expect("a char starts here");
                let index = c as usize / PAGE;
                let page = match last {
                    Some((i, page)) if i == index => Some(page),
                    _ => {
                        let page = self.chars().page(self, c);
                        last = page.map(|p| (index, p));
                        page
                    }
                };
                let class = match page {
                    Some(page) => page.class[c as usize % PAGE],
                    None => classify(c),
                };
                (class, c.len_utf8())
            };
            match class {
                Class::Word => {
                    if start.is_none() {
                        start = Some(i);
                    }
                }
                _ => {
                    if let Some(s) = start.take() {
                        self.word(&normalized[s..i], ids, memo);
                    }
                    if class == Class::Punct {
                        self.word(&normalized[i..i + len], ids, memo);
                    }
                }
            }
            i += len;
        }
        if let Some(s) = start {
            self.word(&normalized[s..], ids, memo);
        }
    }

    /// BertNormalizer, into `scratch.normalized`.
    ///
    /// Runs of ASCII go through a byte table (no Chinese characters, NFD is the identity, nothing to strip);
    /// runs of other characters go through the full pipeline. Splitting there is exact: every step is per
    /// character except NFD's canonical reordering, which only moves combining marks among themselves, and an
    /// ASCII character that is kept is a starter that no mark moves across. ASCII characters that cleaning
    /// deletes (controls, NUL) are not: the marks on both sides of them meet, so such a run stays inside the
    /// non-ASCII run around it.
    fn normalize(&self, text: &str, scratch: &mut WordPieceScratch) {
        let mut out = std::mem::take(&mut scratch.normalized).into_bytes();
        out.clear();
        let bytes = text.as_bytes();
        let mut i = 0;
        // The start of the non-ASCII run not yet normalized (it may hold deleted ASCII characters).
        let mut pending: Option<usize> = None;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i] < 0x80 {
                i += 1;
            }
            let deleted = |b: &u8| self.ascii_norm[*b as usize] == DROP;
            if i > start && !(pending.is_some() && bytes[start..i].iter().all(deleted)) {
                if let Some(run) = pending.take() {
                    // Bytes >= 0x80 are whole multi-byte characters, so `run..start` is on char boundaries.
                    self.normalize_unicode(&text[run..start], &mut scratch.chars, &mut out);
                }
                out.extend(
                    bytes[start..i]
                        .iter()
                        .map(|&b| self.ascii_norm[b as usize])
                        .filter(|&b| b != DROP),
                );
            }
            let start = i;
            while i < bytes.len() && bytes[i] >= 0x80 {
                i += 1;
            }
            if i > start && pending.is_none() {
                pending = Some(start);
            }
        }
        if let Some(run) = pending {
            self.normalize_unicode(&text[run..], &mut scratch.chars, &mut out);
        }
        debug_assert!(std::str::from_utf8(&out).is_ok());
        // SAFETY: every byte written above is valid UTF-8 by construction: `ascii_norm` maps ASCII to ASCII
        // (or DROP, filtered out), and the non-ASCII paths append whole `char`s encoded with `encode_utf8`
        // (directly, or through the table pools built the same way). Re-validating cost ~5% of tokenizing.
        scratch.normalized = unsafe { String::from_utf8_unchecked(out) };
    }

    /// The per-character tables of this normalizer configuration (pages built on first use, once per process,
    /// shared by every tokenizer with the same configuration).
    fn chars(&self) -> &'static CharTable {
        static TABLES: [OnceLock<CharTable>; 16] = [const { OnceLock::new() }; 16];
        let config = [
            self.clean_text,
            self.handle_chinese_chars,
            self.strip_accents,
            self.lowercase,
        ];
        let key = config
            .iter()
            .enumerate()
            .map(|(i, &on)| usize::from(on) << i)
            .sum::<usize>();
        init_once(&TABLES[key], CharTable::new)
    }

    /// BertNormalizer on a run of non-ASCII characters, appended to `out` as UTF-8: each character's result
    /// comes from the precomputed table, unless one of them needs its neighbours (a kept combining mark
    /// that canonical reordering could move) or lies beyond the table; then the whole run goes through
    /// [`Self::normalize_unicode_full`].
    fn normalize_unicode(&self, text: &str, tmp: &mut String, out: &mut Vec<u8>) {
        let table = self.chars();
        let mark = out.len();
        let mut last: Option<(usize, &Page)> = None; // consecutive characters mostly share a page
        for c in text.chars() {
            let index = c as usize / PAGE;
            let page = match last {
                Some((i, page)) if i == index => Some(page),
                _ => {
                    let page = table.page(self, c);
                    last = page.map(|p| (index, p));
                    page
                }
            };
            match page.map(|p| (p, p.entries[c as usize % PAGE])) {
                Some((page, entry)) if entry & COMPLEX == 0 => {
                    let (offset, len) = ((entry >> 8) as usize, (entry & LEN_MASK) as usize);
                    out.extend_from_slice(&page.pool[offset..offset + len]);
                }
                _ => {
                    out.truncate(mark);
                    self.normalize_unicode_full(text, tmp, out);
                    return;
                }
            }
        }
    }

    /// The full BertNormalizer on a run of non-ASCII characters, appended to `out` as UTF-8.
    fn normalize_unicode_full(&self, text: &str, tmp: &mut String, out: &mut Vec<u8>) {
        // 1. clean text, 2. pad Chinese characters, into `tmp`.
        tmp.clear();
        for mut c in text.chars() {
            if self.clean_text {
                if c == '\0' || c == '\u{fffd}' || is_control(c) {
                    continue;
                }
                if is_whitespace(c) {
                    c = ' ';
                }
            }
            if self.handle_chinese_chars && is_chinese_char(c) {
                tmp.push(' ');
                tmp.push(c);
                tmp.push(' ');
            } else {
                tmp.push(c);
            }
        }
        // 3. strip accents (NFD, drop non-spacing marks), 4. lowercase (char by char, as the reference does).
        let mut buf = [0u8; 4];
        let mut push = |c: char| {
            if self.lowercase {
                for l in c.to_lowercase() {
                    out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
                }
            } else {
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        };
        if self.strip_accents {
            for (c, _) in tmp.as_str().nfd() {
                if !c.is_mark_nonspacing() {
                    push(c);
                }
            }
        } else {
            for c in tmp.chars() {
                push(c);
            }
        }
    }

    /// WordPiece on one (non-empty) word, through the memo unless the word is a single piece.
    fn word(&self, word: &str, ids: &mut Vec<u32>, memo: &mut WordMemo) {
        // A word of more than max_input_chars_per_word characters is the unknown token, even when it is a
        // piece of the vocabulary (the crate counts first); a word of no more bytes than that cannot be one.
        if word.len() > self.max_chars && word.chars().count() > self.max_chars {
            ids.push(self.unk);
            return;
        }
        if word.len() <= self.max_first {
            if let Some(&id) = self.first.get(word) {
                ids.push(id);
                return;
            }
        }
        if word.len() > MEMO_WORD_BYTES {
            self.match_word(word, ids);
            return;
        }
        if let Some(known) = memo.words.get(word) {
            ids.extend_from_slice(known);
            return;
        }
        let mark = ids.len();
        self.match_word(word, ids);
        if memo.words.len() >= MEMO_WORDS {
            memo.words.clear();
        }
        memo.words.insert(word.into(), ids[mark..].into());
    }

    /// WordPiece on one (non-empty) word of at most `max_chars` characters (checked by [`Self::word`]): greedy
    /// longest match from the left; any unmatched remainder makes the whole word the unknown token.
    fn match_word(&self, word: &str, ids: &mut Vec<u32>) {
        let mark = ids.len();
        let mut start = 0;
        while start < word.len() {
            let (map, max) = if start == 0 {
                (&self.first, self.max_first)
            } else {
                (&self.cont, self.max_cont)
            };
            let mut end = floor_char_boundary(word, (start + max).min(word.len()));
            let mut found = None;
            while end > start {
                if let Some(&id) = map.get(&word[start..end]) {
                    found = Some(id);
                    break;
                }
                end = floor_char_boundary(word, end - 1);
            }
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(mark);
                    ids.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// Code points below this have a precomputed entry: the Basic Multilingual Plane and the two supplementary
/// planes that hold the CJK extensions. Rarer characters take the full path.
const TABLE_LIMIT: usize = 0x3_0000;
/// In a [`CharTable`] entry: the character's result depends on its neighbours.
const COMPLEX: u32 = 0x80;
const LEN_MASK: u32 = 0x7F;

/// BertNormalizer and BertPreTokenizer on single characters, for one normalizer configuration.
///
/// Every step of BertNormalizer is per character (clean text, Chinese padding, lowercase, and NFD then
/// dropping non-spacing marks) except NFD's canonical reordering, which sorts runs of characters with a
/// non-zero combining class. Reordering never crosses a character of class 0, and the marks it moves are
/// dropped anyway unless they are not non-spacing (a few spacing and enclosing marks): a character whose
/// normalized form keeps a mark of non-zero class is flagged [`COMPLEX`], and a run containing one is
/// normalized whole. Everything else is the concatenation of per-character results, exactly.
struct CharTable {
    /// One page per 256 code points, each built the first time a character of it is seen: a text touches
    /// the few pages of its scripts, so the first non-ASCII text costs microseconds, not a whole table.
    pages: Box<[OnceLock<Page>]>,
}

struct Page {
    /// Per code point: `offset << 8 | COMPLEX? | len` of its normalized UTF-8 in `pool`.
    entries: [u32; PAGE],
    /// Per code point: the pre-tokenizer's class.
    class: [Class; PAGE],
    pool: Vec<u8>,
}

const PAGE: usize = 256;

impl CharTable {
    fn new() -> Self {
        CharTable {
            pages: (0..TABLE_LIMIT / PAGE).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The page of `c`, built on first use; `None` beyond the table.
    #[inline]
    fn page(&self, wp: &BertWordPiece, c: char) -> Option<&Page> {
        let index = c as usize / PAGE;
        self.pages
            .get(index)
            .map(|page| init_once(page, || Page::build(wp, index)))
    }
}

impl Page {
    fn build(wp: &BertWordPiece, index: usize) -> Self {
        let mut page = Page {
            entries: [0; PAGE],
            class: [Class::Word; PAGE],
            pool: Vec::with_capacity(PAGE * 3),
        };
        let (mut tmp, mut one, mut out) = (String::new(), String::new(), Vec::new());
        for slot in 0..PAGE {
            let cp = index * PAGE + slot;
            let Some(c) = char::from_u32(cp as u32) else {
                continue; // a surrogate: never in a str
            };
            page.class[slot] = classify(c);
            if cp < 0x80 {
                continue;
            }
            out.clear();
            let mut itself = true; // its canonical decomposition is the character itself
            decompose_canonical(c, |d| itself &= d == c);
            let special = (wp.clean_text && (c == '\u{fffd}' || is_control(c) || is_whitespace(c)))
                || (wp.handle_chinese_chars && is_chinese_char(c));
            let complex = if itself && !special {
                // Most characters: no decomposition, nothing to clean or pad; only the mark drop and lowercase.
                if !(wp.strip_accents && c.is_mark_nonspacing()) {
                    let mut buf = [0u8; 4];
                    if wp.lowercase {
                        for l in c.to_lowercase() {
                            out.extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
                        }
                    } else {
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
                wp.strip_accents && !c.is_mark_nonspacing() && canonical_combining_class(c) != 0
            } else {
                one.clear();
                one.push(c);
                wp.normalize_unicode_full(&one, &mut tmp, &mut out);
                wp.strip_accents
                    && one
                        .as_str()
                        .nfd()
                        .any(|(d, _)| !d.is_mark_nonspacing() && canonical_combining_class(d) != 0)
            };
            debug_assert!(out.len() <= LEN_MASK as usize);
            page.entries[slot] = (page.pool.len() as u32) << 8
                | if complex { COMPLEX } else { 0 }
                | out.len() as u32;
            page.pool.extend_from_slice(&out);
        }
        page
    }
}

/// The largest char boundary of `s` at or below `i`.
#[inline]
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// BertPreTokenizer's class of a character (of the normalized text).
fn classify(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if is_bert_punc(c) {
        Class::Punct
    } else {
        Class::Word
    }
}

// The character classes of the reference `BertNormalizer` / `BertPreTokenizer`.

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

fn is_bert_punc(c: char) -> bool {
    // Within ASCII, every Unicode punctuation character is also ASCII punctuation: skip the tables.
    c.is_ascii_punctuation() || (!c.is_ascii() && c.is_punctuation())
}
