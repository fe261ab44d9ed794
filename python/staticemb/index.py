"""Exact search of one collection of documents with a static model: the collection's token weights, each
document's whole and best passage, and the query's terms matched one by one through the table.

    >>> from staticemb import SearchIndex, StaticModel
    >>> index = SearchIndex(model, documents)
    >>> index.search(["web-based file sharing"], top_k=3)[0]
    [{'corpus_id': 17, 'score': 2.41...}, ...]

A document's score for a query ``q`` is the sum of three parts, each at the index's width:

- ``cos(q, d)``, the document's vector against the query's;
- ``max_p cos(q, p)`` over the document's passages (:func:`staticemb.split_passages`): the few words a short
  query shares with a long document are diluted in its mean, not in its best passage;
- ``terms(q, d) = sum_t n_t max_s cos(e_t, e_s) / sum_t n_t``: each distinct token ``t`` the query pools is
  matched to the closest token ``s`` the document pools (1 for the same token), weighted by the norm ``n_t`` of
  its row as the model pools it. It counts how many of the query's terms a document has, as BM25 does, and
  still credits related ones. The tokenizer's unknown token is no term, on either side: it stands for any text
  the vocabulary cannot spell (an English model's "猫" and "☃" are both ``[UNK]``); it stays in the vectors.
  With ``term_frequency=True``, each document token's match also counts how often the token occurs, as BM25
  counts it: a positive ``cos(e_t, e_s)`` times ``c (k1 + 1) / (c + k1 (1 - b + b L /
  avgL))`` for its count ``c`` in a document of ``L`` pooled tokens (``k1 = 1.2``, ``b = 0.75``; 1 for a token
  seen once in a document of the collection's mean length). A negative cosine is not weighed: a document whose
  tokens are all unlike ``t`` keeps its best plain cosine, not pushed further down for repeating them. With
  ``stemmer="english"`` (any Snowball language of ``PyStemmer``), a query token and a document token that are
  whole words in their texts and have the same stem match exactly (``profit`` and ``profits`` score 1, as BM25
  with stemming matches them), whatever the cosine of their rows. A token is a whole word where it starts one (it
  carries the tokenizer's mark of a word start, or is its text's first token, or follows a token that is not
  letters) and the next token does not continue it; the first piece of a longer word (``pine`` of ``pine ##apple
  ##s``) is not stemmed. Counts (``term_frequency``) stay per token, not per stem.

Each part is encoded with the collection's token weights (:meth:`StaticModel.with_corpus_weights`, on by
default). On six English sources the models never trained on, the three parts raised NDCG@10 on average
(1024-d) from 65.9 for the document's vector alone, and 69.1 with the collection's weights, to 74.5, above BM25
with stemming (74.1) (``training/RESULTS-corpus-weights.md``, ``training/RESULTS-passage-scoring.md``,
``training/RESULTS-late-interaction.md``).

With ``bm25="english"`` (any Snowball language; ``bm25s`` and ``PyStemmer``), the sum of the three parts and BM25's
score (the language's stemmer, its stop words dropped where ``bm25s`` has them) are min-max normalized per query
over the collection and averaged (:func:`minmax_fusion`). On the same six held-out sources this fusion scored 76.5
at 1024-d and 256-d, above BM25 with stemming on every one of them (+1.1 to +4.4) and above all-MiniLM-L6-v2 (75.0)
(``training/RESULTS-hybrid-minmax.md``, ``training/RESULTS-hybrid-significance.md``). As it reads each query's
scores over the whole collection, it serves the exact search only: ``candidates`` and :meth:`SearchIndex.rerank`
refuse it.

Cost: the index keeps the documents' and passages' vectors and each document's distinct token ids. A search
compares every query with every document (exact, no approximation): besides the dot products of
:func:`staticemb.semantic_search`, each distinct query token is compared with each distinct token of the
collection, and its best match taken over each document's tokens. For large collections,
``search(queries, candidates=100)`` gives the full score to the vector's best 100 documents only, so the cost
grows with the collection through the dot products alone: over 60,000 package descriptions 6 times faster, and on
the six held-out sources it changed the mean NDCG@10 by -0.2 to +0.1 (``training/RESULTS-shortlist.md``).
:meth:`SearchIndex.rerank` scores candidates from any other first stage (an approximate vector index, BM25).

Prompts are applied as :meth:`StaticModel.encode` applies them (the model's default prompt, if it has one, to
queries and documents alike).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _core, _inputs
from ._bm25 import STOPWORD_LANGUAGES, BM25Index, snowball_stemmer
from .errors import InvalidInputError
from .search import (
    _NO_ID,
    _hits,
    _positive_int,
    _result_count,
    _top_k,
    row_norms,
    split_passages,
    unit_by_peak,
    unit_rows,
)

__all__ = ["SearchIndex"]

_TERM_BLOCK = 1024  # query tokens compared with the collection's tokens at a time
_ENTRIES_PER_DOC = 256  # a block holds at most corpus_chunk_size * this many (document, token) entries
_PASSAGES_PER_DOC = 4  # ... and this many passages
_PAIR_QUERIES = 512  # at most this many queries' token matches are summed at a time
_PAIR_ELEMENTS = 1 << 22  # ... and about this many (query token, document) values (one query at least)
_METASPACE_MARK = "\u2581"  # SentencePiece's mark of a word's first piece
BM25_K1, BM25_B = 1.2, 0.75  # BM25's standard saturation and length normalization, for ``term_frequency``
_FUSED_ELEMENTS = 1 << 24  # with bm25, about this many (query, document) scores per array at a time (64 MB):
# fewer queries at a time would repeat the terms' pass over the collection's tokens once more per chunk


def minmax_fusion(*score_matrices: np.ndarray) -> np.ndarray:
    """The mean of ``(queries, documents)`` score matrices, each min-max normalized per query over its
    documents (``(s - min) / (max - min)``, 0 where a query's scores are all equal), as float32."""
    if not score_matrices:
        raise ValueError("need at least one score matrix")
    shapes = {np.shape(s) for s in score_matrices}
    if len(shapes) != 1:
        raise ValueError(f"score matrices of different shapes: {sorted(shapes)}")
    rows, columns = shapes.pop()
    out = np.zeros((rows, columns), dtype=np.float32)
    step = max(1, (1 << 20) // max(columns, 1))  # float64 temporaries of about 8 MB
    for r0 in range(0, rows if columns else 0, step):
        total = np.zeros((min(step, rows - r0), columns), dtype=np.float64)
        for scores in score_matrices:
            block = np.asarray(scores[r0:r0 + step], dtype=np.float64)
            low = block.min(axis=1, keepdims=True)
            spread = block.max(axis=1, keepdims=True) - low
            total += np.divide(block - low, spread, out=np.zeros_like(block), where=spread > 0)
        out[r0:r0 + step] = total / len(score_matrices)
    return out


class SearchIndex:
    """An exact search index of ``documents`` for ``model`` (see the module's description).

    Args:
        model: a :class:`~staticemb.StaticModel`.
        documents: the texts to search (a list of str, at least one).
        dim: the width to search at (Matryoshka; default the width ``model.encode`` gives: its ``truncate_dim``
            when set, else its ``dim``).
        corpus_weights: weigh each token by its rarity in ``documents`` (``model.with_corpus_weights(documents,
            a=a)``); queries and documents are encoded with the weighted copy.
        a: the SIF coefficient of the corpus weights.
        passages: add each document's best passage to its score.
        terms: add the query's terms matched through the table.
        term_frequency: in the terms, weigh each document token's positive match by BM25's factor for its count
            in the document and the document's length.
        stemmer: in the terms, match two whole words with the same stem exactly: the name of a Snowball
            stemmer of ``PyStemmer`` (``"english"``, ``"french"``, ...; ``pip install PyStemmer``), or ``None``
            (the default) for no stemming. The tokenizer must mark where words start (WordPiece's ``##``,
            SentencePiece's ``▁``, byte-level BPE's ``Ġ``, or a word-level vocabulary).
        bm25: fuse the score with BM25's (the documents' words reduced by this Snowball stemmer of ``PyStemmer``,
            ``"english"``, ``"french"``, ...; stop words dropped where ``bm25s`` has them for the language): each
            query's two scores are min-max normalized over the collection and averaged. ``None`` (the default): the
            model's score alone. Needs ``pip install "staticemb[search]"`` (``bm25s``, ``PyStemmer``).
        show_progress_bar: tqdm bars while the collection is counted and encoded.

    A text listed more than once is indexed once (the corpus weights and BM25's mean length still count every
    copy): its copies share one score, exactly, and come in id order among the hits.
    """

    def __init__(self, model: Any, documents: Iterable[str], *, dim: int | None = None, corpus_weights: bool = True,
                 a: float = 1e-3, passages: bool = True, terms: bool = True, term_frequency: bool = False,
                 stemmer: str | None = None, bm25: str | None = None, show_progress_bar: bool | None = None) -> None:
        from .model import StaticModel

        if not isinstance(model, StaticModel):
            raise TypeError(f"model must be a staticemb.StaticModel, not {type(model).__name__}")
        docs = _inputs.str_texts(documents, "documents", "document")
        if not docs:
            raise InvalidInputError("documents is empty: an index needs at least one document")
        progress = _inputs.flag("show_progress_bar", show_progress_bar, default=False)
        self._passages = _inputs.flag("passages", passages, default=True)
        self._terms = _inputs.flag("terms", terms, default=True)
        self._term_frequency = _inputs.flag("term_frequency", term_frequency, default=False)
        if self._term_frequency and not self._terms:
            raise InvalidInputError("term_frequency weighs the terms part: it needs terms=True")
        if stemmer is not None and not isinstance(stemmer, str):
            raise TypeError(f"stemmer must be a Snowball language name (str) or None, not {type(stemmer).__name__}")
        if stemmer is not None and not self._terms:
            raise InvalidInputError("stemmer matches the terms part's tokens: it needs terms=True")
        self._stemmer = stemmer
        if bm25 is not None and not isinstance(bm25, str):
            raise TypeError(f"bm25 must be a Snowball language name (str) or None, not {type(bm25).__name__}")
        # Each token id's stem class and word marks (stemmer only): whole words with the same stem share a class.
        self._stems = None if stemmer is None else _stem_classes(model.tokenizer, stemmer, model.vocab_size)
        from .train.weighting import check_coefficient

        a = check_coefficient(a)  # checked whether or not it is used
        if _inputs.flag("corpus_weights", corpus_weights, default=True):
            model = model.with_corpus_weights(docs, a=a, show_progress_bar=progress)
        else:  # a copy sharing the table, as above: prompts set on the caller's model later reach no query
            model = model.with_options()
        self._model = model
        # The width encode gives by default: a truncate_dim set on the model, else its dim.
        self._dim = _inputs.dim(dim, full=model.full_dim, default=model.get_sentence_embedding_dimension())
        # Once every option is checked: BM25 over every listed document (a text listed twice counts twice in BM25's
        # statistics, as in the corpus weights); its copies score the same, so each distinct text reads its first
        # copy's score.
        self._lexical = None if bm25 is None else BM25Index(
            docs, stemmer=bm25, stopwords=bm25 if bm25 in STOPWORD_LANGUAGES else None)
        self._bm25_language = bm25
        # A text listed more than once is indexed once: its copies share one score, exactly (float32 products
        # of separate copies could differ in the last bit and lose their tie), at the cost of one.
        slot: dict[str, int] = {}
        self._inverse = np.fromiter((slot.setdefault(t, len(slot)) for t in docs), np.int64, len(docs))
        docs = list(slot)  # the distinct texts, in the order they first appear
        self._size = len(docs)
        self._members = np.argsort(self._inverse, kind="stable")  # each distinct text's positions, in order
        self._member_starts = np.searchsorted(self._inverse[self._members], np.arange(self._size + 1))
        self._firsts = self._members[self._member_starts[:-1]]  # each distinct text's first position
        self._docs = self._encode(docs, progress)
        self._bounds = np.arange(len(docs) + 1, dtype=np.int64)
        self._parts = np.zeros((0, self._dim), np.float32)
        if self._passages:
            parts, owner = split_passages(docs)
            self._parts = self._encode(parts, progress)
            self._bounds = np.searchsorted(owner, np.arange(len(docs) + 1)).astype(np.int64)
        # Each document's distinct pooled tokens, as positions into the collection's vocabulary.
        self._entries = np.zeros(0, np.int64)
        self._starts = np.zeros(len(docs) + 1, np.int64)
        self._scales: np.ndarray | None = None  # each entry's BM25 factor, with term_frequency
        self._vocab_class = np.zeros(0, np.int64)  # each collection token's stem class, with a stemmer
        self._entry_whole = np.zeros(0, np.int64)  # 1 where the entry's token is a whole word in its document
        if self._terms:
            ids, starts, counts, lengths, whole = self._term_entries(docs)
            vocab, self._entries = np.unique(ids, return_inverse=True)
            self._starts = starts
            self._mean_length = float(lengths[self._inverse].mean())  # over every listed document
            if self._term_frequency:
                self._scales = self._bm25(counts, lengths, starts)
            self._vocab_rows = _unit(self._term_rows(vocab))
            if self._stems is not None and whole is not None:
                self._vocab_class = self._stems.classes[vocab]
                self._entry_whole = whole.astype(np.int64)

    # ------------------------------------------------------------------ public

    @property
    def model(self) -> Any:
        """The model the index encodes with: a copy of the one given, sharing its table, taken when the index was
        built (so later changes to that model's prompts do not reach it), with the corpus weights when
        ``corpus_weights``. Its options (``max_length``, prompts) are read for every query: changing them here
        changes how queries are encoded, not the documents indexed; build a new index instead."""
        return self._model

    @property
    def dim(self) -> int:
        """The width searched at."""
        return self._dim

    def __len__(self) -> int:
        return len(self._inverse)

    def __repr__(self) -> str:
        parts = ["document"] + ["passages"] * self._passages + ["terms"] * self._terms
        parts[-1] += " (term frequency)" * (self._terms and self._term_frequency)
        parts[-1] += f" (stemmer={self._stemmer!r})" * (self._stemmer is not None)
        fused = f", min-max fused with BM25 (bm25={self._bm25_language!r})" * (self._lexical is not None)
        return f"SearchIndex({len(self)} documents, dim={self._dim}, scores: {' + '.join(parts)}{fused})"

    def search(self, queries: Iterable[str], top_k: int = 10, *, candidates: int | None = None,
               query_chunk_size: int = 4096, corpus_chunk_size: int = 4096) -> list[list[dict[str, int | float]]]:
        """The ``top_k`` documents for each query, best first, ties by increasing id:
        :func:`staticemb.semantic_search`'s structure (``corpus_id`` is the document's index).

        ``candidates``: score every document by its vector alone, and the full score of the best ``candidates``
        of them only (at least ``top_k``; :meth:`rerank`). The search's cost then grows with the collection
        only through the vectors' dot products; the hits are the exact search's whenever those are among the
        candidates (up to the last bits of float rounding, as for the chunk sizes). ``None`` (the default): every
        document gets the full score. Not with ``bm25``: its fusion normalizes each query's scores over the whole
        collection.

        ``query_chunk_size`` queries and ``corpus_chunk_size`` documents are scored at a time (memory grows with
        ``corpus_chunk_size`` times the queries, and times the distinct tokens of those queries); the result does
        not depend on them, except in the last bits of float rounding."""
        top_k = min(_result_count(top_k), len(self))  # more hits than documents: every document
        q_chunk = _positive_int(query_chunk_size, "query_chunk_size")
        c_chunk = _positive_int(corpus_chunk_size, "corpus_chunk_size")
        c_chunk = min(c_chunk, self._size)  # no block is larger than the collection
        shortlist = None if candidates is None else max(_positive_int(candidates, "candidates"), top_k)
        if shortlist is not None:
            self._check_unfused("search(candidates=...)")
        q_chunk = self._fused_chunk(q_chunk)
        items = self._queries(queries)
        if top_k == 0:
            return [[] for _ in items]
        if shortlist is not None and shortlist < self._size:
            hits = []
            for q0 in range(0, len(items), q_chunk):
                chunk = items[q0:q0 + q_chunk]
                q = self._encode_queries(chunk)
                vectors = ((0, c0, q @ self._docs[c0:c0 + c_chunk].T) for c0 in range(0, self._size, c_chunk))
                ids = _top_k(len(chunk), shortlist, vectors)[1]
                # Of a text's copies only its first top_k can be among the hits (copies share a score).
                hits += self._rerank(chunk, [self._listed(row[row != _NO_ID], top_k) for row in ids], top_k, q)
            return hits
        blocks = ((q0, start, scores) for q0 in range(0, len(items), q_chunk)
                  for start, scores in self._blocks(items[q0:q0 + q_chunk], c_chunk))
        scores, ids = _top_k(len(items), min(top_k, self._size), blocks)
        if self._size == len(self):
            return _hits(scores, ids)
        # Each distinct text's copies, in id order, at its place: the top k of them are among the copies of the
        # top k texts (a text ranks first by its first copy).
        hits = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            keep = row_ids != _NO_ID
            texts, text_scores = row_ids[keep], row_scores[keep]
            listed = self._listed(texts, top_k)
            order = np.argsort(texts)
            hits.append(_ranked(listed, text_scores[order][np.searchsorted(texts[order], self._inverse[listed])],
                                top_k))
        return hits

    def rerank(self, queries: Iterable[str], candidates: Sequence[Iterable[int]], top_k: int | None = None
               ) -> list[list[dict[str, int | float]]]:
        """The full score of each query's ``candidates`` (document indices, from any first-stage search), best
        first, ties by increasing id, at most ``top_k`` of them (default all): :meth:`search`'s structure. A
        candidate listed twice is scored once. Every candidate must be a document index, ``0 <= id < len(index)``:
        drop an approximate index's ``-1`` padding first. Not with ``bm25`` (its fusion normalizes each query's
        scores over the whole collection)."""
        self._check_unfused("rerank")
        items = self._queries(queries)
        if (isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence | np.ndarray)
                or isinstance(candidates, np.ndarray) and candidates.ndim == 0):
            raise TypeError(f"candidates must be a sequence of document index lists, one per query, not "
                            f"{type(candidates).__name__}")
        if len(candidates) != len(items):
            raise InvalidInputError(f"candidates has {len(candidates)} lists for {len(items)} queries")
        lists = [_inputs.document_ids(c, f"candidates[{i}]", len(self)) for i, c in enumerate(candidates)]
        k = None if top_k is None else _result_count(top_k)
        return self._rerank(items, lists, k, self._encode_queries(items))

    def scores(self, queries: Iterable[str], *, query_chunk_size: int = 4096) -> np.ndarray:
        """Every query's score for every document: a ``(queries, documents)`` float32 array."""
        q_chunk = self._fused_chunk(_positive_int(query_chunk_size, "query_chunk_size"))
        items = self._queries(queries)
        out = np.zeros((len(items), self._size), np.float32)
        for q0 in range(0, len(items), q_chunk):
            for start, scores in self._blocks(items[q0:q0 + q_chunk], 4096):
                out[q0:q0 + q_chunk, start:start + scores.shape[1]] = scores
        return self._per_document(out)

    # ------------------------------------------------------------------ internals

    def _check_unfused(self, what: str) -> None:
        if self._lexical is not None:
            raise InvalidInputError(f"{what} scores a subset of the collection, and bm25's fusion normalizes each "
                                    "query's scores over the whole collection: search it whole, or build the index "
                                    "without bm25")

    def _fused_chunk(self, q_chunk: int) -> int:
        """With ``bm25``, few enough queries at a time that their scores for the whole collection stay near
        ``_FUSED_ELEMENTS`` values per array."""
        return q_chunk if self._lexical is None else min(q_chunk, max(1, _FUSED_ELEMENTS // len(self)))

    def _queries(self, queries: Iterable[str]) -> list[str]:
        return _inputs.str_texts(queries, "queries", "query")

    def _encode_queries(self, items: list[str]) -> np.ndarray:
        return self._encode(items, False) if items else np.zeros((0, self._dim), np.float32)

    def _rerank(self, items: list[str], lists: list[np.ndarray], top_k: int | None, q: np.ndarray
                ) -> list[list[dict[str, int | float]]]:
        """Every query's full score of its own candidates (sorted, distinct document ids), best ``top_k``;
        ``q``: the queries' vectors."""
        terms = self._query_terms(items) if self._terms else None
        hits = []
        for i, listed in enumerate(lists):
            ids, back = np.unique(self._inverse[listed], return_inverse=True)  # each distinct text once
            scores = self._docs[ids] @ q[i]
            if self._passages and len(ids):
                rows, starts = _ranges(self._bounds, ids)
                scores += np.maximum.reduceat(self._parts[rows] @ q[i], starts)
            if terms is not None and len(ids):
                scores += self._candidate_terms(terms, i, ids)
            hits.append(_ranked(listed, scores[back], top_k))
        return hits

    def _query_terms(self, items: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray | None]:
        """The queries' distinct tokens: their unit rows, each (query, token) pair's token and weight (the
        token's norm over the sum of its query's), where each query's pairs start, and the tokens' stem classes
        (None without a stemmer; a token that is no whole word of its query gets a class of its own)."""
        q_ids, q_starts, _, _, q_whole = self._term_entries(items)
        term_class = None
        if self._stems is None or q_whole is None:
            terms, pair_term = np.unique(q_ids, return_inverse=True)
        else:  # a token is one term where it is a whole word of its query and another where it is not
            keys, pair_term = np.unique(q_ids.astype(np.int64) * 2 + q_whole, return_inverse=True)
            terms = keys // 2
            term_class = np.where(keys % 2 == 1, self._stems.classes[terms], -1 - terms)
        # In float64, and with no floor on the norms: tiny corpus weights (a small SIF a) scale every row down,
        # and only the ratios of the norms within a query matter.
        term_rows = self._term_rows(terms).astype(np.float64)
        norms = row_norms(term_rows)
        term_unit = term_rows / np.where(norms > 0, norms, 1.0)[:, None]
        weights = self._term_weights(terms, norms)
        pair_query = np.repeat(np.arange(len(items)), np.diff(q_starts))
        totals = np.bincount(pair_query, weights=weights[pair_term], minlength=len(items))
        pair_weight = (weights[pair_term] / np.where(totals > 0, totals, 1.0)[pair_query]).astype(np.float32)
        return term_unit.astype(np.float32), pair_term, pair_weight, q_starts, term_class

    def _candidate_terms(self, terms: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
                         i: int, ids: np.ndarray) -> np.ndarray:
        """Query ``i``'s terms part against documents ``ids``."""
        term_unit, pair_term, pair_weight, q_starts, term_class = terms
        lo, hi = int(q_starts[i]), int(q_starts[i + 1])
        if lo == hi:
            return np.zeros(len(ids), np.float32)
        entries, offsets = _ranges(self._starts, ids)
        classes = None if term_class is None else term_class[pair_term[lo:hi]]
        best = self._maxima(entries, offsets, term_unit[pair_term[lo:hi]], classes)
        best[:, self._starts[ids + 1] == self._starts[ids]] = 0.0  # documents without tokens
        # Summed as _score_parts sums a query's terms (float32, one token after another), so that the exact
        # search and the rerank give tied documents the same score.
        best *= pair_weight[lo:hi, None]
        return np.add.reduceat(best, [0], axis=0)[0]

    def _maxima(self, entries: np.ndarray | slice, offsets: np.ndarray, term_unit: np.ndarray,
                term_class: np.ndarray | None) -> np.ndarray:
        """``(query tokens, documents)``: each document's best match for each query token (``term_unit``, with
        their stem classes or None), the documents' entries being ``self._entries[entries]`` and each document's
        first at ``offsets``. A block of query tokens at a time, for bounded memory."""
        used, position = np.unique(self._entries[entries], return_inverse=True)
        position = position.astype(np.int64)
        if term_class is not None:  # whole-word entries read the stemmed copy of the similarities
            position += len(used) * self._entry_whole[entries]
        rows = self._vocab_rows[used]
        scales = None if self._scales is None else np.ascontiguousarray(self._scales[entries])
        out = np.empty((len(term_unit), len(offsets)), np.float32)
        for t0 in range(0, len(term_unit), _TERM_BLOCK):
            t1 = min(t0 + _TERM_BLOCK, len(term_unit))
            sim = rows @ term_unit[t0:t1].T  # (the documents' tokens, query tokens), C order
            if term_class is not None:
                sim = self._with_stems(sim, used, term_class[t0:t1])
            # The Rust core takes each document's element-wise maximum over its tokens' rows, without the GIL.
            if scales is None:
                out[t0:t1] = _core.segment_max(sim, position, offsets, -np.inf).T
            else:  # BM25's factor counts the positive matches only (see the module's description)
                best = _core.segment_max(np.maximum(sim, 0.0), position, offsets, -np.inf, scales=scales)
                if (best <= 0).any():  # no positive match: the best plain cosine
                    best = np.where(best > 0, best, _core.segment_max(sim, position, offsets, -np.inf))
                out[t0:t1] = best.T
        return out

    def _with_stems(self, sim: np.ndarray, used: np.ndarray, term_class: np.ndarray) -> np.ndarray:
        """``sim`` (the collection tokens ``used`` against query terms) stacked on a copy of it in which a
        token and a term of the same stem class match exactly: the rows an entry that is a whole word reads."""
        stemmed = sim.copy()
        _stem_matches(stemmed, self._vocab_class[used], term_class)
        return np.concatenate([sim, stemmed])

    def _listed(self, texts: np.ndarray, cap: int) -> np.ndarray:
        """The positions in the collection of the distinct ``texts`` (indices of the texts indexed), at most the
        first ``cap`` of each text's copies, sorted."""
        if self._size == len(self):
            return np.sort(texts)
        first = self._member_starts[texts]
        counts = np.minimum(self._member_starts[texts + 1] - first, cap)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.sort(self._members[np.repeat(first, counts) + offsets])

    def _per_document(self, scores: np.ndarray) -> np.ndarray:
        """``(queries, distinct texts)`` scores as ``(queries, documents)``: each copy gets its text's column."""
        return scores if self._size == len(self) else scores[:, self._inverse]

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        vectors = np.asarray(self._model.encode(texts, dim=self._dim, normalize=True, show_progress_bar=progress))
        if not np.isfinite(vectors).all():  # a damaged table: NaN or infinite rows, or sums past float32
            raise InvalidInputError("the model's vectors hold NaN or infinity for some texts: its embedding table "
                                    "is damaged (NaN or infinite rows, or values too large to sum in float32)")
        return _rescued(vectors)  # unit rows whatever the corpus weights' scale

    def _term_counts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each text's distinct terms (the token ids it pools), sorted, concatenated; where each text's start;
        how often each occurs in its text; and how many terms each text has."""
        return self._term_entries(texts)[:4]

    def _term_entries(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                        np.ndarray | None]:
        """:meth:`_term_counts`, and with a stemmer whether each entry's token is a whole word of its text at
        least once (None without)."""
        ids, lengths = self._pooled_terms(texts)
        lengths = np.asarray(lengths, np.int64)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        vocab = int(ids.max()) + 1 if len(ids) else 1
        keys, inverse, counts = np.unique(rows * vocab + ids.astype(np.int64), return_inverse=True,
                                          return_counts=True)
        whole = None
        if self._stems is not None:  # read on the whole sequence: the unknown token ends a word like any other
            whole = np.bincount(inverse, weights=self._stems.whole(ids, lengths), minlength=len(keys)) > 0
        # The unknown token is no term: it stands for any text the vocabulary cannot spell, so a query's "猫"
        # would match a document's "☃" exactly. It stays in the vectors and in the lengths BM25's factor reads.
        unknown = self._unknown_term()
        if unknown is not None:
            known = keys % vocab != unknown
            keys, counts = keys[known], counts[known]
            whole = None if whole is None else whole[known]
        starts = np.searchsorted(keys // vocab, np.arange(len(texts) + 1)).astype(np.int64)
        return keys % vocab, starts, counts, lengths, whole

    def _pooled_terms(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The terms of each text in order, concatenated, and how many each text has: the token ids the model
        pools (its prompt, ``max_length`` and unknown-token drop applied)."""
        return self._model._default_pooled_ids(texts)

    def _unknown_term(self) -> int | None:
        """The id in :meth:`_pooled_terms`' output that is no term: the tokenizer's unknown token (None for a
        tokenizer without one, such as byte-level BPE)."""
        unknown: int | None = self._model._native.unknown_token
        return unknown

    def _term_weights(self, terms: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """Each query term's weight in the terms part: the norm of its row as the model pools it."""
        return norms

    def _term_rows(self, terms: np.ndarray) -> np.ndarray:
        """The vectors of ``terms`` at the index's width: the rows the model pools for those token ids."""
        return self._model._token_rows(terms, self._dim)

    def _bm25(self, counts: np.ndarray, lengths: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """BM25's factor of each (text, token) entry: ``c (k1 + 1) / (c + k1 (1 - b + b L / avgL))``, ``c`` the
        entry's count, ``L`` its text's length, ``avgL`` the collection's mean length."""
        length = np.repeat(lengths, np.diff(starts)).astype(np.float64)
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / max(self._mean_length, 1e-12))
        return (counts * (BM25_K1 + 1.0) / (counts + norm)).astype(np.float32)

    def _blocks(self, items: list[str], c_chunk: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(first document, scores of every query against a block of documents)`` for the collection's
        blocks in order; with ``bm25``, one block: the whole collection, fused."""
        if self._lexical is None:
            yield from self._model_blocks(items, c_chunk)
            return
        model = np.empty((len(items), self._size), np.float32)
        for start, scores in self._model_blocks(items, c_chunk):
            model[:, start:start + scores.shape[1]] = scores
        yield 0, minmax_fusion(model, self._lexical.scores(items)[:, self._firsts])

    def _model_blocks(self, items: list[str], c_chunk: int) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`_blocks` of the model's score alone."""
        for start, parts in self._score_parts(items, c_chunk):
            scores = parts.pop("document")
            for part in parts.values():
                scores += part
            yield start, scores

    def _score_parts(self, items: list[str], c_chunk: int) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """The parts of the score (``"document"``, and ``"passages"`` and ``"terms"`` where the index has them)
        of every query against each block of documents, with the block's first document."""
        q = self._encode_queries(items)
        if self._terms:
            term_unit, pair_term, pair_weight, q_starts, term_class = self._query_terms(items)
            with_terms = np.flatnonzero(np.diff(q_starts) > 0)  # the queries that have tokens
            firsts = q_starts[with_terms]  # the first (query, token) pair of each
        start = 0
        while start < self._size:
            end = self._block_end(start, c_chunk)
            parts = {"document": q @ self._docs[start:end].T}
            if self._passages:
                p0, p1 = int(self._bounds[start]), int(self._bounds[end])
                parts["passages"] = np.maximum.reduceat(q @ self._parts[p0:p1].T, self._bounds[start:end] - p0, axis=1)
            if self._terms:
                sums = np.zeros((len(items), end - start), np.float32)
                if len(term_unit):
                    best = self._best_matches(term_unit, term_class, start, end)  # (query tokens, block's documents)
                    # Bounded memory: the pairs of a few queries at a time, about _PAIR_ELEMENTS values.
                    for i, j in _groups(firsts, len(pair_term), max(_PAIR_ELEMENTS // (end - start), 1)):
                        lo = firsts[i]
                        hi = firsts[j] if j < len(firsts) else len(pair_term)
                        weighted = best[pair_term[lo:hi]]
                        weighted *= pair_weight[lo:hi, None]
                        sums[with_terms[i:j]] = np.add.reduceat(weighted, firsts[i:j] - lo, axis=0)
                parts["terms"] = sums
            yield start, parts
            start = end

    def _block_end(self, start: int, c_chunk: int) -> int:
        """The end of the block of documents from ``start``: at most ``c_chunk`` documents,
        ``_PASSAGES_PER_DOC * c_chunk`` passages and ``_ENTRIES_PER_DOC * c_chunk`` token entries, one document at
        least."""
        end = min(start + c_chunk, self._size)
        if self._passages:
            budget = _PASSAGES_PER_DOC * c_chunk
            end = min(end, int(np.searchsorted(self._bounds, self._bounds[start] + budget, "right")) - 1)
        if self._terms:
            budget = _ENTRIES_PER_DOC * c_chunk
            end = min(end, int(np.searchsorted(self._starts, self._starts[start] + budget, "right")) - 1)
        return max(end, start + 1)

    def _best_matches(self, term_unit: np.ndarray, term_class: np.ndarray | None, start: int, end: int
                      ) -> np.ndarray:
        """``best[t, d]``: the largest cosine between query token ``t`` and a token of document ``start + d``
        (1 for a token of the same stem class, with a stemmer; 0 for a document without tokens)."""
        e0, e1 = int(self._starts[start]), int(self._starts[end])
        if e1 == e0:
            return np.zeros((len(term_unit), end - start), np.float32)
        offsets = (self._starts[start:end] - e0).astype(np.int64)
        best = self._maxima(slice(e0, e1), offsets, term_unit, term_class)
        best[:, self._starts[start + 1:end + 1] == self._starts[start:end]] = 0.0  # documents without tokens
        return best


class _Stems(NamedTuple):
    """What the terms part needs to match whole words by their stems, per token id."""

    classes: np.ndarray  #: the stem class a token has where it is a whole word of letters (else -1 - id)
    marked: np.ndarray  #: the token carries the tokenizer's mark of a word's first piece
    pieces: np.ndarray  #: the token can only continue a word (WordPiece's ``##`` pieces)
    letters: np.ndarray  #: the token's text (its mark removed) is made of letters and their marks (Mn, Mc)

    def whole(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Whether each token of texts ``ids`` (concatenated, ``lengths`` tokens each) is a whole word of letters:
        it starts a word (it carries the mark, or is its text's first token or follows one that is not letters,
        and is no ``##`` piece) and the next token does not continue it (the text ends, or the next token
        carries the mark or is not letters)."""
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return np.zeros(0, bool)
        firsts = (np.cumsum(lengths) - lengths)[lengths > 0]
        lasts = np.cumsum(lengths)[lengths > 0] - 1
        letters, marked = self.letters[ids], self.marked[ids]
        after_other = np.ones(len(ids), bool)
        after_other[1:] = ~letters[:-1]
        after_other[firsts] = True
        before_other = np.ones(len(ids), bool)
        before_other[:-1] = marked[1:] | ~letters[1:]
        before_other[lasts] = True
        return letters & (marked | after_other & ~self.pieces[ids]) & before_other


def _byte_level(tokenizer: Any) -> bool:
    """Whether ``tokenizer``'s pre-tokenizer or decoder is byte-level (its tokens are byte symbols)."""
    parts = (tokenizer.pre_tokenizer, tokenizer.decoder)
    return any(part is not None and b'"ByteLevel"' in part.__getstate__() for part in parts)


def _stem_classes(tokenizer: Any, language: str, size: int = 0) -> _Stems:
    """The stem classes and word marks of ``tokenizer``'s ids (a ``tokenizers.Tokenizer``), for ids ``0 ..
    max(size, largest id + 1) - 1``: tokens made of letters share a class when their lowercased Snowball stems in
    ``language`` are equal; every other token, and every id the vocabulary lacks, is a class of its own. A
    byte-level vocabulary's tokens are read as the text they decode to."""
    stemmer = snowball_stemmer(language, "stemmer")
    kind = type(tokenizer.model).__name__
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.__getitem__)
    n = max(size, max(vocab.values(), default=-1) + 1)
    marked, pieces, letters = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    if kind == "WordLevel":
        words, marks = tokens, [True] * len(tokens)
    elif kind == "WordPiece":
        prefix = tokenizer.model.continuing_subword_prefix or "##"
        marks = [not t.startswith(prefix) for t in tokens]
        words = [t if mark else t[len(prefix):] for t, mark in zip(tokens, marks, strict=True)]
    else:  # SentencePiece's Metaspace and byte-level BPE mark a word's first piece
        if _byte_level(tokenizer):  # byte symbols: read the text they stand for
            from tokenizers.decoders import ByteLevel

            decoder = ByteLevel()
            texts = [decoder.decode([t]) for t in tokens]
            marks = [t[:1] == " " for t in texts]
        else:
            texts = tokens
            marks = [t[:1] == _METASPACE_MARK for t in tokens]
        words = [t[1:] if mark else t for t, mark in zip(texts, marks, strict=True)]
        if not any(marks):
            raise InvalidInputError("stemmer= needs a tokenizer that marks where words start (WordPiece, "
                                    f"SentencePiece or byte-level BPE); this {kind} vocabulary marks none")
    ids = np.array([vocab[t] for t in tokens], np.int64)
    marked[ids] = marks
    if kind == "WordPiece":
        pieces[ids] = ~marked[ids]
    letters[ids] = [_letters(w) for w in words]
    # A token of marks alone (a vowel sign split off as its own piece) continues a word but has no stem.
    stemmable = np.array([any(c.isalpha() for c in w) for w in words], bool) & letters[ids]
    alpha = ids[stemmable]
    stems = stemmer.stemWords([w.lower() for w, keep in zip(words, stemmable, strict=True) if keep])
    keys: dict[str, int] = {}
    classes = -1 - np.arange(n, dtype=np.int64)  # a class of its own for each id
    classes[alpha] = [keys.setdefault(stem, len(keys)) for stem in stems]
    return _Stems(classes, marked, pieces, letters)


def _letters(text: str) -> bool:
    """Whether ``text`` is made of letters and the marks that go with them (vowel signs, viramas, accents:
    Unicode's Mn and Mc): part of a word, in Latin, Cyrillic or Greek as in Devanagari or Tamil."""
    return bool(text) and all(c.isalpha() or unicodedata.category(c) in ("Mn", "Mc") for c in text)


def _stem_matches(sim: np.ndarray, token_class: np.ndarray, term_class: np.ndarray) -> None:
    """Set ``sim[u, t]`` to 1 where collection token ``u`` and query token ``t`` have the same stem class."""
    order = np.argsort(term_class, kind="stable")
    sorted_class = term_class[order]
    lo = np.searchsorted(sorted_class, token_class, "left")
    n = np.searchsorted(sorted_class, token_class, "right") - lo
    total = int(n.sum())
    if total:
        within = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
        sim[np.repeat(np.arange(len(token_class)), n), order[np.repeat(lo, n) + within]] = 1.0


def _groups(firsts: np.ndarray, total: int, budget: int) -> Iterator[tuple[int, int]]:
    """Consecutive runs ``[i, j)`` of queries whose pairs start at ``firsts`` (``total`` pairs in all): at most
    :data:`_PAIR_QUERIES` queries and ``budget`` pairs each, one query at least."""
    ends = np.append(firsts[1:], total)
    i = 0
    while i < len(firsts):
        j = int(np.searchsorted(ends, firsts[i] + budget, "right"))
        j = min(max(j, i + 1), i + _PAIR_QUERIES, len(firsts))
        yield i, j
        i = j


def _ranked(ids: np.ndarray, scores: np.ndarray, top_k: int | None) -> list[dict[str, int | float]]:
    """The best ``top_k`` of documents ``ids`` with ``scores`` as hits: by decreasing score, ties by increasing
    id, NaN last (as in the exact top k)."""
    order = np.lexsort((ids, -scores))[:top_k]
    return [{"corpus_id": int(ids[j]), "score": float(scores[j])} for j in order]


def _ranges(bounds: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``bounds[d]:bounds[d + 1]`` of each document ``d`` of ``ids``, concatenated, and where each
    document's start in that concatenation."""
    lengths = bounds[ids + 1] - bounds[ids]
    starts = (np.cumsum(lengths) - lengths).astype(np.int64)
    return np.repeat(bounds[ids] - starts, lengths) + np.arange(int(lengths.sum())), starts


def _unit(x: np.ndarray) -> np.ndarray:
    """Unit rows as float32, also for rows too small for ``unit_rows``'s floor (tiny corpus weights with a small
    SIF ``a``). Zero rows stay zero."""
    return _rescued(unit_rows(x).astype(np.float32))


def _rescued(unit: np.ndarray) -> np.ndarray:
    """``unit`` (rows divided by ``max(norm, eps)``) with its nonzero rows that are not unit length, whose norms
    were below the floor (or too small to square), made unit length, in place."""
    at, rows = unit_by_peak(unit, np.flatnonzero(row_norms(unit) < 1.0 - 1e-4))
    unit[at] = rows
    return unit
