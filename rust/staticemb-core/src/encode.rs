//! Text → vector: tokenize with a Hugging Face `tokenizer.json` and pool, in one pass per text.

use crate::lazy::{init_once, Building};
use std::collections::HashSet;
use std::mem::MaybeUninit;
use std::str::FromStr;
use std::sync::OnceLock;

use tokenizers::models::ModelWrapper;
use tokenizers::{
    Model, NormalizerWrapper, OffsetReferential, OffsetType, PreTokenizer, Tokenizer,
};

use crate::bytebpe::{ByteBpeScratch, NativeByteBpe};
use crate::error::{Error, Result};
use crate::pool::{check_offsets, for_each_bag};
use crate::pool::{pool_one, zeroed_rows, PoolOptions};
use crate::quiet::catch_quietly;
use crate::table::{check_ids_below, Storage, Table, TokenId};
use crate::threads::{for_each_chunk, map_ranges, Threads};
use crate::unigram::{median, NativeUnigram, UnigramScratch};
use crate::wordpiece::{BertWordPiece, WordPieceScratch};

/// Marks a token id that is dropped before pooling (model2vec drops the unknown token).
const SKIP: u32 = u32::MAX;

/// How token ids become table rows.
#[derive(Clone, Debug, Default)]
pub struct TokenMap {
    /// `rows[id]` is the table row of token `id`, or [`u32::MAX`] to drop it. `None`: row = id.
    rows: Option<Vec<u32>>,
    /// `weights[id]` scales token `id`'s row before the mean. `None`: weight 1.
    weights: Option<Vec<f32>>,
}

/// One more than the largest token id a vocabulary may have (2^24, 16.8 million; the largest real vocabularies
/// have about 2^18 ids). Per-id arrays then stay below 64 MiB, however sparse a hostile file's ids.
pub const MAX_VOCAB: usize = 1 << 24;

impl TokenMap {
    /// Build a map for a vocabulary of `vocab` ids: an optional id → row mapping (model2vec's `mapping`),
    /// optional per-id weights (model2vec's `weights`) and ids to drop (model2vec's unknown token).
    pub fn new(
        vocab: usize,
        mapping: Option<&[i64]>,
        weights: Option<&[f32]>,
        drop: &[u32],
    ) -> Result<Self> {
        let rows = match (mapping, drop.is_empty()) {
            (None, true) => None,
            _ => {
                let mut rows: Vec<u32> = match mapping {
                    Some(m) => {
                        if m.len() < vocab {
                            return Err(Error::Vocab(format!(
                                "the token mapping has {} entries but the tokenizer has {vocab} ids",
                                m.len()
                            )));
                        }
                        // Entries past the vocabulary serve no id the tokenizer produces: they are dropped,
                        // so no id can reach a row that was never checked against the table.
                        m[..vocab]
                            .iter()
                            .enumerate()
                            .map(|(i, &r)| {
                                u32::try_from(r).ok().filter(|&r| r != SKIP).ok_or_else(|| {
                                    Error::Vocab(format!(
                                        "mapping[{i}] = {r} is not a valid row index"
                                    ))
                                })
                            })
                            .collect::<Result<_>>()?
                    }
                    None => (0..vocab as u32).collect(),
                };
                for &d in drop {
                    if let Some(slot) = rows.get_mut(d as usize) {
                        *slot = SKIP;
                    }
                }
                Some(rows)
            }
        };
        let weights = match weights {
            None => None,
            Some(w) if w.len() < vocab => {
                return Err(Error::Vocab(format!(
                    "there are {} token weights but the tokenizer has {vocab} ids",
                    w.len()
                )))
            }
            // The copy is what is checked and kept: the caller's buffer may change meanwhile.
            Some(w) => Some(w[..vocab].to_vec()),
        };
        if let Some(w) = &weights {
            if let Some(i) = w.iter().position(|x| !x.is_finite()) {
                return Err(Error::Vocab(format!(
                    "token weight {i} is not finite ({})",
                    w[i]
                )));
            }
        }
        Ok(TokenMap { rows, weights })
    }

    /// The smallest table height that serves every id below `vocab`.
    fn required_rows(&self, vocab: usize) -> usize {
        match &self.rows {
            None => vocab,
            Some(rows) => rows[..vocab.min(rows.len())]
                .iter()
                .filter(|&&r| r != SKIP)
                .map(|&r| r as usize + 1)
                .max()
                .unwrap_or(0),
        }
    }
}

/// Keep at most `max_tokens` token ids of each text (before the token map drops any), from its start or,
/// with `keep_end`, from its end: the `tokenizers` truncation of one sequence without special tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truncation {
    /// The most ids a text keeps; `None` keeps every id.
    pub max_tokens: Option<usize>,
    /// Keep the last ids instead of the first (the `tokenizers` direction `Left`).
    pub keep_end: bool,
}

