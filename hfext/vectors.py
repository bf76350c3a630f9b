"""Word vectors with a gensim-compatible API (numpy only).

:class:`KeyedVectors` maps keys (words) to rows of a dense ``(n, d)`` matrix and
offers the query and evaluation methods that gensim users know, with the same
names and semantics as ``gensim.models.KeyedVectors`` (gensim 4).

Build vectors from an array and a vocabulary:

>>> import numpy as np
>>> from hfext.vectors import KeyedVectors
>>> kv = KeyedVectors(
...     np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32),
...     ["king", "queen", "apple", "car"],
... )
>>> kv
KeyedVectors<vector_size=3, 4 keys>
>>> "king" in kv, len(kv), kv.vector_size
(True, 4, 3)
>>> kv["apple"]
array([0., 1., 0.], dtype=float32)
>>> kv["dog"]
Traceback (most recent call last):
...
KeyError: "Key 'dog' not present in vocabulary (see docs/troubleshooting.md#unknown-word)"

Cosine similarity queries:

>>> round(float(kv.similarity("king", "queen")), 4)
0.9939
>>> [(word, round(score, 4)) for word, score in kv.most_similar("king", topn=2)]
[('queen', 0.9939), ('apple', 0.0)]
>>> kv.doesnt_match(["king", "queen", "car"])
'car'

Read and write the word2vec C formats (text or ``binary=True``; GloVe text files
have no header line, use ``no_header=True``):

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "vectors.txt")
>>> kv.save_word2vec_format(path)
>>> print(open(path).read(), end="")
4 3
king 1.0 0.0 0.0
queen 0.9 0.1 0.0
apple 0.0 1.0 0.0
car 0.0 0.0 1.0
>>> KeyedVectors.load_word2vec_format(path, limit=2).index_to_key
['king', 'queen']

Evaluate on the usual benchmarks (files shipped with gensim's tests, for example)::

    score, sections = kv.evaluate_word_analogies("questions-words.txt")
    pearson, spearman, oov_ratio = kv.evaluate_word_pairs("wordsim353.tsv")

``save()`` / ``load()`` use safetensors (no pickle) for a lossless native format.
"""

import contextlib
import itertools
import json
import logging
import os
import secrets
from numbers import Integral

import numpy as np

from .errors import DocumentedError, see

logger = logging.getLogger(__name__)

# What gensim accepts as a key (an int is also tried as a row position).
_KEY_TYPES = (str, int, np.integer)

# Bytes that make up a word2vec *text* vector; used to spot a text file read with binary=True.
_TEXT_VECTOR_BYTES = b"0123456789.-+eEinfaINFA \t\r\n"

# A word longer than this (without a separating space) means the file is not word2vec binary.
_MAX_WORD_BYTES = 100_000


class Word2VecFormatError(DocumentedError, ValueError):
    """A word2vec/GloVe vectors file that does not parse; the message names the file, the line or entry and
    what was found there. The section says whether the file is damaged or was read with the wrong options."""

    docs = "vectors-file-damaged"


def _ensure_list(value):
    """Wrap a single key or vector in a list, as gensim does for positive/negative arguments."""
    if value is None:
        return []
    if isinstance(value, _KEY_TYPES) or (isinstance(value, np.ndarray) and value.ndim == 1):
        return [value]
    return list(value)  # a list/tuple of items, or the rows of a 2-D array


def _unitvec(vec):
    """Scale to unit length like gensim's ``matutils.unitvec``: in float64, cast back; zero stays zero."""
    vec64 = np.asarray(vec, dtype=np.float64)
    length = np.sqrt(np.dot(vec64, vec64))
    if length > 0.0:
        return (vec64 * (1.0 / length)).astype(vec.dtype)
    return vec


def _top_desc(dists, topn):
    """Indices of the `topn` largest values, largest first (same algorithm as gensim's ``matutils.argsort``)."""
    neg = -dists
    if topn >= neg.shape[-1]:
        return np.argsort(neg, axis=-1)[..., :topn]
    best = np.argpartition(neg, topn, axis=-1)[..., :topn]  # unordered top-n, O(n)
    order = np.argsort(np.take_along_axis(neg, best, axis=-1), axis=-1)
    return np.take_along_axis(best, order, axis=-1)


