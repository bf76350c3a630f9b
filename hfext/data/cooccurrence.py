"""The lecture's first word representations: one-hot vectors and the window co-occurrence matrix
(which is also GloVe's training data).

>>> vocabulary = ["I", "like", "enjoy", "deep", "learning", "NLP", "flying", "."]
>>> sentences = list(split_sentences(["I like deep learning. I like NLP. I enjoy flying."]))
>>> sentences
['I like deep learning .', 'I like NLP .', 'I enjoy flying .']
>>> ids = [[vocabulary.index(w) for w in s.split()] for s in sentences]
>>> X = cooccurrence_matrix(ids, len(vocabulary), window=1)
>>> X.toarray()[0].tolist()  # the row of "I" on the lecture's slide
[0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]

Counting is vectorised per chunk of whole sentences (one numpy pass per distance 1..window), chunks are
summed into a sparse matrix as they stream by, so the corpus never has to fit in memory: only the
matrix does, and its size is bounded by the vocabulary, not the corpus.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import see
from .corpus import EncodedCorpus, Vocabulary

logger = logging.getLogger(__name__)

SENTENCE_END = (".", "!", "?")
PAIR_BUDGET = 1 << 24  # (row, column) entries counted per chunk: bounds the temporary memory (~400 MB)
COOCCURRENCE_FORMAT = "hfext.cooccurrence"


def one_hot(words: str | Sequence[str], vocabulary: Sequence[str] | Vocabulary) -> np.ndarray:
    """One-hot vectors: word i of the vocabulary is the unit vector e_i (shape (len(words), V)).

    Any two distinct one-hot vectors are orthogonal (cosine 0), which is why they can't express
    that "cat" is closer to "dog" than to "car": the lecture's motivation for dense word vectors.
    """
    vocab = list(vocabulary.words if isinstance(vocabulary, Vocabulary) else vocabulary)
    if not vocab:
        raise ValueError("the vocabulary is empty; one-hot vectors need at least one word" + see("vocabulary"))
    index = {word: i for i, word in enumerate(vocab)}
    if len(index) != len(vocab):
        raise ValueError("the vocabulary has repeated words; each word must appear once" + see("vocabulary"))
    words = [words] if isinstance(words, str) else list(words)
    missing = [w for w in words if w not in index]
    if missing:
        raise KeyError(f"word {missing[0]!r} is not in the vocabulary ({len(vocab)} words); add it or drop it"
                       + see("vocabulary"))
    vectors = np.zeros((len(words), len(vocab)), dtype=np.float32)
    vectors[np.arange(len(words)), [index[w] for w in words]] = 1.0
    return vectors


def split_sentences(
    lines: Iterable[str], split_punctuation: bool = True, sentence_end: Iterable[str] = SENTENCE_END
) -> Iterator[str]:
    """Sentences as space-separated tokens: punctuation split off words (``tokenizers``' Punctuation
    pre-tokenizer) and a sentence ended after each ``sentence_end`` token and at each line end."""
    from tokenizers import pre_tokenizers

    splitter = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")])
    ends = set(sentence_end)
    for line in lines:
        tokens = [t for t, _ in splitter.pre_tokenize_str(line)] if split_punctuation else line.split()
        sentence: list[str] = []
        for token in tokens:
            sentence.append(token)
            if token in ends:
                yield " ".join(sentence)
                sentence = []
        if sentence:
            yield " ".join(sentence)


def _chunks_of(sentences, chunk_tokens: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, sentence index) arrays of about ``chunk_tokens`` tokens, whole sentences each."""
    if isinstance(sentences, EncodedCorpus):
        offsets = np.asarray(sentences.offsets)
        starts = np.searchsorted(offsets[:-1], np.arange(0, sentences.num_tokens, chunk_tokens), side="left")
        bounds = np.unique(np.append(starts, sentences.num_sentences))
        for a, b in itertools.pairwise(bounds):
            ids = np.asarray(sentences.ids[offsets[a] : offsets[b]], dtype=np.int64)
            yield ids, np.repeat(np.arange(b - a), np.diff(offsets[a : b + 1]))
        return
    pieces: list[np.ndarray] = []
    size = 0
    for sentence in sentences:
        pieces.append(np.asarray(sentence, dtype=np.int64).reshape(-1))
        size += len(pieces[-1])
        if size >= chunk_tokens:
            yield np.concatenate(pieces), np.repeat(np.arange(len(pieces)), [len(p) for p in pieces])
            pieces, size = [], 0
    if pieces:
        yield np.concatenate(pieces), np.repeat(np.arange(len(pieces)), [len(p) for p in pieces])