impl Truncation {
    /// Keep at most `max_tokens` of the ids from `start` on (one text's ids, at the end of a flat buffer).
    fn apply_from(self, ids: &mut Vec<u32>, start: usize) {
        if let Some(m) = self.max_tokens {
            let n = ids.len() - start;
            if n > m {
                if self.keep_end {
                    ids.drain(start..start + n - m);
                } else {
                    ids.truncate(start + m);
                }
            }
        }
    }
}

/// The native tokenizer pipeline of an encoder, if its configuration has one.
// One per encoder: the size difference between variants costs nothing, a box would cost a pointer chase per
// text on the WordPiece path.
#[allow(clippy::large_enum_variant)]
enum Native {
    None,
    WordPiece(BertWordPiece),
    Unigram(NativeUnigram),
    ByteBpe(Box<NativeByteBpe>),
}

/// The `tokenizers` crate's tokenizer: parsed at load, or, when a native pipeline that needs nothing from it
/// runs (the native Unigram), parsed on first use from the kept `tokenizer.json` (a 250k-piece Unigram
/// model costs the crate seconds and hundreds of MB).
struct CrateTokenizer {
    json: Option<Box<str>>,
    parsed: OnceLock<std::result::Result<Parsed, String>>,
}

/// The crate's tokenizer, and the ids of its added tokens that it matches in the normalized text.
struct Parsed {
    tokenizer: Tokenizer,
    normalized_added: HashSet<u32>,
}

impl Parsed {
    fn new(tokenizer: Tokenizer) -> Self {
        let normalized_added = tokenizer
            .get_added_vocabulary()
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, token)| token.normalized)
            .map(|(&id, _)| id)
            .collect();
        Parsed {
            tokenizer,
            normalized_added,
        }
    }
}

impl CrateTokenizer {
    fn parsed(tokenizer: Tokenizer) -> Self {
        let parsed = OnceLock::new();
        let _ = parsed.set(Ok(Parsed::new(tokenizer)));
        CrateTokenizer { json: None, parsed }
    }

    fn get(&self) -> Result<&Tokenizer> {
        self.get_parsed().map(|p| &p.tokenizer)
    }

    fn get_parsed(&self) -> Result<&Parsed> {
        init_once(&self.parsed, || {
            let json = self.json.as_deref().unwrap_or_default();
            guarded(|| {
                let mut tokenizer = Tokenizer::from_str(json)?;
                tokenizer.with_padding(None);
                tokenizer.with_truncation(None)?;
                Ok(Parsed::new(tokenizer))
            })
            .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Tokenizer(e.clone()))
    }
}

/// Reusable buffers of one worker's tokenizer.
#[derive(Default)]
pub struct TokenScratch {
    wordpiece: WordPieceScratch,
    unigram: UnigramScratch,
    bytebpe: ByteBpeScratch,
}

/// A tokenizer plus a token map, shareable across threads. The table is passed per call so that the caller
/// (NumPy) keeps ownership of it.
pub struct TextEncoder {
    tokenizer: CrateTokenizer,
    native: Native,
    vocab: usize,
    map: TokenMap,
    required_rows: usize,
    /// The tokenizer's unknown token, if it has one (see [`TextEncoder::unknown_token`]).
    unk_id: Option<u32>,
    /// The unknown token's id when it is dropped before pooling.
    unknown: Option<u32>,
    /// The truncation the `tokenizer.json` asked for (switched off in `tokenizer`; see [`TextEncoder::file_truncation`]).
    file_truncation: Option<Truncation>,
    /// [`TextEncoder::median_token_chars`], computed on first use.
    median_token_chars: OnceLock<usize>,
}

/// Reusable buffers of one worker.
#[derive(Default)]
struct Scratch {
    tokens: TokenScratch,
    ids: Vec<u32>,
    ends: Vec<usize>,
    rows: Vec<u32>,
    weights: Vec<f32>,
}

impl TextEncoder {
    /// Parse a `tokenizer.json` string and pool every token with weight 1 (row = token id). Padding and
    /// truncation settings in the file are switched off: a static model pools every token of a text.
    pub fn from_json(json: &str) -> Result<Self> {
        Self::new(json, None, None, false)
    }