@contextlib.contextmanager
def _atomic_path(path):
    """Yield a temporary path next to `path`; move it over `path` only if the block succeeds."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _atomic_open(path):
    """Open a binary file for writing that appears at `path` only once fully written."""
    with _atomic_path(path) as tmp:
        # os.open with 0o666 honours the umask (mkstemp would force 0o600 on the final file)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "wb", buffering=1 << 20) as fout:
            yield fout
            fout.flush()
            os.fsync(fout.fileno())


def _entry_bytes(word, vector, binary):
    """One word2vec entry, byte-identical to gensim 4's ``save_word2vec_format``.

    Text values use ``str()`` of the numpy scalar (shortest round-trip repr); binary entries are
    ``word + b" " + float32 bytes`` with *no* trailing newline, exactly as gensim writes them.
    """
    if binary:
        return f"{word} ".encode() + vector.astype("<f4").tobytes()
    return f"{word} {' '.join(str(val) for val in vector)}\n".encode()


def _looks_binary(raw):
    """Heuristic: control bytes (other than whitespace) mean binary content."""
    return any(b < 9 or 13 < b < 32 for b in raw[:1000])


class KeyedVectors:
    """Keys (words) mapped to the rows of a 2-D vector matrix, with gensim 4's query API.

    Parameters
    ----------
    vectors : numpy.ndarray
        ``(n_keys, vector_size)`` float matrix (float32 is typical; non-float input is cast to float32).
    index_to_key : list of str
        The key of each row, without duplicates.
    counts : numpy.ndarray of int, optional
        Frequency of each key (used to order `save_word2vec_format` output, like gensim does).
    """

    def __init__(self, vectors, index_to_key, counts=None):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-D array (n_keys, vector_size), got shape {vectors.shape}" + see("vectors-arguments"))
        if not np.issubdtype(vectors.dtype, np.floating):
            vectors = vectors.astype(np.float32)
        index_to_key = list(index_to_key)
        if len(index_to_key) != vectors.shape[0]:
            raise ValueError(
                f"index_to_key has {len(index_to_key)} keys but vectors has {vectors.shape[0]} rows; "
                "they must have one key per row" + see("vectors-arguments")
            )
        key_to_index = {}
        for i, key in enumerate(index_to_key):
            if key in key_to_index:
                raise ValueError(f"duplicate key {key!r} at positions {key_to_index[key]} and {i} of index_to_key"
                                 + see("vectors-arguments"))
            key_to_index[key] = i
        self.index_to_key = index_to_key
        self.key_to_index = key_to_index
        self._vectors = vectors
        self.counts = self._check_counts(counts, len(index_to_key))
        self.norms = None
        self._clear_norms()

    @staticmethod
    def _check_counts(counts, n):
        if counts is None:
            return None
        counts = np.asarray(counts)
        if counts.shape != (n,):
            raise ValueError(f"counts must have shape ({n},), one count per key; got shape {counts.shape}" + see("vectors-arguments"))
        if not np.issubdtype(counts.dtype, np.integer):
            raise ValueError(f"counts must be integers, got dtype {counts.dtype}" + see("vectors-arguments"))
        return counts.astype(np.int64)

    # ------------------------------------------------------------------ basics

    @property
    def vectors(self):
        """The ``(n_keys, vector_size)`` matrix. Assigning a new matrix resets the cached norms.

        If you modify the matrix in place, call ``fill_norms(force=True)`` afterwards.
        """
        return self._vectors

    @vectors.setter
    def vectors(self, value):
        value = np.asarray(value)
        if value.ndim != 2 or value.shape[0] != len(self.index_to_key):
            raise ValueError(
                f"vectors must have shape ({len(self.index_to_key)}, vector_size) to match index_to_key, "
                f"got {value.shape}" + see("vectors-arguments")
            )
        self._vectors = value
        self._clear_norms()

    @property
    def vector_size(self):
        return self._vectors.shape[1]

    def __len__(self):
        return len(self.index_to_key)

    def __repr__(self):
        return f"{self.__class__.__name__}<vector_size={self.vector_size}, {len(self)} keys>"

    __str__ = __repr__

    def __contains__(self, key):
        return self.has_index_for(key)

    def __getitem__(self, key_or_keys):
        """Vector of one key (1-D) or of a list of keys (2-D)."""
        if isinstance(key_or_keys, _KEY_TYPES):
            return self.get_vector(key_or_keys)
        return np.vstack([self.get_vector(key) for key in key_or_keys])

    def __setitem__(self, keys, weights):
        """Add or replace vectors (``add_vectors(..., replace=True)``)."""
        if not isinstance(keys, list):
            keys, weights = [keys], np.asarray(weights).reshape(1, -1)
        self.add_vectors(keys, weights, replace=True)

    def get_index(self, key, default=None):
        """Row of `key`; an int that is not a key is taken as a row position (as in gensim)."""
        val = self.key_to_index.get(key, -1)
        if val >= 0:
            return val
        if isinstance(key, (int, np.integer)) and 0 <= key < len(self.index_to_key):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"Key '{key}' not present in vocabulary" + see("unknown-word"))

    def has_index_for(self, key):
        return self.get_index(key, -1) >= 0

    def get_vector(self, key, norm=False):
        """Read-only vector of `key`, unit-normalised if `norm` (a zero vector stays zero)."""
        index = self.get_index(key)
        if norm:
            self.fill_norms()
            result = self._vectors[index] / self._safe_norms[index]
        else:
            result = self._vectors[index]
        result.setflags(write=False)  # in-place edits would silently invalidate the cached norms
        return result

    def add_vectors(self, keys, weights, replace=False):
        """Append new keys with their vectors; existing keys keep their vector unless `replace`."""
        if isinstance(keys, _KEY_TYPES):
            keys = [keys]
            weights = np.asarray(weights).reshape(1, -1)
        weights = np.asarray(weights, dtype=self._vectors.dtype)
        if weights.shape != (len(keys), self.vector_size):
            raise ValueError(
                f"weights must have shape ({len(keys)}, {self.vector_size}) for {len(keys)} keys, got {weights.shape}"
                + see("vectors-arguments")
            )
        new_rows, replaced = [], {}
        for key, row in zip(keys, weights):
            if key in self.key_to_index:
                if replace:
                    replaced[self.key_to_index[key]] = row
            else:
                self.key_to_index[key] = len(self.index_to_key)
                self.index_to_key.append(key)
                new_rows.append(row)
        vectors = self._vectors
        if new_rows:
            vectors = np.vstack([vectors, np.asarray(new_rows, dtype=vectors.dtype)])
            if self.counts is not None:
                self.counts = np.concatenate([self.counts, np.zeros(len(new_rows), dtype=np.int64)])
        elif replaced:
            vectors = vectors.copy()  # never write into an array the caller may share
        for index, row in replaced.items():
            vectors[index] = row
        self._vectors = vectors
        self._clear_norms()

    def add_vector(self, key, vector):
        """Add one key; returns its row index."""
        self.add_vectors([key], np.asarray(vector).reshape(1, -1))
        return self.key_to_index[key]

    def sort_by_descending_frequency(self):
        """Reorder rows by descending `counts` (stable), as gensim does."""
        if self.counts is None:
            raise ValueError("cannot sort by frequency: this KeyedVectors has no counts" + see("vectors-arguments"))
        order = np.argsort(-self.counts, kind="stable")
        self.index_to_key = [self.index_to_key[i] for i in order]
        self.key_to_index = {key: i for i, key in enumerate(self.index_to_key)}
        self.counts = self.counts[order]
        self._vectors = self._vectors[order]
        self._clear_norms()

    # ------------------------------------------------------------------ norms

    def _clear_norms(self):
        self.norms = None
        self._safe_norms = None
        self._normed = None

    def fill_norms(self, force=False):
        """Compute the per-row L2 norms once (``self.norms``); `force` recomputes after in-place edits."""
        if self.norms is None or force:
            self.norms = np.linalg.norm(self._vectors, axis=1)
            # divide by 1 for zero rows so that they give 0 similarities instead of NaN
            self._safe_norms = np.where(self.norms > 0, self.norms, 1).astype(self.norms.dtype)
            self._normed = None

    def get_normed_vectors(self):
        """The unit-normalised matrix, computed once and cached (read-only; zero rows stay zero)."""
        self.fill_norms()
        if self._normed is None:
            self._normed = self._vectors / self._safe_norms[:, np.newaxis]
            self._normed.setflags(write=False)
        return self._normed

    # ------------------------------------------------------------------ similarity queries

    def get_mean_vector(self, keys, weights=None, pre_normalize=True, post_normalize=False, ignore_missing=True):
        """Weighted mean of key vectors (or raw vectors), computed exactly like gensim's."""
        if len(keys) == 0:
            raise ValueError("cannot compute mean with no input" + see("vectors-arguments"))
        if isinstance(weights, list):
            weights = np.array(weights, dtype=self._vectors.dtype)
        if weights is None:
            weights = np.ones(len(keys), dtype=self._vectors.dtype)
        if len(keys) != weights.shape[0]:
            raise ValueError("keys and weights array must have same number of elements" + see("vectors-arguments"))

        mean = np.zeros(self.vector_size, self._vectors.dtype)
        total_weight = 0
        for weight, key in zip(weights, keys):
            if isinstance(key, np.ndarray):
                mean += weight * key
                total_weight += abs(weight)
            elif key in self:
                mean += weight * self.get_vector(key, norm=pre_normalize)
                total_weight += abs(weight)
            elif not ignore_missing:
                raise KeyError(f"Key '{key}' not present in vocabulary" + see("unknown-word"))
        if total_weight > 0:
            mean = mean / total_weight
        if post_normalize:
            mean = _unitvec(mean).astype(np.float32)
        return mean

    def _keys_and_weights(self, positive, negative):
        """Flatten positive/negative items (key, vector or (item, weight)) into keys and float weights."""
        positive, negative = _ensure_list(positive), _ensure_list(negative)
        weight = np.concatenate((np.ones(len(positive)), -1.0 * np.ones(len(negative))))
        keys = []
        for idx, item in enumerate(positive + negative):
            if isinstance(item, (*_KEY_TYPES, np.ndarray)):
                keys.append(item)
            else:
                keys.append(item[0])
                weight[idx] = item[1]
        return keys, weight

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None, indexer=None):
        """Top-`topn` keys by cosine similarity to the mean of the unit `positive` minus `negative` vectors.

        Items may be keys, vectors, or ``(item, weight)`` pairs (default weights +1 / -1). Input keys
        are left out of the result. With ``topn=None`` the array of all similarities is returned.
        `restrict_vocab` searches only the first that many rows.
        """
        if isinstance(topn, Integral) and topn < 1:
            return []
        keys, weight = self._keys_and_weights(positive, negative)
        self.fill_norms()
        mean = self.get_mean_vector(keys, weight, pre_normalize=True, post_normalize=True, ignore_missing=False)
        all_keys = [self.get_index(key) for key in keys if isinstance(key, _KEY_TYPES) and self.has_index_for(key)]

        if indexer is not None and isinstance(topn, int):
            return indexer.most_similar(mean, topn)

        end = restrict_vocab or len(self._vectors)
        # like gensim: dot with the raw rows, then divide by the norms (bit-identical scores)
        dists = self._vectors[:end] @ mean / self._safe_norms[:end]
        if not topn:
            return dists
        best = _top_desc(dists, topn + len(all_keys))
        result = [(self.index_to_key[i], float(dists[i])) for i in best if i not in all_keys]
        return result[:topn]

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_word(self, word, topn=10, restrict_vocab=None):
        return self.similar_by_key(word, topn, restrict_vocab)

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_cosmul(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """Top keys by 3CosMul (Levy & Goldberg 2014): product of positive / product of negative similarities.

        Cosine similarities are shifted to [0, 1] and the denominator gets ``+1e-6``, as in gensim.
        Unlike gensim, `restrict_vocab` is honoured and raw input vectors are unit-normalised first.
        """
        if isinstance(topn, Integral) and topn < 1:
            return []
        positive, negative = _ensure_list(positive), _ensure_list(negative)
        if not positive:
            raise ValueError("cannot compute similarity with no input" + see("vectors-arguments"))
        self.fill_norms()
        all_words = {self.get_index(w) for w in positive + negative if isinstance(w, _KEY_TYPES) and self.has_index_for(w)}

        def unit(item):
            return self.get_vector(item, norm=True) if isinstance(item, _KEY_TYPES) else _unitvec(np.asarray(item))

        end = restrict_vocab or len(self._vectors)
        vectors, norms = self._vectors[:end], self._safe_norms[:end]
        pos_dists = [(1 + vectors @ unit(term) / norms) / 2 for term in positive]
        neg_dists = [(1 + vectors @ unit(term) / norms) / 2 for term in negative]
        dists = np.prod(pos_dists, axis=0) / (np.prod(neg_dists, axis=0) + 0.000001)
        if not topn:
            return dists
        best = _top_desc(dists, topn + len(all_words))
        result = [(self.index_to_key[i], float(dists[i])) for i in best if i not in all_words]
        return result[:topn]

    def rank_by_centrality(self, words, use_norm=True):
        """``(similarity, word)`` pairs sorted by similarity to the centroid, most central first."""
        self.fill_norms()
        used_words = [word for word in words if word in self]
        if len(used_words) != len(words):
            logger.warning(
                "vectors for words %s are not present in the model, ignoring these words", set(words) - set(used_words)
            )
        if not used_words:
            raise ValueError("cannot select a word from an empty list" + see("unknown-word"))
        vectors = np.vstack([self.get_vector(word, norm=use_norm) for word in used_words]).astype(np.float32)
        mean = self.get_mean_vector(vectors, post_normalize=True)
        dists = vectors @ mean
        return sorted(zip(dists, used_words), reverse=True)

    def doesnt_match(self, words):
        """The word furthest from the centroid of `words` (unknown words are logged and ignored)."""
        return self.rank_by_centrality(words)[-1][1]

    @staticmethod
    def cosine_similarities(vector_1, vectors_all):
        """Cosine similarity of `vector_1` with each row of `vectors_all` (0 where a vector is zero)."""
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        dot_products = vectors_all @ vector_1
        denominators = norm * all_norms
        return dot_products / np.where(denominators > 0, denominators, 1)

    def distances(self, word_or_vector, other_words=()):
        """Cosine distances from a key or vector to `other_words` (default: every key)."""
        if isinstance(word_or_vector, _KEY_TYPES):
            input_vector = self.get_vector(word_or_vector)
        else:
            input_vector = word_or_vector
        if not other_words:
            other_vectors = self._vectors
        else:
            other_vectors = self._vectors[[self.get_index(word) for word in other_words]]
        return 1 - self.cosine_similarities(input_vector, other_vectors)

    def distance(self, w1, w2):
        """Cosine distance, ``1 - similarity(w1, w2)``."""
        return 1 - self.similarity(w1, w2)

    def similarity(self, w1, w2):
        """Cosine similarity between two keys."""
        return np.dot(_unitvec(self[w1]), _unitvec(self[w2]))

    def n_similarity(self, ws1, ws2):
        """Cosine similarity between the means of two key sets."""
        if not (len(ws1) and len(ws2)):
            raise ZeroDivisionError("At least one of the passed list is empty." + see("vectors-arguments"))
        mean1 = self.get_mean_vector(ws1, pre_normalize=False)
        mean2 = self.get_mean_vector(ws2, pre_normalize=False)
        return np.dot(_unitvec(mean1), _unitvec(mean2))

    def most_similar_to_given(self, key1, keys_list):
        """The key of `keys_list` most similar to `key1`."""
        return keys_list[int(np.argmax([self.similarity(key1, key) for key in keys_list]))]

    def closer_than(self, key1, key2):
        """All keys closer to `key1` than `key2` is."""
        all_distances = self.distances(key1)
        e1_index, e2_index = self.get_index(key1), self.get_index(key2)
        closer = np.where(all_distances < all_distances[e2_index])[0]
        return [self.index_to_key[i] for i in closer if i != e1_index]

    def rank(self, key1, key2):
        """Rank of `key2` among all keys by distance from `key1` (1 = closest)."""
        return len(self.closer_than(key1, key2)) + 1

    # ------------------------------------------------------------------ evaluation

    def _ok_vocab(self, restrict_vocab, case_insensitive):
        """Key (uppercased if case-insensitive) -> row, over the first `restrict_vocab` rows.

        Built in reverse so that, among case variants, the first (most frequent) row wins, as in gensim.
        """
        ok_keys = self.index_to_key[:restrict_vocab]
        if case_insensitive:
            return {k.upper(): i for i, k in reversed(list(enumerate(ok_keys)))}
        return {k: i for i, k in reversed(list(enumerate(ok_keys)))}

    @staticmethod
    def _log_evaluate_word_analogies(section):
        correct, incorrect = len(section["correct"]), len(section["incorrect"])
        if correct + incorrect == 0:
            return 0.0
        score = correct / (correct + incorrect)
        logger.info("%s: %.1f%% (%i/%i)", section["section"], 100.0 * score, correct, correct + incorrect)
        return score

    def _predict_analogies(self, questions, ok_vocab, restrict_vocab, case_insensitive):
        """3CosAdd answers for `questions` (rows a, b, c) with one matrix product per chunk.

        Reproduces gensim's ``most_similar(positive=[b, c], negative=[a], topn=5, restrict_vocab=...)``
        followed by "first of those 5 not in {a, b, c}", including its quirks: the 5 candidates are
        taken *after* dropping the rows of a, b, c, and other case variants of them still use up a slot.
        """
        if not questions:
            return []
        self.fill_norms()
        vectors, norms = self._vectors[:restrict_vocab], self._safe_norms[:restrict_vocab]
        idx = np.array([q[:3] for q in questions], dtype=np.int64)
        unit = self._vectors[idx] / self._safe_norms[idx][..., np.newaxis]  # (q, 3, d)
        # same operation order and precision as gensim's get_mean_vector: float32 sums, float64 scaling
        mean = (unit[:, 1] + unit[:, 2]) - unit[:, 0]
        mean = mean.astype(np.float64) / 3.0
        lengths = np.sqrt(np.einsum("ij,ij->i", mean, mean))
        scale = np.where(lengths > 0, 1.0 / np.where(lengths > 0, lengths, 1), 1.0)
        mean = (mean * scale[:, np.newaxis]).astype(np.float32)

        answers = []
        chunk = max(1, (1 << 24) // max(len(vectors), 1))  # bound the (chunk, vocab) score matrix to ~64 MB
        for start in range(0, len(questions), chunk):
            dists = mean[start:start + chunk] @ vectors.T / norms
            best = _top_desc(dists, 5 + 3)
            for row, (ia, ib, ic, words) in zip(best, questions[start:start + chunk]):
                candidates = [i for i in row if i not in (ia, ib, ic)][:5]
                predicted = None
                for i in candidates:
                    predicted = self.index_to_key[i].upper() if case_insensitive else self.index_to_key[i]
                    if predicted in ok_vocab and predicted not in words[:3]:
                        break
                answers.append(predicted)
        return answers

    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True, dummy4unknown=False):
        """Accuracy on an analogy file (3CosAdd), as gensim's ``evaluate_word_analogies``.

        The file has ``: section`` header lines followed by lines ``a b c expected``. A question is
        skipped (or counted wrong with `dummy4unknown`) if any word is outside the first
        `restrict_vocab` keys. Returns ``(score, sections)``; each section is a dict with keys
        ``section``, ``correct``, ``incorrect`` (lists of 4-tuples); the last one is "Total accuracy".
        """
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        logger.info("Evaluating word analogies for top %s words in the model on %s", restrict_vocab, analogies)

        # Parse: per section, an ordered list of entries, either ("oov", tuple) or ("ask", tuple).
        parsed, entries = [], None
        oov = quadruplets_no = 0
        with open(analogies, "rb") as fin:
            for line_no, line in enumerate(fin):
                line = line.decode("utf8")
                if line.startswith(": "):
                    entries = []
                    parsed.append((line.lstrip(": ").strip(), entries))
                    continue
                if entries is None:
                    raise ValueError(f"Missing section header before line #{line_no} in {analogies}" + see("evaluation-files"))
                words = [w.upper() for w in line.split()] if case_insensitive else line.split()
                if len(words) != 4:
                    logger.info("Skipping invalid line #%i in %s", line_no, analogies)
                    continue
                quadruplets_no += 1
                words = tuple(words)
                if any(w not in ok_vocab for w in words):
                    oov += 1
                    logger.debug("OOV words in line #%i: %s", line_no, line.strip())
                    if dummy4unknown:
                        entries.append(("oov", words))
                    continue
                entries.append(("ask", words))

        sections = []
        for name, entries in parsed:
            asked = [e[1] for e in entries if e[0] == "ask"]
            questions = [(ok_vocab[a], ok_vocab[b], ok_vocab[c], (a, b, c, d)) for a, b, c, d in asked]
            answers = iter(self._predict_analogies(questions, ok_vocab, restrict_vocab, case_insensitive))
            section = {"section": name, "correct": [], "incorrect": []}
            for kind, words in entries:
                if kind == "ask" and next(answers) == words[3]:
                    section["correct"].append(words)
                else:
                    section["incorrect"].append(words)
            sections.append(section)
            self._log_evaluate_word_analogies(section)

        total = {
            "section": "Total accuracy",
            "correct": list(itertools.chain.from_iterable(s["correct"] for s in sections)),
            "incorrect": list(itertools.chain.from_iterable(s["incorrect"] for s in sections)),
        }
        oov_ratio = float(oov) / quadruplets_no * 100 if quadruplets_no else 0.0
        logger.info("Quadruplets with out-of-vocabulary words: %.1f%%", oov_ratio)
        if not dummy4unknown:
            logger.info(
                "NB: analogies containing OOV words were skipped from evaluation! "
                'To change this behavior, use "dummy4unknown=True"'
            )
        score = self._log_evaluate_word_analogies(total)
        sections.append(total)
        return score, sections

    def evaluate_word_pairs(
        self, pairs, delimiter="\t", encoding="utf8", restrict_vocab=300000, case_insensitive=True, dummy4unknown=False
    ):
        """Correlation with human similarity judgements, as gensim's ``evaluate_word_pairs``.

        `pairs` lines are ``word1<delimiter>word2<delimiter>score``; lines starting with ``#`` are
        comments. Returns ``(pearson, spearman, oov_ratio)``: the scipy ``pearsonr`` and ``spearmanr``
        results and the percentage of pairs with a word outside the first `restrict_vocab` keys.
        """
        from scipy import stats  # imported lazily: only evaluation needs scipy

        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        similarity_gold, similarity_model = [], []
        oov = 0
        with open(pairs, encoding=encoding) as fin:
            for line_no, line in enumerate(fin):
                if not line or line.startswith("#"):
                    continue
                try:
                    parts = line.split(delimiter)
                    if case_insensitive:
                        parts = [word.upper() for word in parts]
                    a, b, sim = parts
                    sim = float(sim)
                except (ValueError, TypeError):
                    logger.info("Skipping invalid line #%d in %s", line_no, pairs)
                    continue
                if a not in ok_vocab or b not in ok_vocab:
                    oov += 1
                    if dummy4unknown:
                        logger.debug("Zero similarity for line #%d with OOV words: %s", line_no, line.strip())
                        similarity_model.append(0.0)
                        similarity_gold.append(sim)
                    else:
                        logger.debug("Skipping line #%d with OOV words: %s", line_no, line.strip())
                    continue
                similarity_gold.append(sim)
                va, vb = self._vectors[ok_vocab[a]], self._vectors[ok_vocab[b]]
                similarity_model.append(np.dot(_unitvec(va), _unitvec(vb)))

        if not similarity_gold:
            raise ValueError(
                f"No valid similarity judgements found in {pairs}: either invalid format or "
                f"all are out-of-vocabulary in {self}" + see("evaluation-files")
            )
        spearman = stats.spearmanr(similarity_gold, similarity_model)
        pearson = stats.pearsonr(similarity_gold, similarity_model)
        if dummy4unknown:
            oov_ratio = float(oov) / len(similarity_gold) * 100  # gold already includes the OOV pairs
        else:
            oov_ratio = float(oov) / (len(similarity_gold) + oov) * 100
        logger.info("Pearson correlation coefficient against %s: %.4f", pairs, pearson[0])
        logger.info("Spearman rank-order correlation coefficient against %s: %.4f", pairs, spearman[0])
        logger.info("Pairs with unknown words ratio: %.1f%%", oov_ratio)
        return pearson, spearman, oov_ratio

    # ------------------------------------------------------------------ word2vec C formats

    def save_word2vec_format(self, fname, fvocab=None, binary=False, total_vec=None, write_header=True):
        """Write the word2vec C text (or `binary`) format, byte-identical to gensim 4.

        Like gensim, keys are written by descending `counts` when counts are known (stable, so a
        frequency-sorted vocabulary keeps its order), else in index order. `fvocab` also writes
        ``word count`` lines. Both files are written atomically (temp file + rename).
        """
        if total_vec is None:
            total_vec = len(self.index_to_key)
        if self.counts is not None:
            order = np.argsort(-self.counts, kind="stable")
        elif fvocab is not None:
            raise ValueError("Cannot store vocabulary with 'count' because that attribute does not exist" + see("vectors-arguments"))
        else:
            order = range(len(self.index_to_key))
        if fvocab is not None:
            logger.info("storing vocabulary in %s", fvocab)
            with _atomic_open(fvocab) as vout:
                for i in order:
                    vout.write(f"{self.index_to_key[i]} {self.counts[i]}\n".encode())
        logger.info("storing %sx%s projection weights into %s", total_vec, self.vector_size, fname)
        with _atomic_open(fname) as fout:
            if write_header:
                fout.write(f"{total_vec} {self.vector_size}\n".encode())
            for i in order:
                fout.write(_entry_bytes(self.index_to_key[i], self._vectors[i], binary))

    @classmethod
    def load_word2vec_format(
        cls,
        fname,
        fvocab=None,
        binary=False,
        encoding="utf8",
        unicode_errors="strict",
        limit=None,
        datatype=np.float32,
        no_header=False,
    ):
        """Read a word2vec C format file (text, or `binary`), streaming.

        `limit` reads only the first that many vectors; `no_header` reads header-less text files
        (GloVe) with an extra counting pass. Repeated words keep their first vector (with a warning),
        as in gensim. Malformed files raise ``ValueError`` naming the file and the bad line/entry.
        """
        fname = os.fspath(fname)
        counts_by_word = None
        if fvocab is not None:
            counts_by_word = {}
            with open(fvocab, "rb") as fin:
                for line in fin:
                    word, count = line.decode("utf8", errors=unicode_errors).strip().split()
                    counts_by_word[word] = int(count)

        logger.info("loading projection weights from %s", fname)
        with open(fname, "rb") as fin:
            if no_header:
                if binary:
                    raise ValueError("no_header=True only works for text files; pass binary=False" + see("vectors-file-format"))
                vocab_size, vector_size = _count_text_vectors(fin, fname, limit, encoding, unicode_errors)
                fin.seek(0)
                first_line_no, check_trailing = 1, False  # the counting pass defined the size
            else:
                vocab_size, vector_size = _read_header(fin, fname, encoding)
                first_line_no = 2
                check_trailing = not (limit and limit < vocab_size)  # only a complete read can spot extra data
            if limit:
                vocab_size = min(vocab_size, limit)
            shape = (vocab_size, vector_size)
            if binary:
                keys, vectors = _read_binary(fin, fname, shape, datatype, encoding, unicode_errors, check_trailing)
            else:
                keys, vectors = _read_text(
                    fin, fname, shape, datatype, encoding, unicode_errors, check_trailing, first_line_no
                )

        counts = None
        if counts_by_word is not None:
            missing = [word for word in keys if word not in counts_by_word]
            if missing:
                logger.warning("vocabulary file is incomplete: %i words missing, e.g. '%s'", len(missing), missing[0])
            counts = np.array([counts_by_word.get(word, 0) for word in keys], dtype=np.int64)
        return cls(vectors, keys, counts=counts)

    # ------------------------------------------------------------------ native format

    def save(self, path):
        """Save losslessly to a single safetensors file (vectors, counts; vocabulary as JSON metadata)."""
        from safetensors.numpy import save_file

        tensors = {"vectors": np.ascontiguousarray(self._vectors)}
        if self.counts is not None:
            tensors["counts"] = np.ascontiguousarray(self.counts)
        metadata = {"format": "hfext.KeyedVectors", "index_to_key": json.dumps(self.index_to_key, ensure_ascii=False)}
        with _atomic_path(path) as tmp:
            save_file(tensors, tmp, metadata=metadata)

    @classmethod
    def load(cls, path):
        """Load a file written by :meth:`save`."""
        from safetensors import safe_open

        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: '{path}'" + see("vectors-file-format"))
        with safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != "hfext.KeyedVectors" or "vectors" not in f.keys():  # noqa: SIM118  (safe_open has no __contains__)
                raise ValueError(f"{path} is not a file written by KeyedVectors.save()" + see("vectors-file-format"))
            vectors = f.get_tensor("vectors")
            counts = f.get_tensor("counts") if "counts" in f.keys() else None  # noqa: SIM118
        return cls(vectors, json.loads(metadata["index_to_key"]), counts=counts)

    # ------------------------------------------------------------------ from hfext models

    @classmethod
    def from_model(cls, model, tokenizer):
        """The word vectors of a trained word-embedding model, keyed by the tokenizer's words in id order;
        special tokens such as ``[UNK]`` are left out. A model that combines several matrices into its word
        vectors (GloVe's W + W~) says how with ``get_word_vectors()``; otherwise they are its input
        embeddings (word2vec's v). fastText models give a :class:`FastTextKeyedVectors` (OOV words work)."""
        if cls is KeyedVectors and getattr(model.config, "model_type", None) == "hfext-fasttext":
            return FastTextKeyedVectors.from_model(model, tokenizer)
        if hasattr(model, "get_word_vectors"):
            weights = model.get_word_vectors().detach().float().cpu().numpy()
        else:
            weights = model.get_input_embeddings().weight.detach().float().cpu().numpy()
        id_to_word = {index: word for word, index in tokenizer.get_vocab().items()}
        special = set(getattr(tokenizer, "all_special_ids", []))
        rows = [i for i in range(weights.shape[0]) if i in id_to_word and i not in special]
        counts = getattr(model, "word_counts", None)
        counts = counts.detach().cpu().numpy()[rows] if counts is not None else None
        return cls(weights[rows].copy(), [id_to_word[i] for i in rows], counts=counts)

    @classmethod
    def from_pretrained(cls, model_name_or_path, **kwargs):
        """Load a saved hfext word-embedding model (local directory or Hub id) and return its word vectors.

        An ``hfext-fasttext`` directory gives a memory-mapped :class:`FastTextKeyedVectors`."""
        if cls is KeyedVectors and _model_type(model_name_or_path) == "hfext-fasttext":
            return FastTextKeyedVectors.from_pretrained(model_name_or_path, **kwargs)
        from .loading import load_pretrained, load_tokenizer_for

        # the safe loader: safetensors only, damaged files and a mismatched tokenizer named
        model = load_pretrained(model_name_or_path, **kwargs)
        tokenizer = load_tokenizer_for(model, model_name_or_path, **kwargs)
        return cls.from_model(model, tokenizer)


# ---------------------------------------------------------------------- fastText: subword-aware vectors

# The converted fastText model directory keeps the composed in-vocabulary vectors here (written by
# `hfext convert fasttext-bin`), so loading never has to touch the n-gram buckets of every word.
FASTTEXT_WORD_VECTORS_FILE = "word_vectors.safetensors"
_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def safetensors_layout(path):
    """``(data_start, header)`` of a safetensors file, read without loading any tensor."""
    path = os.fspath(path)
    with open(path, "rb") as fin:
        raw = fin.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path} is not a safetensors file (shorter than its 8-byte header length)" + see("corrupt-weights"))
        size = int.from_bytes(raw, "little")
        if size > os.fstat(fin.fileno()).st_size - 8:
            raise ValueError(f"{path} is not a safetensors file (header length {size} exceeds the file)" + see("corrupt-weights"))
        header = json.loads(fin.read(size))
    return 8 + size, header


