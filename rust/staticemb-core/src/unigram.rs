//! A native SentencePiece Unigram pipeline: the ids of the `tokenizers` crate, without building it.
//!
//! Supported `tokenizer.json` configurations (everything else goes to the crate):
//! - normalizer: none, or any sequence of `Precompiled` (SentencePiece's charsmap, read with the
//!   `spm_precompiled` crate that `tokenizers` itself uses), `NFC`/`NFD`/`NFKC`/`NFKD`, `Lowercase`, `Strip`,
//!   `Replace` of a literal string, and `Replace` of the regex `" {2,}"` (XLM-R's run-of-spaces rule);
//! - pre-tokenizer: `Metaspace` (any replacement character, prepend scheme and split setting);
//! - model: `Unigram`, with or without `byte_fallback`.
//!
//! The Viterbi search is the crate's (`Unigram::encode_optimized`, after SentencePiece): the same candidate
//! order, the same strict comparisons in `f64`, the same unknown-character penalty and fusing of unknown runs,
//! so ids are identical, ties included. Vocabulary prefixes are enumerated by a character-wise double-array
//! trie ([`crawdad`]), built once from the pieces; nothing else of the 250k-piece vocabulary is kept.
//!
//! Texts that contain an added token (in the raw or the normalized text) are left to the `tokenizers`
//! crate, exactly as with the native WordPiece.

use crate::lazy::init_once;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use ahash::AHashMap;
use serde::Deserialize;

use crate::added::{AddedGuard, AddedJson};
use serde_json::value::RawValue;
use serde_json::Value;
use spm_precompiled::Precompiled;
use unicode_normalization_alignments::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// The crate's penalty below the lowest piece score for an unknown character (`K_UNK_PENALTY`).
const UNK_PENALTY: f64 = 10.0;

/// Words of at most this many characters have their ids cached, per thread.
const CACHED_WORD_CHARS: usize = 24;
/// A thread's word cache is emptied when it holds this many words.
const CACHE_WORDS: usize = 65_536;

/// Each pipeline's identity for the thread-local word cache.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Ids of recently seen words, per worker thread (rayon's workers outlive a call): natural text repeats its
/// words, and a hit skips the Viterbi search. The cache serves one pipeline at a time (`owner`).
#[derive(Default)]
struct WordCache {
    owner: u64,
    words: AHashMap<Box<[char]>, Box<[u32]>>,
}

thread_local! {
    static WORD_CACHE: RefCell<WordCache> = RefCell::default();
}

/// One normalization step.
enum Step {
    Precompiled(Box<CharsMap>),
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
    Lowercase,
    Strip {
        left: bool,
        right: bool,
    },
    Replace {
        from: String,
        to: String,
    },
    /// `Replace` of the regex `" {2,}"`: every run of two or more spaces becomes `to`.
    CollapseSpaces {
        to: String,
    },
}

/// When the Metaspace pre-tokenizer prepends its replacement character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prepend {
    Always,
    First,
    Never,
}

/// The parts of a `tokenizer.json` the native pipeline reads; the rest is validated by the crate types.
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
    #[serde(default)]
    truncation: Option<TruncationJson>,
}

/// The truncation block of a `tokenizer.json`.
#[derive(Deserialize)]
pub(crate) struct TruncationJson {
    pub(crate) max_length: usize,
    #[serde(default)]
    direction: Option<String>,
}

impl TruncationJson {
    /// Whether the file keeps the end of a text (`"direction": "Left"`).
    pub(crate) fn keeps_end(&self) -> bool {
        self.direction.as_deref() == Some("Left")
    }
}