    /// Parse a `tokenizer.json` string and attach a token map (see [`TokenMap::new`]): model2vec's `mapping`,
    /// per-token `weights`, and whether to drop the unknown token before pooling (as model2vec does).
    ///
    /// A definition the `tokenizers` crate rejects, or panics on (a malformed `Precompiled` charsmap, say),
    /// is an [`Error::Tokenizer`]; no panic leaves this function.
    pub fn new(
        json: &str,
        mapping: Option<&[i64]>,
        weights: Option<&[f32]>,
        drop_unknown: bool,
    ) -> Result<Self> {
        // Building a tokenizer compiles regexes (Oniguruma's, under its process-wide lock) and fills the crate's
        // lazy statics: a fork waits for it to end (`lazy`).
        let _building = Building::enter();
        // A Unigram model the native pipeline supports never needs the crate's tokenizer up front.
        let unigram = match catch_quietly(|| NativeUnigram::from_json(json)) {
            Ok(Ok(found)) => found,
            Ok(Err(msg)) => return Err(Error::Tokenizer(msg)),
            Err(_) => {
                return Err(Error::Tokenizer(
                    "the tokenizer definition panicked the parser".into(),
                ))
            }
        };
        let (tokenizer, native, file_truncation, vocab, unk_id, median_chars) = match unigram {
            Some((native, facts)) => (
                CrateTokenizer {
                    json: Some(json.into()),
                    parsed: OnceLock::new(),
                },
                Native::Unigram(native),
                facts.truncation.map(|t| Truncation {
                    max_tokens: Some(t.max_length),
                    keep_end: t.keeps_end(),
                }),
                facts.vocab,
                facts.unk_id,
                Some(facts.median_token_chars),
            ),
            None => {
                let (tokenizer, native, file_truncation) = guarded(|| {
                    let mut tokenizer = Tokenizer::from_str(json)?;
                    usable_settings(&tokenizer)?;
                    let file_truncation = tokenizer.get_truncation().map(|t| Truncation {
                        max_tokens: Some(t.max_length),
                        keep_end: t.direction == tokenizers::TruncationDirection::Left,
                    });
                    tokenizer.with_padding(None);
                    tokenizer.with_truncation(None)?;
                    let native = match BertWordPiece::from_tokenizer(&tokenizer) {
                        Some(wp) => Native::WordPiece(wp),
                        None => match NativeByteBpe::from_json(json) {
                            Ok(Some(bpe)) => Native::ByteBpe(Box::new(bpe)),
                            _ => Native::None,
                        },
                    };
                    Ok((tokenizer, native, file_truncation))
                })?;
                let vocab = tokenizer
                    .get_vocab(true)
                    .values()
                    .map(|&id| id as usize + 1)
                    .max()
                    .unwrap_or(0);
                let unk_id = unknown_token_id(&tokenizer)?;
                (
                    CrateTokenizer::parsed(tokenizer),
                    native,
                    file_truncation,
                    vocab,
                    unk_id,
                    None,
                )
            }
        };
        // Ids index per-id arrays of `vocab` entries (and u32::MAX marks a dropped token): a vocabulary whose
        // largest id reaches past MAX_VOCAB is a broken file, not one to allocate gigabytes for.
        if vocab > MAX_VOCAB {
            return Err(Error::Vocab(format!(
                "the tokenizer has an id of {}: ids above {} are not supported",
                vocab - 1,
                MAX_VOCAB - 1
            )));
        }
        let unknown = if drop_unknown { unk_id } else { None };
        let drop: Vec<u32> = unknown.into_iter().collect();
        let map = TokenMap::new(vocab, mapping, weights, &drop)?;
        let required_rows = map.required_rows(vocab);
        Ok(TextEncoder {
            tokenizer,
            native,
            vocab,
            map,
            required_rows,
            unk_id,
            unknown,
            file_truncation,
            median_token_chars: median_chars.map(OnceLock::from).unwrap_or_default(),
        })
    }

    /// Always use the `tokenizers` crate, even for a tokenizer a native pipeline supports (parsing it now,
    /// so that a definition the crate rejects fails here).
    pub fn without_native(mut self) -> Result<Self> {
        self.native = Native::None;
        self.tokenizer.get()?;
        Ok(self)
    }

    /// Which tokenizer runs: `"native-wordpiece"` (BERT-style WordPiece, see [`BertWordPiece`]),
    /// `"native-unigram"` (SentencePiece Unigram with Metaspace, see [`NativeUnigram`]),
    /// `"native-bytelevel-bpe"` (GPT-2-style byte-level BPE, see [`NativeByteBpe`]) or `"tokenizers"` (the
    /// `tokenizers` crate, for every other `tokenizer.json`).
    pub fn backend(&self) -> &'static str {
        match self.native {
            Native::WordPiece(_) => "native-wordpiece",
            Native::Unigram(_) => "native-unigram",
            Native::ByteBpe(_) => "native-bytelevel-bpe",
            Native::None => "tokenizers",
        }
    }

    /// One more than the largest id the tokenizer can produce.
    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// The number of table rows needed to serve every id.
    pub fn required_rows(&self) -> usize {
        self.required_rows
    }

    /// The unknown token's id when this encoder drops it before pooling (model2vec semantics).
    pub fn dropped_unknown(&self) -> Option<u32> {
        self.unknown
    }

    /// The id the tokenizer gives text its vocabulary cannot spell (the model's `unk_token`, or a Unigram
    /// model's `unk_id`), whether or not it is dropped before pooling; `None` for a tokenizer without one
    /// (byte-level BPE spells every text).
    pub fn unknown_token(&self) -> Option<u32> {
        self.unk_id
    }