def safetensors_memmap(path, name, layout=None):
    """Tensor `name` of a safetensors file as a read-only ``np.memmap``: nothing is read until it is used."""
    data_start, header = layout or safetensors_layout(path)
    if name not in header:
        raise KeyError(f"{path} has no tensor '{name}' (it has: {', '.join(k for k in header if k != '__metadata__')})"
                       + see("fasttext-model-folder"))
    entry = header[name]
    if entry["dtype"] not in _SAFETENSORS_DTYPES:
        raise ValueError(f"tensor '{name}' of {path} has dtype {entry['dtype']}, which numpy cannot map; "
                         "save the model in float32" + see("fasttext-model-folder"))
    begin, end = entry["data_offsets"]
    shape = tuple(entry["shape"])
    if end == begin:
        return np.zeros(shape, dtype=_SAFETENSORS_DTYPES[entry["dtype"]])
    return np.memmap(path, dtype=np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]).newbyteorder("<"), mode="r",
                     offset=data_start + begin, shape=shape)


def file_fingerprint(path, samples=64, block=4096):
    """A cheap content fingerprint of a (large) file: its size, its first and last MiB and `samples` blocks
    spread over it. Any retraining changes nearly every row, so a stale cache is caught without hashing GBs."""
    import hashlib

    path = os.fspath(path)
    size = os.path.getsize(path)
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fin:
        positions = [0, max(size - (1 << 20), 0)] + [size * i // samples for i in range(samples)]
        for position in positions:
            fin.seek(position)
            digest.update(fin.read(1 << 20 if position in positions[:2] else block))
    return digest.hexdigest()


def tensor_row_reader(path, name, layout=None):
    """``(read_rows, shape)`` for a 2-D float32 tensor of a safetensors file: ``read_rows(start, end)`` reads
    rows ``[start, end)`` with a plain file read, so only the rows asked for ever occupy memory."""
    data_start, header = layout or safetensors_layout(path)
    entry = header[name]
    if entry["dtype"] != "F32" or len(entry["shape"]) != 2:
        raise ValueError(f"tensor '{name}' of {path} must be a 2-D float32 matrix, got {entry['dtype']} {entry['shape']}"
                         + see("fasttext-model-folder"))
    rows, dim = entry["shape"]
    base = data_start + entry["data_offsets"][0]
    path = os.fspath(path)

    def read_rows(start, end):
        with open(path, "rb") as fin:
            fin.seek(base + start * dim * 4)
            data = fin.read((end - start) * dim * 4)
        return np.frombuffer(data, dtype="<f4").reshape(end - start, dim)

    return read_rows, (rows, dim)


def compose_word_vectors(read_rows, shape, offsets, ids, num_words, rows_per_chunk=None, batch=1 << 16):
    """fastText's in-vocabulary word vectors: word w is the mean of the input rows
    ``ids[offsets[w]:offsets[w + 1]]`` (its own row and its n-gram rows), a zero vector if it has none.

    The input matrix is read once, in order, ``rows_per_chunk`` rows at a time (``read_rows(start, end)``), so
    memory holds one chunk of it (64 MiB by default) plus the ``(num_words, dim)`` result and the row lists,
    however large the bucket matrix. (Memory-mapping it instead costs far more than it looks: each random row
    read maps a whole page-cache folio, up to 2 MiB, into the process.)
    """
    num_rows, dim = shape
    offsets = np.asarray(offsets, dtype=np.int64)[: num_words + 1]
    total = int(offsets[-1])
    lengths = np.diff(offsets)
    rows_per_chunk = rows_per_chunk or max(1, (64 << 20) // (4 * dim))
    # Visit the (row, word) pairs chunk by chunk, grouped by word inside a chunk: one sort of the keys
    # chunk * num_words + word. int32 copies where they fit keep this at ~16 bytes per pair.
    small = np.int32 if max(num_rows, num_words) < 2**31 else np.int64
    key = np.asarray(ids[:total], dtype=np.int64) // rows_per_chunk
    key *= num_words
    key += np.repeat(np.arange(num_words, dtype=np.int64), lengths)
    order = np.argsort(key, kind="stable")
    del key
    words = np.repeat(np.arange(num_words, dtype=small), lengths)[order]
    ids = np.asarray(ids[:total], dtype=small)[order]
    del order
    out = np.zeros((num_words, dim), dtype=np.float32)
    # the pairs are partitioned by chunk, so a binary search finds each chunk's first pair
    bounds = np.searchsorted(ids, np.arange(0, num_rows + rows_per_chunk, rows_per_chunk))
    for chunk in range(len(bounds) - 1):
        first, last = int(bounds[chunk]), int(bounds[chunk + 1])
        if first == last:
            continue
        start = chunk * rows_per_chunk
        block = read_rows(start, min(start + rows_per_chunk, num_rows))
        for lo in range(first, last, batch):
            hi = min(lo + batch, last)
            batch_words = words[lo:hi]
            runs = np.flatnonzero(np.r_[True, batch_words[1:] != batch_words[:-1]])
            out[batch_words[runs]] += np.add.reduceat(block[ids[lo:hi] - start], runs, axis=0)
        del block
    nonempty = lengths > 0
    out[nonempty] /= lengths[nonempty, None].astype(np.float32)
    return out


class FastTextKeyedVectors(KeyedVectors):
    """fastText word vectors: in-vocabulary words plus vectors for *any* word from its character n-grams,
    with gensim 4's ``FastTextKeyedVectors`` semantics.

    ``kv["unseenword"]`` is the mean of the word's n-gram bucket rows (the origin if it has none), and
    ``"unseenword" in kv`` is True whenever n-grams are on, as in gensim; ``kv.has_index_for(word)`` and
    ``kv.key_to_index`` tell whether a word is in the vocabulary. Similarity searches (``most_similar``)
    rank in-vocabulary words only.

    :meth:`from_pretrained` maps the model directory's safetensors files instead of reading them: the
    bucket matrix (``vectors_ngrams``, the bulk of a Facebook model) is only touched row by row for OOV words.

    Parameters
    ----------
    vectors : numpy.ndarray
        ``(n_words, vector_size)`` composed in-vocabulary vectors.
    index_to_key : list of str
    vectors_ngrams : numpy.ndarray
        ``(bucket, vector_size)`` n-gram bucket rows (may be a read-only ``np.memmap``).
    min_n, max_n : int
        Character n-gram lengths (fastText's ``minn``, ``maxn``).
    """

    def __init__(self, vectors, index_to_key, vectors_ngrams, min_n, max_n, counts=None):
        super().__init__(vectors, index_to_key, counts=counts)
        vectors_ngrams = np.asarray(vectors_ngrams) if not isinstance(vectors_ngrams, np.memmap) else vectors_ngrams
        if vectors_ngrams.ndim != 2 or (vectors_ngrams.shape[0] and vectors_ngrams.shape[1] != self.vector_size):
            raise ValueError(
                f"vectors_ngrams must have shape (bucket, {self.vector_size}), got {vectors_ngrams.shape}" + see("vectors-arguments")
            )
        self.vectors_ngrams = vectors_ngrams
        self.min_n, self.max_n = int(min_n), int(max_n)
        self.bucket = vectors_ngrams.shape[0]

    def __repr__(self):
        return (f"{self.__class__.__name__}<vector_size={self.vector_size}, {len(self)} keys, "
                f"bucket={self.bucket}, min_n={self.min_n}, max_n={self.max_n}>")

    __str__ = __repr__

    @property
    def _has_ngrams(self):
        return self.bucket > 0 and self.max_n > 0

    def __contains__(self, key):
        """True for any string when n-grams are on (gensim's semantics: every word gets a vector)."""
        if self._has_ngrams and isinstance(key, str):
            return True
        return self.has_index_for(key)

    def ngram_buckets(self, word):
        """Bucket rows of `word`'s character n-grams, hashed as Facebook's fastText."""
        from hfext_fasttext.modeling_fasttext import subword_buckets

        return subword_buckets(word, self.min_n, self.max_n, self.bucket)

    def fill_norms(self, force=False):
        """Row norms, computed in chunks: the word matrix is memory-mapped and may be GBs, and
        ``np.linalg.norm`` over all of it would allocate a temporary as large as the matrix."""
        if self.norms is None or force:
            step = max(1, (64 << 20) // (4 * max(self.vector_size, 1)))
            norms = [np.linalg.norm(self._vectors[i : i + step], axis=1) for i in range(0, len(self._vectors), step)]
            self.norms = np.concatenate(norms) if norms else np.zeros(0, dtype=np.float32)
            self._safe_norms = np.where(self.norms > 0, self.norms, 1).astype(self.norms.dtype)
            self._normed = None

    def get_vector(self, key, norm=False):
        """Vector of `key`: its row if in the vocabulary, else the mean of its n-gram rows (as fastText)."""
        if self.has_index_for(key) or not isinstance(key, str):
            return super().get_vector(key, norm=norm)
        if not self._has_ngrams:
            raise KeyError(f"Key '{key}' not present in vocabulary, and this model has no n-grams to build it from"
                           + see("unknown-word"))
        buckets = self.ngram_buckets(key)
        vector = np.zeros(self.vector_size, dtype=np.float32)
        if not buckets:
            logger.warning("could not extract any n-grams from %r, returning the origin vector", key)
            return vector
        for row in buckets:  # fastText's order of float32 additions
            vector += self.vectors_ngrams[row]
        vector /= np.float32(len(buckets))
        return _unitvec(vector) if norm else vector

    @classmethod
    def from_model(cls, model, tokenizer):
        """In-memory word vectors of a ``FastTextModel`` (composed from its rows) and its bucket rows."""
        config = model.config
        num_words = config.vocab_size - 1
        id_to_word = {index: word for word, index in tokenizer.get_vocab().items()}
        missing = [i for i in range(num_words) if i not in id_to_word]
        if missing:
            raise ValueError(f"the tokenizer has no word for ids {missing[:5]} of the model's {num_words} words; "
                             "save the tokenizer that was built with the model's vocabulary" + see("fasttext-model-folder"))
        import torch

        with torch.no_grad():
            vectors = model.word_vectors(torch.arange(num_words, device=model.word_counts.device)).float().cpu().numpy()
            ngrams = model.input_embeddings.weight[config.vocab_size :].detach().float().cpu().numpy()
        counts = model.word_counts.detach().cpu().numpy()[:num_words]
        return cls(vectors, [id_to_word[i] for i in range(num_words)], ngrams, config.minn, config.maxn, counts=counts)

    @classmethod
    def from_pretrained(cls, model_name_or_path, **kwargs):
        """Memory-map an ``hfext-fasttext`` model directory (or Hub repo id): in-vocabulary vectors come from
        ``word_vectors.safetensors`` when it matches ``model.safetensors`` (else they are composed once, in
        memory), n-gram rows straight from ``model.safetensors``."""
        path = os.fspath(model_name_or_path)
        if not os.path.isdir(path):
            from huggingface_hub import snapshot_download

            path = snapshot_download(path, allow_patterns=["*.json", "*.safetensors"],
                                     **{k: v for k, v in kwargs.items() if k in ("revision", "token", "cache_dir")})
        with open(os.path.join(path, "config.json"), encoding="utf8") as fin:
            config = json.load(fin)
        if config.get("model_type") != "hfext-fasttext":
            raise ValueError(f"{path} holds a '{config.get('model_type')}' model, not an hfext-fasttext one; "
                             "use KeyedVectors.from_pretrained for other word-vector models" + see("fasttext-model-folder"))
        weights = os.path.join(path, "model.safetensors")
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"{path} has no model.safetensors (sharded checkpoints are not memory-mapped); "
                                    "save the model with save_pretrained(..., max_shard_size='1000GB')" + see("fasttext-model-folder"))
        vocab_size, bucket = int(config["vocab_size"]), int(config["bucket"])
        num_words = vocab_size - 1
        with open(os.path.join(path, "tokenizer.json"), encoding="utf8") as fin:
            vocab = json.load(fin)["model"]["vocab"]
        index_to_key = [None] * num_words
        for word, index in vocab.items():
            if index < num_words:
                index_to_key[index] = word
        if any(word is None for word in index_to_key):
            raise ValueError(f"{path}/tokenizer.json does not name all {num_words} words of the model" + see("fasttext-model-folder"))
        layout = safetensors_layout(weights)
        prefix = "" if "input_embeddings.weight" in layout[1] else "fasttext."
        input_rows = safetensors_memmap(weights, prefix + "input_embeddings.weight", layout)
        counts = np.array(safetensors_memmap(weights, prefix + "word_counts", layout)[:num_words])
        vectors = cls._cached_vectors(path, weights, num_words)
        if vectors is None:
            offsets = safetensors_memmap(weights, prefix + "subword_offsets", layout)
            ids = safetensors_memmap(weights, prefix + "subword_ids", layout)
            read_rows, shape = tensor_row_reader(weights, prefix + "input_embeddings.weight", layout)
            vectors = compose_word_vectors(read_rows, shape, offsets, ids, num_words)
        ngrams = input_rows[vocab_size : vocab_size + bucket]
        return cls(vectors, index_to_key, ngrams, config["minn"], config["maxn"], counts=counts)

    @staticmethod
    def _cached_vectors(path, weights, num_words):
        cache = os.path.join(path, FASTTEXT_WORD_VECTORS_FILE)
        if not os.path.isfile(cache):
            return None
        layout = safetensors_layout(cache)
        metadata = layout[1].get("__metadata__") or {}
        if metadata.get("model_fingerprint") != file_fingerprint(weights):
            logger.warning("%s does not match model.safetensors (the model changed); composing the word vectors "
                           "again", cache)
            return None
        vectors = safetensors_memmap(cache, "vectors", layout)
        return vectors if vectors.shape[0] == num_words else None


def _model_type(model_name_or_path):
    """The model_type of a local model directory's config.json (None for a Hub id or an unreadable config)."""
    config = os.path.join(os.fspath(model_name_or_path), "config.json")
    try:
        with open(config, encoding="utf8") as fin:
            return json.load(fin).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None


# ---------------------------------------------------------------------- word2vec format readers


def _read_header(fin, fname, encoding):
    """Parse the ``"<count> <dimensions>"`` first line."""
    raw = fin.readline()
    try:
        vocab_size, vector_size = (int(x) for x in raw.decode(encoding).split())
    except (UnicodeDecodeError, ValueError):
        vocab_size = vector_size = -1
    if vocab_size < 0 or vector_size <= 0:
        if _looks_binary(raw):
            hint = "This is not a word2vec-format file (a pickled model, or a fastText .bin?)."
        elif len(raw.split()) > 2:
            hint = "If this is a GloVe-style text file without a header, pass no_header=True."
        else:
            hint = "Is this a word2vec-format file?"
        raise Word2VecFormatError(f"{fname}, line 1: expected a header '<count> <dimensions>', got {raw[:40]!r}. {hint}",
                                  docs="vectors-file-format")
    return vocab_size, vector_size


def _parse_text_line(raw, fname, line_no, vector_size, datatype, encoding, unicode_errors):
    """Split one text entry (``word v1 v2 ...``, single spaces, as gensim) into (word, vector)."""
    binary_hint = " This looks like a binary file; try binary=True." if _looks_binary(raw) else ""
    wrong_reader = "vectors-file-format" if binary_hint else None  # else the file itself is wrong
    try:
        parts = raw.rstrip().decode(encoding, errors=unicode_errors).split(" ")
    except UnicodeDecodeError as err:
        hint = binary_hint or " If the words use another encoding pass encoding=..., or unicode_errors='replace'."
        raise Word2VecFormatError(f"{fname}, line {line_no}: cannot decode as {encoding} ({err.reason}).{hint}",
                                  docs="vectors-file-format") from None
    word, values = parts[0], parts[1:]
    if vector_size is not None and len(values) != vector_size:
        hint = binary_hint or " Is the header (or, without a header, the first line) right?"
        raise Word2VecFormatError(
            f"{fname}, line {line_no}: expected {vector_size} values after the word {word[:50]!r}, "
            f"found {len(values)}.{hint}", docs=wrong_reader
        )
    try:
        vector = np.array(values, dtype=datatype)  # numpy parses via float64, exactly like gensim
    except ValueError as err:
        raise Word2VecFormatError(
            f"{fname}, line {line_no}: non-numeric value for word {word[:50]!r}: {err}.{binary_hint}", docs=wrong_reader
        ) from None
    return word, vector


def _count_text_vectors(fin, fname, limit, encoding, unicode_errors):
    """First pass for header-less files: count non-blank lines (up to `limit`), size from line 1."""
    vocab_size, vector_size = 0, None
    for line_no, raw in enumerate(fin, start=1):
        if not raw.strip():
            continue
        if limit and vocab_size == limit:
            break
        if vector_size is None:
            _, vector = _parse_text_line(raw, fname, line_no, None, np.float64, encoding, unicode_errors)
            vector_size = len(vector)
            if vector_size == 0:
                raise Word2VecFormatError(f"{fname}, line {line_no}: no vector values after the word")
        vocab_size += 1
    if vector_size is None:
        raise Word2VecFormatError(f"{fname}: no vectors found (empty file)")
    return vocab_size, vector_size


class _Collector:
    """Fill a preallocated matrix, skipping repeated words like gensim (first one wins)."""

    def __init__(self, vocab_size, vector_size, datatype):
        self.keys, self.seen = [], set()
        self.vectors = np.empty((vocab_size, vector_size), dtype=datatype)

    def add(self, word, vector):
        if word in self.seen:
            logger.warning("duplicate word '%s' in word2vec file, ignoring all but first", word)
            return
        self.seen.add(word)
        self.vectors[len(self.keys)] = vector
        self.keys.append(word)

    def result(self):
        if len(self.keys) != len(self.vectors):
            logger.info("duplicate words: shrinking matrix from %i to %i rows", len(self.vectors), len(self.keys))
            self.vectors = np.ascontiguousarray(self.vectors[: len(self.keys)])
        return self.keys, self.vectors


def _read_text(fin, fname, shape, datatype, encoding, unicode_errors, check_trailing, first_line_no):
    """Read `shape[0]` text entries (``word v1 v2 ...`` lines), line by line."""
    vocab_size, vector_size = shape
    collector = _Collector(vocab_size, vector_size, datatype)
    entries, line_no = 0, first_line_no - 1
    for line_no, raw in enumerate(fin, start=first_line_no):
        if not raw.strip():
            continue  # tolerate blank lines (e.g. a trailing one)
        if entries == vocab_size:
            if check_trailing:
                raise Word2VecFormatError(
                    f"{fname}, line {line_no}: the header declares {vocab_size} vectors but the file has more; "
                    "fix the header count (or pass limit=...)."
                )
            break
        collector.add(*_parse_text_line(raw, fname, line_no, vector_size, datatype, encoding, unicode_errors))
        entries += 1
    if entries < vocab_size:
        raise Word2VecFormatError(
            f"{fname}: unexpected end of file after line {line_no}: found {entries} of the {vocab_size} vectors "
            "declared in the header; the file is truncated or the header count is wrong."
        )
    return collector.result()


def _read_binary(fin, fname, shape, datatype, encoding, unicode_errors, check_trailing):
    """Stream word2vec C binary entries: ``word`` + space + float32 bytes (+ optional newline)."""
    vocab_size, vector_size = shape
    collector = _Collector(vocab_size, vector_size, datatype)
    bytes_per_vector = vector_size * 4
    buf, start, eof = b"", 0, False
    entry = 0
    while entry < vocab_size:
        i_space = buf.find(b" ", start)
        if i_space == -1 or len(buf) - (i_space + 1) < bytes_per_vector:
            if i_space == -1 and len(buf) - start > _MAX_WORD_BYTES:
                raise Word2VecFormatError(
                    f"{fname}, entry {entry + 1}: no space-terminated word within {_MAX_WORD_BYTES} bytes; "
                    "this is not a word2vec binary file.",
                    docs="vectors-file-format",
                )
            if eof:
                raise Word2VecFormatError(
                    f"{fname}, entry {entry + 1}: unexpected end of file after {entry} of the {vocab_size} vectors "
                    "declared in the header; the file is truncated or the header count is wrong "
                    "(or it is a text file: try binary=False)."
                )
            new = fin.read(1 << 20)
            eof = not new
            buf, start = buf[start:] + new, 0
            continue
        raw_vector = buf[i_space + 1 : i_space + 1 + bytes_per_vector]
        if entry == 0 and not raw_vector.translate(None, _TEXT_VECTOR_BYTES):
            raise Word2VecFormatError(
                f"{fname}, entry 1: the vector bytes are plain text; this looks like a text file, try binary=False.",
                docs="vectors-file-format",
            )
        try:
            # word2vec.c ends each vector with "\n", gensim does not: accept both
            word = buf[start:i_space].decode(encoding, errors=unicode_errors).lstrip("\n")
        except UnicodeDecodeError as err:
            raise Word2VecFormatError(
                f"{fname}, entry {entry + 1}: cannot decode word as {encoding} ({err.reason}); "
                "pass encoding=... or unicode_errors='ignore' (word2vec.c may cut multi-byte characters).",
                docs="vectors-file-format",
            ) from None
        collector.add(word, np.frombuffer(buf, dtype="<f4", count=vector_size, offset=i_space + 1))
        start = i_space + 1 + bytes_per_vector
        entry += 1
    if check_trailing:
        rest = buf[start:] + fin.read(1 << 16)
        if rest.strip():
            raise Word2VecFormatError(
                f"{fname}: data after the {vocab_size} vectors declared in the header; "
                "the header count is wrong, or the vector size is (or this is a text file: try binary=False)."
            )
    return collector.result()