#[derive(Deserialize)]
struct ModelKind {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct UnigramJson {
    vocab: Vec<(String, f64)>,
    #[serde(default)]
    unk_id: Option<usize>,
    #[serde(default)]
    byte_fallback: bool,
}

/// What a `tokenizer.json` says besides the pipeline: the facts the encoder needs without the crate.
pub(crate) struct FileFacts {
    /// One more than the largest id (pieces and added tokens).
    pub(crate) vocab: usize,
    pub(crate) unk_id: Option<u32>,
    pub(crate) truncation: Option<TruncationJson>,
    /// The median length in characters of the distinct token strings (pieces and added tokens), rounded
    /// down: what `TextEncoder::median_token_chars` computes from the crate's vocabulary.
    pub(crate) median_token_chars: usize,
}

/// SentencePiece's precompiled charsmap with a per-character memo: the crate's `transform` allocates on
/// every call, so the result for each single code point is computed once, by lazily built pages.
struct CharsMap {
    map: Precompiled,
    pages: Vec<OnceLock<Box<CharPage>>>,
}

const PAGE: usize = 256;
const KEEP: u32 = u32::MAX;

struct CharPage {
    /// `KEEP`, or `offset << 8 | len` into `text`.
    slots: [u32; PAGE],
    /// Bit `k`: code point `k` of the page may form a grapheme cluster with a neighbour (see [`joins`]).
    joins: [u64; PAGE / 64],
    text: String,
}

/// Whether `c` may share an extended grapheme cluster with the character before or after it. Probed with
/// `unicode-segmentation` itself against one representative of every class a cluster rule pairs: a letter,
/// Hangul L, V, LV, LVT and T jamo, a regional indicator, CR. Every rule (CR LF, Hangul sequences, Extend,
/// ZWJ, SpacingMark, Prepend, regional indicator pairs, and the emoji and Indic rules, which need an Extend
/// or ZWJ) has a side among the flagged characters, so a text with none of them is one cluster per character.
fn joins(c: char) -> bool {
    const PROBES: [char; 8] = [
        'a',
        '\u{1100}',
        '\u{1161}',
        '\u{AC00}',
        '\u{AC01}',
        '\u{11A8}',
        '\u{1F1E6}',
        '\r',
    ];
    let mut buf = String::with_capacity(8);
    PROBES.iter().any(|&p| {
        buf.clear();
        buf.push(p);
        buf.push(c);
        let before = buf.graphemes(true).count() == 1;
        buf.clear();
        buf.push(c);
        buf.push(p);
        before || buf.graphemes(true).count() == 1
    }) || c == '\n'
}

impl CharsMap {
    fn new(map: Precompiled) -> Self {
        let pages = (0..(char::MAX as usize + 1).div_ceil(PAGE))
            .map(|_| OnceLock::new())
            .collect();
        CharsMap { map, pages }
    }

    /// The charsmap's output for the one-character string `c` (`None`: keep it), and whether `c` may share a
    /// grapheme cluster with a neighbour.
    fn char(&self, c: char) -> (Option<&str>, bool) {
        let index = c as usize / PAGE;
        let page = init_once(&self.pages[index], || {
            let mut slots = [KEEP; PAGE];
            let mut joining = [0u64; PAGE / 64];
            let mut text = String::new();
            let mut buf = [0u8; 4];
            for (k, slot) in slots.iter_mut().enumerate() {
                let Some(c) = char::from_u32((index * PAGE + k) as u32) else {
                    continue;
                };
                if joins(c) {
                    joining[k / 64] |= 1 << (k % 64);
                }
                if let Some(out) = self.map.transform(c.encode_utf8(&mut buf)) {
                    if out.len() < 256 && text.len() < (1 << 24) {
                        *slot = (text.len() as u32) << 8 | out.len() as u32;
                        text.push_str(out);
                    }
                }
            }
            Box::new(CharPage {
                slots,
                joins: joining,
                text,
            })
        });
        let k = c as usize % PAGE;
        let slot = page.slots[k];
        let joins = page.joins[k / 64] >> (k % 64) & 1 == 1;
        if slot != KEEP {
            let (start, len) = ((slot >> 8) as usize, (slot & 0xFF) as usize);
            return (Some(&page.text[start..start + len]), joins);
        }
        // Long outputs (never in practice) are not memoised.
        let mut buf = [0u8; 4];
        (self.map.transform(c.encode_utf8(&mut buf)), joins)
    }