def _count_chunk(ids, sentence, vocab_size, window, symmetric, distance_weighting, dtype) -> sp.csr_matrix:
    # GloVe drops out-of-vocabulary words before windowing, so distances count in-vocabulary words only.
    known = (ids >= 0) & (ids < vocab_size)
    ids, sentence = ids[known], sentence[known]
    rows, cols, weights = [], [], []
    for distance in range(1, window + 1):
        same = sentence[distance:] == sentence[:-distance]  # windows never cross a sentence boundary
        left, right = ids[:-distance][same], ids[distance:][same]
        weight = np.full(len(left), 1.0 / distance if distance_weighting else 1.0, dtype=dtype)
        rows.append(left)
        cols.append(right)
        weights.append(weight)
        if symmetric:
            rows.append(right)
            cols.append(left)
            weights.append(weight)
    if not rows:
        return sp.csr_matrix((vocab_size, vocab_size), dtype=dtype)
    # coo -> csr sums the duplicate (row, column) entries
    return sp.coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(vocab_size, vocab_size)
    ).tocsr()


def _sum_sparse(matrices: list[sp.csr_matrix]) -> sp.csr_matrix:
    """The sum of same-shape sparse matrices in one pass (not pairwise)."""
    parts = [m.tocoo() for m in matrices]
    summed = sp.coo_matrix(
        (np.concatenate([p.data for p in parts]), (np.concatenate([p.row for p in parts]), np.concatenate([p.col for p in parts]))),
        shape=matrices[0].shape,
    ).tocsr()
    summed.sort_indices()
    return summed


def cooccurrence_matrix(
    sentences: EncodedCorpus | Iterable[Sequence[int]],
    vocab_size: int,
    window: int,
    symmetric: bool = True,
    distance_weighting: bool = False,
    dtype=np.float64,
    progress: bool = False,
) -> sp.csr_matrix:
    """Window co-occurrence counts X (V x V, sparse CSR) of word-id sentences.

    X[i, j] sums, over every occurrence of word j at most ``window`` words away from an occurrence of
    word i in the same sentence, 1 (or 1/distance with ``distance_weighting``, GloVe's weighting).
    ``symmetric=False`` counts only words *after* i (GloVe's ``-symmetric 0``): X[i, j] then counts j in
    i's right context. Ids outside ``[0, vocab_size)`` (unknown words) are dropped before windowing.
    ``sentences`` is an :class:`EncodedCorpus` or any iterable of id sequences, read once, streaming.
    """
    if int(window) < 1:
        raise ValueError(f"the co-occurrence window must be >= 1 word, got {window}" + see("window-settings"))
    if int(vocab_size) < 1:
        raise ValueError("the vocabulary is empty (vocab_size 0): build it from a non-empty corpus, or lower min_count"
                         + see("vocabulary"))
    window, vocab_size = int(window), int(vocab_size)
    chunk_tokens = max(1, PAIR_BUDGET // (2 * window))
    total = sp.csr_matrix((vocab_size, vocab_size), dtype=dtype)
    pending: list[sp.csr_matrix] = []
    pending_nnz = 0
    chunks = _chunks_of(sentences, chunk_tokens)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="counting co-occurrences", unit=" chunk")
    for ids, sentence in chunks:
        part = _count_chunk(ids, sentence, vocab_size, window, symmetric, distance_weighting, dtype)
        pending.append(part)
        pending_nnz += part.nnz
        if pending_nnz >= max(total.nnz, PAIR_BUDGET):  # fold in geometrically: linear total merge cost
            total = _sum_sparse([total, *pending])
            pending, pending_nnz = [], 0
    if pending:
        total = _sum_sparse([total, *pending])
    total.sort_indices()
    return total