    /// The truncation the `tokenizer.json` asked for. This encoder never applies it by itself (a static model
    /// pools every token); pass it to [`TextEncoder::encode_truncated`] to tokenize as the file says.
    pub fn file_truncation(&self) -> Option<Truncation> {
        self.file_truncation
    }

    /// The median length in characters of the vocabulary's tokens (added tokens included), rounded down: the
    /// figure model2vec uses to cut a text before tokenizing it with a `max_length`.
    pub fn median_token_chars(&self) -> Result<usize> {
        if let Some(&m) = self.median_token_chars.get() {
            return Ok(m);
        }
        let tokenizer = self.tokenizer.get()?;
        Ok(*init_once(&self.median_token_chars, || {
            let mut lengths: Vec<usize> = tokenizer
                .get_vocab(true)
                .keys()
                .map(|t| t.chars().count())
                .collect();
            median(&mut lengths)
        }))
    }

    /// The wrapped `tokenizers` tokenizer (parsed on first use when a native Unigram runs).
    pub fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.get()
    }

    /// Check that `table` has a row for every id this encoder can produce.
    pub fn check_table(&self, table: &Table<'_>) -> Result<()> {
        if table.rows() < self.required_rows {
            return Err(Error::Vocab(format!(
                "the tokenizer produces ids up to {} but the embedding table has only {} rows",
                self.required_rows - 1,
                table.rows()
            )));
        }
        Ok(())
    }

    /// Check, once per table, that an int8 table's row scales are finite and that each token's weight times
    /// its row's scale (the coefficient the kernel multiplies the int8 values by) is finite in f32: an
    /// infinite coefficient times a 0 value would be NaN where the value is 0.
    pub fn check_scales(&self, table: &Table<'_>) -> Result<()> {
        let Storage::I8 { scales, .. } = table.storage() else {
            return Ok(());
        };
        if let Some(r) = scales.iter().position(|s| !s.is_finite()) {
            return Err(Error::Vocab(format!(
                "the scale of row {r} is not finite ({})",
                scales[r]
            )));
        }
        let Some(weights) = &self.map.weights else {
            return Ok(());
        };
        for (id, &w) in weights.iter().enumerate() {
            let row = match &self.map.rows {
                Some(rows) if rows[id] == SKIP => continue,
                Some(rows) => rows[id] as usize,
                None => id,
            };
            if let Some(&s) = scales.get(row) {
                if !(w * s).is_finite() {
                    return Err(Error::Vocab(format!(
                        "token {id}'s weight ({w}) times its row's scale ({s}) overflows float32"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Token ids of one text: no special tokens, no truncation, no padding. Dropped tokens are kept here;
    /// this is the tokenizer's own output.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        self.push_token_ids(text, &mut ids, &mut TokenScratch::default())?;
        Ok(ids)
    }

    /// Token ids of many texts, flattened, with each text's start offset (the `EmbeddingBag` convention).
    pub fn tokenize_batch(&self, texts: &[&str], threads: Threads) -> Result<(Vec<u32>, Vec<i64>)> {
        self.tokenize_batch_from(texts, 0, threads)
    }

    /// [`Self::tokenize_batch`] for a batch whose first text is text `first` of the caller's list (errors
    /// name the text by its place in that list).
    pub fn tokenize_batch_from(
        &self,
        texts: &[&str],
        first: usize,
        threads: Threads,
    ) -> Result<(Vec<u32>, Vec<i64>)> {
        let parts = map_ranges(threads, texts.len(), 256, |range| {
            let mut ids = Vec::new();
            let mut lengths = Vec::with_capacity(range.len());
            let mut scratch = TokenScratch::default();
            for i in range {
                let before = ids.len();
                self.push_token_ids(texts[i], &mut ids, &mut scratch)
                    .map_err(|e| in_text(first + i, e))?;
                lengths.push(ids.len() - before);
            }
            Ok((ids, lengths))
        })?;
        let total = parts.iter().map(|(ids, _)| ids.len()).sum();
        let mut ids = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(texts.len());
        for (part, lengths) in parts {
            let mut start = ids.len();
            for len in lengths {
                offsets.push(start as i64);
                start += len;
            }
            ids.extend_from_slice(&part);
        }
        Ok((ids, offsets))
    }

    /// Append the token ids of `text` to `ids`: through the native pipeline when this tokenizer has one,
    /// around the added tokens the text holds (see [`TextEncoder::push_native_around_added`]), otherwise
    /// through the `tokenizers` crate.
    pub fn push_token_ids(
        &self,
        text: &str,
        ids: &mut Vec<u32>,
        scratch: &mut TokenScratch,
    ) -> Result<()> {
        if self.push_native(text, ids, scratch) {
            return Ok(());
        }
        let before = ids.len();
        if self.splits_at_added(text) && self.push_native_around_added(text, ids, scratch)? {
            return Ok(());
        }
        ids.truncate(before);
        if let Native::WordPiece(native) = &self.native {
            return self.push_wordpiece_after_crate_normalization(native, text, ids);
        }
        self.push_token_ids_crate(text, ids)
    }

    /// A text the native WordPiece declined (it holds a `normalized: true` added token, or a raw one the cut
    /// could not go around): the crate extracts every added token and normalizes the text between them, as it
    /// does first in its own pipeline, and the native BertPreTokenizer and WordPiece run on each normalized
    /// piece (what the crate's pre-tokenizer and model would do with it).
    fn push_wordpiece_after_crate_normalization(
        &self,
        native: &BertWordPiece,
        text: &str,
        ids: &mut Vec<u32>,
    ) -> Result<()> {
        let tok = self.tokenizer.get()?;
        let pieces = guarded(|| {
            Ok(tok
                .get_added_vocabulary()
                .extract_and_normalize(tok.get_normalizer(), text))
        })?;
        for (piece, _, tokens) in pieces.get_splits(OffsetReferential::Normalized, OffsetType::None)
        {
            match tokens {
                Some(tokens) => ids.extend(tokens.iter().map(|t| t.id)),
                None => native.push_normalized_ids(piece, ids),
            }
        }
        Ok(())
    }

    /// The native pipeline on `text`; `false` (nothing appended) where it cannot give the crate's ids alone.
    fn push_native(&self, text: &str, ids: &mut Vec<u32>, scratch: &mut TokenScratch) -> bool {
        match &self.native {
            Native::WordPiece(native) => native.push_ids(text, ids, &mut scratch.wordpiece),
            Native::None => false,
            other => Self::push_other_native(other, text, ids, scratch),
        }
    }

    /// Whether `text` holds an added token the crate matches in the raw text, and the native pipeline may run
    /// on the pieces between such tokens. Metaspace's `first` prepend scheme treats a piece differently by
    /// where it starts in the text, so that pipeline leaves such texts to the crate.
    fn splits_at_added(&self, text: &str) -> bool {
        match &self.native {
            Native::WordPiece(native) => native.has_raw_added(text),
            Native::Unigram(native) => native.pieces_independent() && native.has_raw_added(text),
            Native::ByteBpe(native) => native.has_raw_added(text),
            Native::None => false,
        }
    }

    /// A text holding added tokens, tokenized as the crate does it but with the native pipeline on the text
    /// between them. The crate first cuts the raw text at its `normalized: false` added tokens (with their
    /// `single_word`, `lstrip` and `rstrip` rules), then runs the normalizer, the `normalized: true` tokens,
    /// the pre-tokenizer and the model on each piece on its own. That first cut is the crate's own
    /// (`extract_and_normalize` with no normalizer); each piece then goes through the native pipeline, which
    /// gives the crate's ids for a piece as for a text. Returns `false` (the caller then runs the crate on the
    /// whole text) where that does not hold: the cut without a normalizer matched a `normalized: true` token,
    /// or the native pipeline declines a piece (a token it must leave to the crate is in it).
    ///
    /// The crate's memory for a text is then that of the cut (tens of bytes per byte), not of its whole
    /// pipeline (hundreds).
    fn push_native_around_added(
        &self,
        text: &str,
        ids: &mut Vec<u32>,
        scratch: &mut TokenScratch,
    ) -> Result<bool> {
        let parsed = self.tokenizer.get_parsed()?;
        // Without its normalizer the crate's matcher can panic ("AddedVocabulary bad split") on a text its
        // own pipeline tokenizes: that is a decline, not the text's error.
        let Ok(pieces) = guarded(|| {
            Ok(parsed
                .tokenizer
                .get_added_vocabulary()
                .extract_and_normalize(None::<&NormalizerWrapper>, text))
        }) else {
            return Ok(false);
        };
        for (piece, _, tokens) in pieces.get_splits(OffsetReferential::Original, OffsetType::None) {
            match tokens {
                Some(tokens) => {
                    if tokens
                        .iter()
                        .any(|t| parsed.normalized_added.contains(&t.id))
                    {
                        return Ok(false);
                    }
                    ids.extend(tokens.iter().map(|t| t.id));
                }
                None => {
                    if !self.push_native(piece, ids, scratch) {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    /// The native Unigram and byte-level BPE arms of [`TextEncoder::push_token_ids`], kept out of line so
    /// that the WordPiece path stays as it was.
    #[inline(never)]
    fn push_other_native(
        native: &Native,
        text: &str,
        ids: &mut Vec<u32>,
        scratch: &mut TokenScratch,
    ) -> bool {
        match native {
            Native::Unigram(native) => {
                // The charsmap comes from the file: a malformed one may panic `spm_precompiled`.
                let before = ids.len();
                match catch_quietly(|| native.push_ids(text, ids, &mut scratch.unigram)) {
                    Ok(done) => done,
                    Err(_) => {
                        ids.truncate(before);
                        scratch.unigram = UnigramScratch::default();
                        false
                    }
                }
            }
            Native::ByteBpe(native) => native.push_ids(text, ids, &mut scratch.bytebpe),
            Native::WordPiece(_) | Native::None => false,
        }
    }

    /// [`TextEncoder::push_token_ids`] through the `tokenizers` crate only.
    ///
    /// This runs the same steps as `Tokenizer::encode_fast(text, false)` — added-token extraction with
    /// normalization, pre-tokenization, the model — but reads the ids straight from the tokenized splits
    /// instead of building an `Encoding` (which copies every token's string, offsets and masks). The
    /// post-processor is skipped: without special tokens it does not change ids ([`usable_post_processor`] refuses
    /// one that would).
    pub fn push_token_ids_crate(&self, text: &str, ids: &mut Vec<u32>) -> Result<()> {
        let tok = self.tokenizer.get()?;
        guarded(|| {
            let mut pre = tok
                .get_added_vocabulary()
                .extract_and_normalize(tok.get_normalizer(), text);
            if let Some(pt) = tok.get_pre_tokenizer() {
                pt.pre_tokenize(&mut pre)?;
            }
            let model = tok.get_model();
            pre.tokenize(|normalized| model.tokenize(normalized.get()))?;
            for (_, _, tokens) in pre.get_splits(OffsetReferential::Normalized, OffsetType::None) {
                if let Some(tokens) = tokens {
                    ids.extend(tokens.iter().map(|t| t.id));
                }
            }
            Ok(())
        })
    }

    /// Encode `texts` into `out` (`texts.len()` x `opts.dim`, row-major), pooling every token.
    pub fn encode(
        &self,
        texts: &[&str],
        table: &Table<'_>,
        opts: &PoolOptions,
        out: &mut [f32],
    ) -> Result<()> {
        self.encode_truncated(texts, table, opts, Truncation::default(), out)
    }

    /// [`TextEncoder::encode`] keeping at most `truncation.max_tokens` token ids of each text.
    pub fn encode_truncated(
        &self,
        texts: &[&str],
        table: &Table<'_>,
        opts: &PoolOptions,
        truncation: Truncation,
        out: &mut [f32],
    ) -> Result<()> {
        self.encode_rows(texts, 0, table, opts, truncation, out, |chunk| chunk)
    }

    /// [`TextEncoder::encode_truncated`] into memory that need not be initialized (the spare capacity of a
    /// fresh or recycled `Vec`): each worker zeroes its own chunk (at most 256 rows, so the zeroing stays in
    /// its cache) just before it writes the rows. On `Ok`, every element of `out` is initialized.
    /// `first_text` is the position of `texts[0]` in the caller's whole input, for error messages (a caller
    /// that works in batches names the text of the whole input).
    #[allow(clippy::too_many_arguments)]
    pub fn encode_truncated_uninit(
        &self,
        texts: &[&str],
        first_text: usize,
        table: &Table<'_>,
        opts: &PoolOptions,
        truncation: Truncation,
        out: &mut [MaybeUninit<f32>],
    ) -> Result<()> {
        self.encode_rows(texts, first_text, table, opts, truncation, out, zeroed_rows)
    }

    /// The one implementation behind both: `rows` turns a worker's chunk of `out` into the `f32` rows it
    /// writes.
    #[allow(clippy::too_many_arguments)]
    fn encode_rows<T: Send>(
        &self,
        texts: &[&str],
        first_text: usize,
        table: &Table<'_>,
        opts: &PoolOptions,
        truncation: Truncation,
        out: &mut [T],
        rows: fn(&mut [T]) -> &mut [f32],
    ) -> Result<()> {
        table.check_dim(opts.dim)?;
        self.check_table(table)?;
        let expected = texts.len() * opts.dim;
        if out.len() != expected {
            return Err(Error::Output {
                len: out.len(),
                expected,
            });
        }
        // Roughly 16 KB of text per task: large enough to amortise scheduling, small enough to balance.
        let total_bytes: usize = texts.iter().map(|t| t.len()).sum();
        let per_chunk = (16_384 * texts.len() / total_bytes.max(1)).clamp(1, 256);
        for_each_chunk(opts.threads, out, opts.dim, per_chunk, |first, chunk| {
            // Tokenize the worker's whole chunk (at most 256 texts) into one reused id buffer, then pool it:
            // the tokenizer's tables and memo stay in cache while it runs, instead of being evicted by every
            // text's gather (ahead at 1024-d in 4 of 5 in-process comparisons, benches/RESULTS.md 2026-12-03).
            let mut s = Scratch::default();
            let n = chunk.len() / opts.dim;
            for (j, text) in texts[first..first + n].iter().enumerate() {
                let start = s.ids.len();
                self.push_token_ids(text, &mut s.ids, &mut s.tokens)
                    .map_err(|e| in_text(first_text + first + j, e))?;
                // Every row read below is checked for ids under the vocabulary size; a tokenizer.json whose
                // added tokens get ids past it (the `tokenizers` crate numbers them its own way) is an error.
                if let Some(&id) = s.ids[start..].iter().find(|&&id| id as usize >= self.vocab) {
                    return Err(in_text(
                        first_text + first + j,
                        Error::Tokenizer(format!(
                            "the tokenizer gave id {id}, outside its vocabulary of {} ids (an added token \
                             numbered past the vocabulary?)",
                            self.vocab
                        )),
                    ));
                }
                truncation.apply_from(&mut s.ids, start);
                s.ends.push(s.ids.len());
            }
            let chunk = rows(chunk);
            let mut start = 0;
            for (row, &end) in chunk.chunks_exact_mut(opts.dim).zip(&s.ends) {
                let ids = &s.ids[start..end];
                self.pool_slice(table, opts, ids, &mut s.rows, &mut s.weights, row);
                start = end;
            }
            Ok(())
        })
    }

    /// Pool `ids` (token ids below the vocabulary size) into `row`, applying the token map: drop, map to
    /// rows, weight. The one implementation of model2vec's semantics, for texts and for raw ids alike.
    fn pool_slice(
        &self,
        table: &Table<'_>,
        opts: &PoolOptions,
        ids: &[u32],
        rows_buf: &mut Vec<u32>,
        weights_buf: &mut Vec<f32>,
        row: &mut [f32],
    ) {
        let weights = match &self.map.weights {
            None => None,
            Some(w) => {
                weights_buf.clear();
                match &self.map.rows {
                    None => weights_buf.extend(ids.iter().map(|&id| w[id as usize])),
                    Some(rows) => weights_buf.extend(
                        ids.iter()
                            .filter(|&&id| rows[id as usize] != SKIP)
                            .map(|&id| w[id as usize]),
                    ),
                }
                Some(weights_buf.as_slice())
            }
        };
        match &self.map.rows {
            None => pool_one(table, ids, weights, opts, row),
            Some(rows) => {
                rows_buf.clear();
                rows_buf.extend(
                    ids.iter()
                        .map(|&id| rows[id as usize])
                        .filter(|&r| r != SKIP),
                );
                pool_one(table, rows_buf, weights, opts, row);
            }
        }
    }

    /// Pool pre-tokenized input (`torch.nn.EmbeddingBag` convention: flat `ids`, bag start `offsets`) into
    /// `out` (`offsets.len()` x `opts.dim`), with the same token map as [`TextEncoder::encode`]: these are
    /// the tokenizer's ids, before the unknown-token drop, the mapping and the weights.
    ///
    /// Every id must be below [`TextEncoder::id_limit`] for this table ([`Error::IdOutOfRange`] otherwise).
    pub fn pool_ids<I: TokenId, O: TokenId>(
        &self,
        table: &Table<'_>,
        ids: &[I],
        offsets: &[O],
        opts: &PoolOptions,
        out: &mut [f32],
    ) -> Result<()> {
        self.pool_ids_rows(table, ids, offsets, opts, out, |rows| rows)
    }

    /// [`TextEncoder::pool_ids`] into memory that need not be initialized, as
    /// [`TextEncoder::encode_truncated_uninit`]. On `Ok`, every element of `out` is initialized.
    pub fn pool_ids_uninit<I: TokenId, O: TokenId>(
        &self,
        table: &Table<'_>,
        ids: &[I],
        offsets: &[O],
        opts: &PoolOptions,
        out: &mut [MaybeUninit<f32>],
    ) -> Result<()> {
        self.pool_ids_rows(table, ids, offsets, opts, out, zeroed_rows)
    }

    fn pool_ids_rows<I: TokenId, O: TokenId, T: Send>(
        &self,
        table: &Table<'_>,
        ids: &[I],
        offsets: &[O],
        opts: &PoolOptions,
        out: &mut [T],
        rows: fn(&mut [T]) -> &mut [f32],
    ) -> Result<()> {
        table.check_dim(opts.dim)?;
        self.check_table(table)?;
        check_offsets(offsets, ids.len())?;
        check_ids_below(ids, self.id_limit(table))?;
        for_each_bag(
            opts,
            offsets,
            ids.len(),
            out,
            rows,
            Scratch::default,
            |scratch, (s, e), row| {
                scratch.ids.clear();
                // Every id is below `limit` <= u32::MAX (checked above), so the cast is exact.
                scratch
                    .ids
                    .extend(ids[s..e].iter().map(|&id| id.index() as u32));
                self.pool_slice(
                    table,
                    opts,
                    &scratch.ids,
                    &mut scratch.rows,
                    &mut scratch.weights,
                    row,
                );
            },
        )
    }

    /// One more than the largest id [`TextEncoder::pool_ids`] accepts with `table`: the vocabulary size when
    /// a token map applies (ids index the map), otherwise the table height (ids are rows).
    pub fn id_limit(&self, table: &Table<'_>) -> usize {
        let mut limit = match &self.map.rows {
            Some(rows) => rows.len(),
            None => table.rows(),
        };
        if let Some(w) = &self.map.weights {
            limit = limit.min(w.len());
        }
        limit.min(u32::MAX as usize)
    }
}

/// The unknown token's id, found the way model2vec finds it: the model's `unk_token` (WordPiece, BPE,
/// WordLevel) looked up in the vocabulary, or a Unigram model's `unk_id`.
fn unknown_token_id(tok: &Tokenizer) -> Result<Option<u32>> {
    let token = match tok.get_model() {
        ModelWrapper::WordPiece(m) => Some(m.unk_token.clone()),
        ModelWrapper::WordLevel(m) => Some(m.unk_token.clone()),
        ModelWrapper::BPE(m) => m.get_unk_token().clone(),
        ModelWrapper::Unigram(m) => {
            // The Unigram model keeps `unk_id` private; its serialized form carries it.
            let value = serde_json::to_value(m).map_err(|e| Error::Tokenizer(e.to_string()))?;
            return Ok(value
                .get("unk_id")
                .and_then(serde_json::Value::as_u64)
                .and_then(|id| u32::try_from(id).ok()));
        }
    };
    Ok(token.and_then(|t| tok.token_to_id(&t)))
}

/// Name the text a tokenizer error came from (other errors pass through unchanged).
fn in_text(i: usize, e: Error) -> Error {
    match e {
        Error::Tokenizer(msg) => Error::Tokenizer(format!("text {i}: {msg}")),
        other => other,
    }
}

/// Refuse the settings of a parsed `tokenizer.json` (the whole file, or the native Unigram's stub of it) that
/// the `tokenizers` crate cannot apply to one text: [`usable_truncation`] and [`usable_post_processor`].
pub(crate) fn usable_settings(tokenizer: &Tokenizer) -> tokenizers::Result<()> {
    if let Some(t) = tokenizer.get_truncation() {
        let only_second = t.strategy == tokenizers::TruncationStrategy::OnlySecond;
        usable_truncation(t.max_length, t.stride, only_second)?;
    }
    usable_post_processor(tokenizer.get_post_processor())
}

/// Refuse a `tokenizer.json` truncation that the `tokenizers` crate cannot apply to one text: it fails on every
/// text longer than `max_length` (`OnlySecond` truncates a second sequence, which one text lacks; a `stride` of
/// `max_length` or more panics), so Sentence Transformers fails there too, where cutting at `max_length` would
/// give a vector no reference gives.
fn usable_truncation(
    max_length: usize,
    stride: usize,
    only_second: bool,
) -> tokenizers::Result<()> {
    if only_second {
        return Err("tokenizer.json truncation: strategy OnlySecond truncates a second sequence, which one text \
                    never has, so every text longer than max_length fails in the tokenizers library; use \
                    LongestFirst or OnlyFirst, or set no truncation"
            .into());
    }
    if max_length > 0 && stride >= max_length {
        return Err(format!(
            "tokenizer.json truncation: stride {stride} is not below max_length {max_length}, so every text \
             longer than max_length fails in the tokenizers library; lower the stride"
        )
        .into());
    }
    Ok(())
}

/// Refuse a post-processor that changes a text's tokens even without special tokens. The post-processor is
/// skipped here (Sentence Transformers and model2vec encode with `add_special_tokens=False`, where the usual
/// ones add nothing), but a `TemplateProcessing` whose one-text template repeats `$A` or leaves it out repeats
/// or drops the text in the tokenizers library too, and one naming `$B` panics there. A probe of two tokens
/// must come back as it went in.
fn usable_post_processor(
    processor: Option<&tokenizers::PostProcessorWrapper>,
) -> tokenizers::Result<()> {
    use tokenizers::{Encoding, PostProcessor, Token};

    let Some(processor) = processor else {
        return Ok(());
    };
    let probe = || {
        let tokens = vec![
            Token::new(5, "a".into(), (0, 1)),
            Token::new(6, "b".into(), (2, 3)),
        ];
        Encoding::from_tokens(tokens, 0)
    };
    let kept = match catch_quietly(|| processor.process(probe(), None, false)) {
        Ok(Ok(out)) => out.get_ids() == probe().get_ids(),
        _ => false,
    };
    if kept {
        return Ok(());
    }
    Err("tokenizer.json post_processor: its template for one text does not hold the text ($A) exactly once, \
         so even without special tokens the tokenizers library repeats, drops or fails on every text; use a \
         single template with one $A"
        .into())
}

/// Run a tokenizer call, turning both its errors and any panic inside it into [`Error::Tokenizer`].
fn guarded<T>(f: impl FnOnce() -> tokenizers::Result<T>) -> Result<T> {
    // The crate builds parts of its own on first use (its regexes) and compiles regexes under Oniguruma's
    // process-wide lock: a fork waits for the call to end (`lazy`).
    let _building = Building::enter();
    match catch_quietly(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Error::Tokenizer(e.to_string())),
        Err(msg) => Err(Error::Tokenizer(format!("the tokenizer panicked: {msg}"))),
    }
}