    /// The crate's `Precompiled::normalize`: each extended grapheme cluster shorter than 6 bytes is looked
    /// up whole; otherwise (or when absent) its characters are looked up one by one.
    fn apply(&self, text: &str, out: &mut String) {
        // Most texts hold no character that can join a neighbour's cluster: then every cluster is one
        // character and the memo answers alone. Otherwise the text is segmented.
        let start = out.len();
        let mut simple = true;
        for c in text.chars() {
            let (mapped, joins) = self.char(c);
            if joins {
                simple = false;
                break;
            }
            match mapped {
                Some(n) => out.push_str(n),
                None => out.push(c),
            }
        }
        if simple {
            return;
        }
        out.truncate(start);
        for g in text.graphemes(true) {
            let mut chars = g.chars();
            let first = chars.next().expect("a grapheme is never empty");
            if chars.next().is_none() {
                match self.char(first).0 {
                    Some(n) => out.push_str(n),
                    None => out.push(first),
                }
                continue;
            }
            if g.len() < 6 {
                if let Some(n) = self.map.transform(g) {
                    out.push_str(n);
                    continue;
                }
            }
            for c in g.chars() {
                match self.char(c).0 {
                    Some(n) => out.push_str(n),
                    None => out.push(c),
                }
            }
        }
    }
}

/// The native Unigram pipeline of one `tokenizer.json` (see the module docs).
pub struct NativeUnigram {
    /// Identity for the thread-local word cache.
    id: u64,
    steps: Vec<Step>,
    replacement: char,
    prepend: Prepend,
    split: bool,
    /// Unique pieces; the value of a key is its index in `pieces`.
    trie: crawdad::Trie,
    /// Id and score of each trie key: the last id holding that string (as in the crate's `token_to_ids`), side
    /// by side with its score so that a match costs one memory access.
    pieces: Pieces,
    unk: Option<u32>,
    unk_score: f64,
    /// With byte fallback: the id of `<0xXX>` for each byte, where the vocabulary has it.
    bytes: Option<Box<[Option<u32>; 256]>>,
    added: AddedGuard,
}

/// Reusable buffers of one worker.
#[derive(Default)]
pub struct UnigramScratch {
    normalized: String,
    swap: String,
    word: Vec<char>,
    nodes: Vec<Node>,
    path: Vec<(usize, usize, u32)>,
}

/// The trie's values: (score, id) per key. Scores that are all exact in `f32` (every SentencePiece model's:
/// its scores are floats) are kept as `f32`, halving the table the search touches at random; the sums are
/// still taken in `f64`, so the path and its ties are the crate's.
enum Pieces {
    Narrow(Vec<Narrow>),
    Wide(Vec<Wide>),
}

#[derive(Clone, Copy)]
struct Narrow {
    score: f32,
    id: u32,
}

#[derive(Clone, Copy)]
struct Wide {
    score: f64,
    id: u32,
}

trait Scored: Copy {
    fn get(self) -> (f64, u32);
}

impl Scored for Narrow {
    #[inline(always)]
    fn get(self) -> (f64, u32) {
        (f64::from(self.score), self.id)
    }
}

impl Scored for Wide {
    #[inline(always)]
    fn get(self) -> (f64, u32) {
        (self.score, self.id)
    }
}

impl Pieces {
    fn id(&self, value: u32) -> u32 {
        match self {
            Pieces::Narrow(p) => p[value as usize].id,
            Pieces::Wide(p) => p[value as usize].id,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Node {
    score: f64,
    start: usize,
    id: u32,
    reached: bool,
}

/// A one-piece Unigram model: what the crate parses in place of a file's vocabulary to check the rest.
const STUB_MODEL: &str =
    r#"{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0.0]],"byte_fallback":false}"#;

impl NativeUnigram {
    /// Build the native pipeline for `json` when its configuration is supported, with the facts the encoder
    /// needs; `Ok(None)` for any other configuration. The normalizer, pre-tokenizer and added tokens are also
    /// parsed by the crate's own types, so a file the crate rejects is rejected here with its message.
    pub(crate) fn from_json(json: &str) -> Result<Option<(Self, FileFacts)>, String> {
        use std::str::FromStr;

        let Ok(file) = serde_json::from_str::<FileJson<'_>>(json) else {
            return Ok(None);
        };
        // Anything unexpected is left to the crate, which reports it in its own words.
        let Ok(kind) = serde_json::from_str::<ModelKind>(file.model.get()) else {
            return Ok(None);
        };
        if kind.kind.as_deref() != Some("Unigram") {
            return Ok(None);
        }
        let Some(pre) = file.pre_tokenizer else {
            return Ok(None);
        };
        // The crate refuses what it refuses in the whole file (version, post-processor, decoder, padding,
        // truncation, added tokens, normalizer, pre-tokenizer): it parses the file with a one-piece model in
        // place of the vocabulary, which this pipeline checks itself (parsing 250,000 pieces with the crate
        // would cost seconds and a gigabyte).
        let model = file.model.get();
        let at = model.as_ptr() as usize - json.as_ptr() as usize; // `model` borrows from `json`
        let stub = format!("{}{STUB_MODEL}{}", &json[..at], &json[at + model.len()..]);
        let stub = tokenizers::Tokenizer::from_str(&stub).map_err(|e| e.to_string())?;
        crate::encode::usable_settings(&stub).map_err(|e| e.to_string())?;
        let pre: Value = serde_json::from_str(pre.get()).map_err(|e| e.to_string())?;
        let Some((replacement, prepend, split)) = metaspace(&pre) else {
            return Ok(None);
        };
        let steps = match file.normalizer {
            None => Vec::new(),
            Some(n) => {
                let n: Value = serde_json::from_str(n.get()).map_err(|e| e.to_string())?;
                let mut steps = Vec::new();
                if !normalizer_steps(&n, &mut steps)? {
                    return Ok(None);
                }
                steps
            }
        };
        // Metaspace's `first` scheme prepends only when the normalized text starts at original offset 0;
        // steps that can remove leading characters, or replace a run of them (its new characters no longer
        // align with offset 0), would need alignments, so those files use the crate. A run of spaces collapsed
        // to a space or the replacement character is safe: a text starting with it gets nothing prepended.
        let may_drop_lead = |step: &Step| match step {
            Step::Precompiled(_) | Step::Strip { .. } => true,
            Step::Replace { from, to } => to.is_empty() || from.chars().nth(1).is_some(),
            Step::CollapseSpaces { to } => {
                let mut chars = to.chars();
                !matches!((chars.next(), chars.next()), (Some(c), None) if c == ' ' || c == replacement)
            }
            _ => false,
        };
        if prepend == Prepend::First && steps.iter().any(may_drop_lead) {
            return Ok(None);
        }
        let Ok(model) = serde_json::from_str::<UnigramJson>(file.model.get()) else {
            return Ok(None);
        };
        let n = model.vocab.len();
        if let Some(unk) = model.unk_id {
            if n == 0 {
                return Err("Unigram: the vocabulary is empty".into());
            }
            if unk >= n {
                return Err("Unigram: the unknown token id is not in the vocabulary".into());
            }
        }
        if n > u32::MAX as usize / 2 {
            return Ok(None);
        }
        let mut last: AHashMap<&str, u32> = AHashMap::with_capacity(n);
        let mut min_score = f64::INFINITY;
        for (id, (piece, score)) in model.vocab.iter().enumerate() {
            last.insert(piece.as_str(), id as u32);
            if *score < min_score {
                min_score = *score;
            }
        }
        let mut keys: Vec<(&str, u32)> = last
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(&k, &id)| (k, id))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let Ok(trie) = crawdad::Trie::from_keys(keys.iter().map(|(k, _)| *k)) else {
            return Ok(None);
        };
        let exact = |s: f64| f64::from(s as f32) == s;
        let pieces = if keys
            .iter()
            .all(|&(_, id)| exact(model.vocab[id as usize].1))
        {
            Pieces::Narrow(
                keys.iter()
                    .map(|&(_, id)| Narrow {
                        score: model.vocab[id as usize].1 as f32,
                        id,
                    })
                    .collect(),
            )
        } else {
            Pieces::Wide(
                keys.iter()
                    .map(|&(_, id)| Wide {
                        score: model.vocab[id as usize].1,
                        id,
                    })
                    .collect(),
            )
        };
        let bytes = model.byte_fallback.then(|| {
            let mut ids = Box::new([None; 256]);
            for (b, slot) in ids.iter_mut().enumerate() {
                *slot = last.get(format!("<0x{b:02X}>").as_str()).copied();
            }
            ids
        });
        let mut lengths: Vec<usize> = last.keys().map(|k| k.chars().count()).collect();
        let mut seen_added = ahash::AHashSet::new();
        for t in &file.added_tokens {
            if !last.contains_key(t.content.as_str()) && seen_added.insert(t.content.as_str()) {
                lengths.push(t.content.chars().count());
            }
        }
        let median_token_chars = median(&mut lengths);
        // The ids the crate gives the added tokens: a piece's own id, else the next id after the vocabulary, in
        // file order (the ids the file declares are not read, only warned about).
        let mut vocab = n;
        let mut added: AHashMap<&str, u32> = AHashMap::new();
        for t in file.added_tokens.iter().filter(|t| !t.content.is_empty()) {
            let next = (n + added.len()) as u32;
            let id = match last.get(t.content.as_str()) {
                Some(&id) => id,
                None => *added.entry(t.content.as_str()).or_insert(next),
            };
            vocab = vocab.max(id as usize + 1);
        }
        drop(last);

        let mut native = NativeUnigram {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            steps,
            replacement,
            prepend,
            split,
            trie,
            pieces,
            unk: model.unk_id.map(|u| u as u32),
            unk_score: min_score - UNK_PENALTY,
            bytes,
            added: AddedGuard::default(),
        };
        let guard = AddedGuard::new(&file.added_tokens, |t| {
            let mut out = String::new();
            native.normalize(t, &mut out, &mut String::new());
            Some(out)
        })?;
        let Some(guard) = guard else {
            return Ok(None);
        };
        native.added = guard;
        let facts = FileFacts {
            vocab,
            unk_id: native.unk,
            truncation: file.truncation,
            median_token_chars,
        };
        Ok(Some((native, facts)))
    }

    /// Run the normalizer steps over `text` into `out` (`swap` is a second buffer).
    fn normalize(&self, text: &str, out: &mut String, swap: &mut String) {
        out.clear();
        out.push_str(text);
        for step in &self.steps {
            swap.clear();
            match step {
                Step::Precompiled(map) => map.apply(out, swap),
                Step::Nfc => swap.extend(out.nfc().map(|(c, _)| c)),
                Step::Nfd => swap.extend(out.nfd().map(|(c, _)| c)),
                Step::Nfkc => swap.extend(out.nfkc().map(|(c, _)| c)),
                Step::Nfkd => swap.extend(out.nfkd().map(|(c, _)| c)),
                Step::Lowercase => swap.extend(out.chars().flat_map(char::to_lowercase)),
                Step::Strip { left, right } => {
                    let mut s = out.as_str();
                    if *left {
                        s = s.trim_start_matches(char::is_whitespace);
                    }
                    if *right {
                        s = s.trim_end_matches(char::is_whitespace);
                    }
                    swap.push_str(s);
                }
                Step::Replace { from, to } => {
                    if from.is_empty() {
                        swap.push_str(out);
                    } else {
                        let mut rest = out.as_str();
                        while let Some(at) = rest.find(from.as_str()) {
                            swap.push_str(&rest[..at]);
                            swap.push_str(to);
                            rest = &rest[at + from.len()..];
                        }
                        swap.push_str(rest);
                    }
                }
                Step::CollapseSpaces { to } => {
                    let bytes = out.as_bytes();
                    let mut i = 0;
                    while i < bytes.len() {
                        if bytes[i] == b' ' {
                            let mut j = i + 1;
                            while j < bytes.len() && bytes[j] == b' ' {
                                j += 1;
                            }
                            if j - i >= 2 {
                                swap.push_str(to);
                            } else {
                                swap.push(' ');
                            }
                            i = j;
                        } else {
                            let next = out[i..].find(' ').map_or(bytes.len(), |k| i + k);
                            swap.push_str(&out[i..next]);
                            i = next;
                        }
                    }
                }
            }
            std::mem::swap(out, swap);
        }
    }

    /// Whether the raw text holds an added token that the crate matches there (`normalized: false`).
    pub(crate) fn has_raw_added(&self, text: &str) -> bool {
        self.added.in_raw(text)
    }

    /// Whether a piece of a text gets the ids it gets as a text of its own: not with Metaspace's `first`
    /// prepend scheme, which prepends to the piece at the text's start only.
    pub(crate) fn pieces_independent(&self) -> bool {
        self.prepend != Prepend::First
    }

    /// Append the ids of `text` to `ids`. Returns `false` (leaving `ids` untouched) when the crate must run
    /// instead: the text contains an added token, or it needs an unknown token the model does not have.
    pub fn push_ids(&self, text: &str, ids: &mut Vec<u32>, s: &mut UnigramScratch) -> bool {
        if self.added.in_raw(text) {
            return false;
        }
        let mut normalized = std::mem::take(&mut s.normalized);
        let mut swap = std::mem::take(&mut s.swap);
        self.normalize(text, &mut normalized, &mut swap);
        s.swap = swap;
        if self.added.in_normalized(&normalized) {
            s.normalized = normalized;
            return false;
        }
        let before = ids.len();
        let ok = self.push_normalized(&normalized, ids, s);
        s.normalized = normalized;
        if !ok {
            ids.truncate(before);
        }
        ok
    }

    /// Metaspace, then the Unigram model on each word.
    fn push_normalized(
        &self,
        normalized: &str,
        ids: &mut Vec<u32>,
        s: &mut UnigramScratch,
    ) -> bool {
        if normalized.is_empty() {
            return true;
        }
        if normalized.contains(crawdad::END_MARKER) {
            return false; // the trie's terminator: such texts are left to the crate
        }
        let r = self.replacement;
        s.word.clear();
        // The crate replaces spaces first, then prepends unless the result starts with the replacement.
        if self.prepend != Prepend::Never && !normalized.starts_with([r, ' ']) {
            s.word.push(r);
        }
        s.word
            .extend(normalized.chars().map(|c| if c == ' ' { r } else { c }));
        let chars = std::mem::take(&mut s.word);
        let ok = WORD_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.owner != self.id {
                cache.words.clear();
                cache.owner = self.id;
            }
            if self.split {
                // MergedWithNext: every replacement character starts a new word.
                let mut start = 0;
                for i in 1..=chars.len() {
                    if i == chars.len() || chars[i] == r {
                        if !self.push_cached_word(&chars[start..i], ids, s, &mut cache) {
                            return false;
                        }
                        start = i;
                    }
                }
                true
            } else {
                self.push_cached_word(&chars, ids, s, &mut cache)
            }
        });
        s.word = chars;
        ok
    }