def save_cooccurrence(path: str | os.PathLike, matrix: sp.spmatrix, words: Sequence[str] | None = None, **settings) -> None:
    """Save a co-occurrence matrix to one safetensors file (CSR arrays; words and settings as metadata),
    atomically (temporary file + rename)."""
    from safetensors.numpy import save_file

    matrix = sp.csr_matrix(matrix)
    metadata = {"format": COOCCURRENCE_FORMAT, "shape": json.dumps(list(matrix.shape)), "settings": json.dumps(settings)}
    if words is not None:
        metadata["words"] = json.dumps(list(words), ensure_ascii=False)
    tensors = {
        "indptr": matrix.indptr.astype(np.int64),
        "indices": matrix.indices.astype(np.int32),
        "data": np.ascontiguousarray(matrix.data),
    }
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_cooccurrence(path: str | os.PathLike) -> tuple[sp.csr_matrix, list[str] | None, dict]:
    """(matrix, words or None, settings) of a file written by :func:`save_cooccurrence`."""
    from safetensors import safe_open

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no co-occurrence file at {path!r}; build one with save_cooccurrence" + see("data-cache"))
    not_ours = f"{path!r} is not a co-occurrence matrix written by hfext (save_cooccurrence); rebuild it"
    try:
        with safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != COOCCURRENCE_FORMAT:
                raise ValueError(not_ours + see("data-cache"))
            arrays = {name: f.get_tensor(name) for name in ("indptr", "indices", "data")}
    except ValueError:
        raise
    except Exception as error:  # noqa: BLE001  (safetensors raises its own error type for damaged files)
        raise ValueError(f"{not_ours} ({error})" + see("data-cache")) from None
    shape = tuple(json.loads(metadata["shape"]))
    matrix = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
    words = json.loads(metadata["words"]) if "words" in metadata else None
    return matrix, words, json.loads(metadata.get("settings", "{}"))


def cached_cooccurrence(
    corpus: EncodedCorpus,
    vocabulary: Vocabulary,
    window: int,
    symmetric: bool,
    distance_weighting: bool,
    cache_file: str | os.PathLike,
    fingerprint: str = "",
    progress: bool = False,
) -> sp.csr_matrix:
    """:func:`cooccurrence_matrix` of ``corpus``, reused from ``cache_file`` when it was built from the same
    corpus (``fingerprint``) with the same settings, else built and saved there."""
    settings = {"window": int(window), "symmetric": bool(symmetric), "distance_weighting": bool(distance_weighting),
                "fingerprint": fingerprint}
    if fingerprint and os.path.exists(cache_file):
        try:
            matrix, words, saved = load_cooccurrence(cache_file)
        except (ValueError, OSError) as error:  # a damaged cache is rebuilt, not fatal
            logger.warning("ignoring the co-occurrence cache %s: %s", cache_file, error)
        else:
            if saved == settings and words == vocabulary.words:
                logger.info("co-occurrence matrix reused from %s", cache_file)
                return matrix
    matrix = cooccurrence_matrix(corpus, len(vocabulary), window, symmetric, distance_weighting, progress=progress)
    os.makedirs(os.path.dirname(os.path.abspath(cache_file)), exist_ok=True)
    save_cooccurrence(cache_file, matrix, vocabulary.words, **settings)
    return matrix