    /// [`NativeUnigram::push_word`] through the thread's word cache.
    fn push_cached_word(
        &self,
        word: &[char],
        ids: &mut Vec<u32>,
        s: &mut UnigramScratch,
        cache: &mut WordCache,
    ) -> bool {
        if word.len() > CACHED_WORD_CHARS {
            return self.push_word(word, ids, s);
        }
        if let Some(hit) = cache.words.get(word) {
            ids.extend_from_slice(hit);
            return true;
        }
        let before = ids.len();
        if !self.push_word(word, ids, s) {
            return false;
        }
        if cache.words.len() >= CACHE_WORDS {
            cache.words.clear();
        }
        cache.words.insert(word.into(), ids[before..].into());
        true
    }

    /// The crate's `Unigram::encode_optimized` + `tokenize` on one word.
    fn push_word(&self, word: &[char], ids: &mut Vec<u32>, s: &mut UnigramScratch) -> bool {
        match &self.pieces {
            Pieces::Narrow(p) => self.push_word_with(p, word, ids, s),
            Pieces::Wide(p) => self.push_word_with(p, word, ids, s),
        }
    }

    fn push_word_with<P: Scored>(
        &self,
        pieces: &[P],
        word: &[char],
        ids: &mut Vec<u32>,
        s: &mut UnigramScratch,
    ) -> bool {
        let n = word.len();
        s.nodes.clear();
        s.nodes.resize(n + 1, Node::default());
        for start in 0..n {
            let till_here = s.nodes[start].score;
            let mut single = false;
            for (value, len) in self
                .trie
                .common_prefix_search(word[start..].iter().copied())
            {
                let (score, id) = pieces[value as usize].get();
                let score = score + till_here;
                let target = &mut s.nodes[start + len];
                if !target.reached || score > target.score {
                    *target = Node {
                        score,
                        start,
                        id,
                        reached: true,
                    };
                }
                single |= len == 1;
            }
            if !single {
                let Some(unk) = self.unk else {
                    return false; // the crate raises MissingUnkId
                };
                let score = self.unk_score + till_here;
                let target = &mut s.nodes[start + 1];
                if !target.reached || score > target.score {
                    *target = Node {
                        score,
                        start,
                        id: unk,
                        reached: true,
                    };
                }
            }
        }
        // Backtrack into (start, end, id) spans, fusing runs of unknown tokens.
        s.path.clear();
        let mut end = n;
        while end > 0 {
            let node = s.nodes[end];
            match s.path.last_mut() {
                Some(last) if Some(node.id) == self.unk && last.2 == node.id && last.0 == end => {
                    last.0 = node.start;
                }
                _ => s.path.push((node.start, end, node.id)),
            }
            end = node.start;
        }
        for &(start, end, id) in s.path.iter().rev() {
            if Some(id) != self.unk {
                ids.push(id);
                continue;
            }
            // An unknown span (or a piece equal to the unknown token): the crate looks the string up.
            let piece = &word[start..end];
            if let Some(v) = self.trie.exact_match(piece.iter().copied()) {
                ids.push(self.pieces.id(v));
                continue;
            }
            if let Some(bytes) = &self.bytes {
                let mut buf = [0u8; 4];
                let mut byte_ids = Vec::new();
                let all = piece.iter().all(|c| {
                    c.encode_utf8(&mut buf)
                        .bytes()
                        .all(|b| match bytes[b as usize] {
                            Some(id) => {
                                byte_ids.push(id);
                                true
                            }
                            None => false,
                        })
                });
                if all {
                    ids.extend(byte_ids);
                    continue;
                }
            }
            ids.push(id);
        }
        true
    }
}

/// The median of `values` (the mean of the middle two, rounded down), 0 when empty.
pub(crate) fn median(values: &mut [usize]) -> usize {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

/// `(replacement, prepend, split)` of a Metaspace pre-tokenizer; `None` for anything else.
fn metaspace(pre: &Value) -> Option<(char, Prepend, bool)> {
    if pre.get("type")?.as_str()? != "Metaspace" {
        return None;
    }
    let mut chars = pre.get("replacement")?.as_str()?.chars();
    let replacement = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    let mut prepend = match pre.get("prepend_scheme").and_then(Value::as_str) {
        None | Some("always") => Prepend::Always,
        Some("first") => Prepend::First,
        Some("never") => Prepend::Never,
        Some(_) => return None,
    };
    if pre.get("add_prefix_space").and_then(Value::as_bool) == Some(false) {
        prepend = Prepend::Never;
    }
    let split = pre.get("split").and_then(Value::as_bool).unwrap_or(true);
    Some((replacement, prepend, split))
}

/// Append the steps of a normalizer; `Ok(false)` when one is not supported natively.
fn normalizer_steps(n: &Value, steps: &mut Vec<Step>) -> Result<bool, String> {
    let Some(kind) = n.get("type").and_then(Value::as_str) else {
        return Ok(false);
    };
    let step = match kind {
        "Sequence" => {
            let Some(list) = n.get("normalizers").and_then(Value::as_array) else {
                return Ok(false);
            };
            for inner in list {
                if !normalizer_steps(inner, steps)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        "Precompiled" => {
            // The crate's deserializer (spm_precompiled) decodes and checks the charsmap; a malformed one
            // can make it panic, which the caller catches.
            let map: Precompiled = serde_json::from_str(&n.to_string())
                .map_err(|e| format!("Precompiled: {e:.200}"))?;
            Step::Precompiled(Box::new(CharsMap::new(map)))
        }
        "NFC" => Step::Nfc,
        "NFD" => Step::Nfd,
        "NFKC" => Step::Nfkc,
        "NFKD" => Step::Nfkd,
        "Lowercase" => Step::Lowercase,
        "Strip" => Step::Strip {
            left: n
                .get("strip_left")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            right: n
                .get("strip_right")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        "Replace" => {
            let Some(to) = n.get("content").and_then(Value::as_str) else {
                return Ok(false);
            };
            let to = to.to_string();
            let pattern = n.get("pattern");
            if let Some(from) = pattern
                .and_then(|p| p.get("String"))
                .and_then(Value::as_str)
            {
                if from.is_empty() {
                    return Ok(false); // the crate matches it between every two characters
                }
                Step::Replace {
                    from: from.to_string(),
                    to,
                }
            } else if pattern.and_then(|p| p.get("Regex")).and_then(Value::as_str) == Some(" {2,}")
            {
                Step::CollapseSpaces { to }
            } else {
                return Ok(false);
            }
        }
        _ => return Ok(false),
    };
    steps.push(step);
    Ok(true)
}
