"""fastText as a Hugging Face model: skip-gram or CBOW whose input vectors are built from the word's own row
and the rows of its hashed character n-grams (Bojanowski et al., 2017, "Enriching Word Vectors with Subword
Information"), hashed exactly as Facebook's fastText hashes them, so out-of-vocabulary words get vectors.

Self-contained (torch + numpy + transformers only) so pushed checkpoints load with ``trust_remote_code=True``.

The subwords of a word are the character n-grams of ``"<" + word + ">"`` (``minn``..``maxn`` Unicode
characters), each hashed with 32-bit FNV-1a over its UTF-8 bytes into one of ``bucket`` rows:

>>> char_ngrams("where", 3, 4)
['<wh', '<whe', 'whe', 'wher', 'her', 'here', 'ere', 'ere>', 're>']
>>> subword_buckets("where", 3, 3, 2_000_000)
[167652, 420941, 1473420, 1529033, 867498]

A word's vector is the mean of its rows (``subword_ids[subword_offsets[w]:subword_offsets[w + 1]]``):

>>> config = FastTextConfig(vocab_size=3, vector_size=4, bucket=10)
>>> model = FastTextModel(config)
>>> model.set_vocabulary(["where", "here"], [5, 3])
>>> model.subword_ids[model.subword_offsets[1] : model.subword_offsets[2]].tolist()  # "here": own row + 10 n-gram rows
[1, 3, 3, 12, 10, 3, 4, 4, 6, 12, 11]
>>> model.get_word_vector("there").shape  # out of vocabulary: the mean of its n-gram rows
torch.Size([4])
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_fasttext import FastTextConfig, see

FNV_OFFSET_BASIS = 2166136261  # 32-bit FNV-1a, as fastText's Dictionary::hash
FNV_PRIME = 16777619
_WORDS_PER_CHUNK = 50_000  # bounds the temporaries of the vectorised hashing (~100 MB a chunk)


# ---------------------------------------------------------------------- hashing, as Facebook's fastText


def fasttext_hash(data: bytes) -> int:
    """fastText's ``Dictionary::hash``: FNV-1a over the bytes, each byte sign-extended (C++ ``char``) first."""
    h = FNV_OFFSET_BASIS
    for byte in data:
        h ^= byte | 0xFFFFFF00 if byte >= 0x80 else byte  # uint32_t(int8_t(c))
        h = (h * FNV_PRIME) & 0xFFFFFFFF
    return h


def _ngram_bytes(word: str, minn: int, maxn: int) -> list[bytes]:
    """The UTF-8 n-grams of ``<word>``, in fastText's order (start position, then length)."""
    data = f"<{word}>".encode("utf-8", errors="surrogatepass")
    size = len(data)
    ngrams = []
    if maxn <= 0:
        return ngrams
    for i in range(size):
        if data[i] & 0xC0 == 0x80:  # a UTF-8 continuation byte never starts an n-gram
            continue
        j, n = i, 1
        while j < size and n <= maxn:
            j += 1
            while j < size and data[j] & 0xC0 == 0x80:
                j += 1
            # fastText skips the lone "<" and ">" when minn == 1
            if n >= minn and not (n == 1 and (i == 0 or j == size)):
                ngrams.append(data[i:j])
            n += 1
    return ngrams


def char_ngrams(word: str, minn: int, maxn: int) -> list[str]:
    """Character n-grams of ``"<" + word + ">"`` with ``minn``..``maxn`` characters, in fastText's order."""
    return [g.decode("utf-8", errors="surrogatepass") for g in _ngram_bytes(word, minn, maxn)]


def subword_buckets(word: str, minn: int, maxn: int, bucket: int) -> list[int]:
    """Bucket index (``hash % bucket``) of each character n-gram of `word`, in fastText's order."""
    if bucket <= 0:
        return []
    return [fasttext_hash(g) % bucket for g in _ngram_bytes(word, minn, maxn)]


def _bucket_csr_chunk(words: list[str], minn: int, maxn: int, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`subword_buckets` over many words: (per-word n-gram counts, concatenated buckets).

    FNV-1a is a streaming hash, so the hash of the n-gram of ``n`` characters starting at character ``k`` is
    the hash of the ``n - 1``-gram continued over one more character: one pass per (length, byte of the
    character) over every character position of every word at once.
    """
    encoded = [f"<{w}>".encode("utf-8", errors="surrogatepass") for w in words]
    byte_lens = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    flat = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    num_words = len(encoded)
    char_start = np.flatnonzero((flat & 0xC0) != 0x80)  # (C,) byte offset of every character
    word_of_byte = np.repeat(np.arange(num_words), byte_lens)
    word_of_char = word_of_byte[char_start]
    nchars = np.bincount(word_of_char, minlength=num_words)
    first_char = np.cumsum(nchars) - nchars
    k = np.arange(len(char_start)) - first_char[word_of_char]  # character index inside its word
    word_chars = nchars[word_of_char]
    char_len = np.diff(np.append(char_start, len(flat)))  # the next character starts where this one ends
    # sign-extended bytes, as fastText's uint32_t(int8_t(c))
    signed = flat.view(np.int8).astype(np.int32).view(np.uint32)

    num_chars = len(char_start)
    columns, masks = [], []
    h = np.full(num_chars, FNV_OFFSET_BASIS, dtype=np.uint32)
    prime = np.uint32(FNV_PRIME)
    last = max(num_chars - 1, 0)
    for n in range(1, maxn + 1):
        valid = k + n <= word_chars  # the n-gram fits inside its word
        nxt = np.minimum(np.arange(num_chars) + (n - 1), last)  # the character this pass appends
        nxt_start, nxt_len = char_start[nxt], np.where(valid, char_len[nxt], 0)
        for t in range(int(nxt_len.max(initial=0))):
            active = nxt_len > t
            b = signed[np.minimum(nxt_start + t, len(flat) - 1)]
            h = np.where(active, (h ^ b) * prime, h)
        if n >= minn:
            keep = valid & ~((n == 1) & ((k == 0) | (k + n == word_chars)))
            columns.append(h.copy())
            masks.append(keep)
    if not columns:
        return np.zeros(num_words, dtype=np.int64), np.zeros(0, dtype=np.int64)
    hashes = np.stack(columns, axis=1)  # (C, maxn - minn + 1): row-major order = (word, start, length)
    mask = np.stack(masks, axis=1)
    buckets = (hashes[mask] % np.uint32(bucket)).astype(np.int64)
    counts = np.bincount(word_of_char, weights=mask.sum(1), minlength=num_words).astype(np.int64)
    return counts, buckets


EOS_TOKEN = "</s>"  # fastText's end-of-line word


def subword_csr(words: list[str], vocab_size: int, minn: int, maxn: int, bucket: int, eos_ngrams: bool = False):
    """The CSR rows of every word: ``[w] + [vocab_size + bucket for each n-gram of w]`` (fastText's
    ``Dictionary::initNgrams``, with n-gram rows shifted past hfext's ``[UNK]`` row).

    Returns ``offsets`` (len(words) + 1,) and ``ids``, both int64 numpy arrays. Vectorised in chunks:
    a 2M-word vocabulary takes seconds.
    """
    num_words = len(words)
    if maxn <= 0 or bucket <= 0:
        counts, buckets = np.zeros(num_words, dtype=np.int64), [np.zeros(0, dtype=np.int64)]
    else:
        parts = [_bucket_csr_chunk(words[i : i + _WORDS_PER_CHUNK], minn, maxn, bucket)
                 for i in range(0, num_words, _WORDS_PER_CHUNK)]
        counts = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        buckets = [p[1] for p in parts]
    # fastText (file format 11/12, i.e. since 2017) gives the line-end word "</s>" no n-grams; pre-2017
    # fastText and gensim hash it like any word (``eos_ngrams=True``).
    eos = [] if eos_ngrams else [i for i, word in enumerate(words) if word == EOS_TOKEN]
    if eos and counts.sum():
        owner = np.repeat(np.arange(num_words), counts)
        buckets = [np.concatenate(buckets)[~np.isin(owner, eos)]]
        counts = counts.copy()
        counts[eos] = 0
    lengths = counts + 1
    offsets = np.zeros(num_words + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.empty(int(offsets[-1]), dtype=np.int64)
    own = offsets[:-1]
    ngram_slots = np.ones(len(ids), dtype=bool)
    ngram_slots[own] = False
    ids[own] = np.arange(num_words)
    ids[ngram_slots] = np.concatenate(buckets) + vocab_size
    return offsets, ids


# ---------------------------------------------------------------------- model


@dataclass
class FastTextOutput(ModelOutput):
    """
    loss: mean negative log-likelihood per (input, target) example of the configured objective.
    hidden_states: the input representation h: the center word's vector (skip-gram) or the mean of the
        context words' subword rows (CBOW).
    logits: full-softmax scores over the vocabulary (objective ``"softmax"`` only).
    """

    loss: torch.FloatTensor | None = None
    hidden_states: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None


# Copied from hfext_word2vec.modeling_word2vec.build_huffman_tree
def build_huffman_tree(counts: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Huffman tree over word counts, as word2vec.c builds it for hierarchical softmax.

    Returns ``points`` (V, L) inner-node indices from the root down, ``codes`` (V, L) the branch bits,
    and ``lengths`` (V,): word w's path is ``points[w, :lengths[w]]``. Inner nodes are numbered
    0..V-2 with the root last (V-2), so they index rows of the context matrix directly.
    """
    vocab_size = len(counts)
    heap = [(int(c), i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent = [0] * (2 * vocab_size - 1)
    branch = [0] * (2 * vocab_size - 1)
    next_node = vocab_size
    while len(heap) > 1:  # merge the two rarest nodes; ties broken by index for a deterministic tree
        count_a, a = heapq.heappop(heap)
        count_b, b = heapq.heappop(heap)
        parent[a], parent[b] = next_node, next_node
        branch[a], branch[b] = 0, 1
        heapq.heappush(heap, (count_a + count_b, next_node))
        next_node += 1
    root = 2 * vocab_size - 2
    paths = []
    for word in range(vocab_size):
        points, codes, node = [], [], word
        while node != root:
            codes.append(branch[node])
            node = parent[node]
            points.append(node - vocab_size)
        paths.append((points[::-1], codes[::-1]))
    max_len = max(len(p) for p, _ in paths)
    points_t = torch.zeros(vocab_size, max_len, dtype=torch.long)
    codes_t = torch.zeros(vocab_size, max_len, dtype=torch.long)
    lengths = torch.zeros(vocab_size, dtype=torch.long)
    for word, (points, codes) in enumerate(paths):
        points_t[word, : len(points)] = torch.tensor(points, dtype=torch.long)
        codes_t[word, : len(codes)] = torch.tensor(codes, dtype=torch.long)
        lengths[word] = len(points)
    return points_t, codes_t, lengths


def _default_csr(config: FastTextConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Before ``set_vocabulary``: each real word is only its own row, ``[UNK]`` has none."""
    num_words = config.vocab_size - 1
    if config.num_subword_ids == num_words:
        offsets = torch.cat([torch.arange(num_words + 1), torch.tensor([num_words])])
        return offsets.long(), torch.arange(num_words, dtype=torch.long)
    # A config that describes a vocabulary's CSR without the vocabulary: placeholders of the right shape,
    # overwritten when the checkpoint's buffers are loaded (every word is empty until then).
    return torch.zeros(config.vocab_size + 1, dtype=torch.long), torch.zeros(config.num_subword_ids, dtype=torch.long)


class FastTextPreTrainedModel(PreTrainedModel):
    config_class = FastTextConfig
    base_model_prefix = "fasttext"
    main_input_name = "input_ids"
    _supports_sdpa = False

    def __init__(self, config: FastTextConfig):
        super().__init__(config)
        # Facebook's input matrix: word rows, then the n-gram buckets (here after hfext's [UNK] row).
        self.input_embeddings = nn.Embedding(config.vocab_size + config.bucket, config.vector_size)
        self.context_embeddings = nn.Embedding(config.vocab_size, config.vector_size)  # Facebook's output matrix
        offsets, ids = _default_csr(config)
        # Saved with the weights: counts drive negative sampling / the Huffman tree, and the CSR
        # (subword_offsets, subword_ids) lists the input rows whose mean is each word's vector.
        self.register_buffer("word_counts", torch.ones(config.vocab_size, dtype=torch.long), persistent=True)
        self.register_buffer("subword_offsets", offsets, persistent=True)
        self.register_buffer("subword_ids", ids, persistent=True)
        self._derived_cache: dict[str, tuple[int, object]] = {}
        self.post_init()

    def _init_weights(self, module):
        if module is self.input_embeddings:
            bound = self.config.init_range / self.config.vector_size
            nn.init.uniform_(module.weight, -bound, bound)
            with torch.no_grad():
                module.weight[self.config.vocab_size - 1].zero_()  # [UNK] has no vector
        elif module is self.context_embeddings:
            nn.init.zeros_(module.weight)  # fastText starts the output matrix at zero

    def get_input_embeddings(self) -> nn.Embedding:
        return self.input_embeddings

    def set_input_embeddings(self, value: nn.Embedding):
        self.input_embeddings = value

    # ------------------------------------------------------------------ vocabulary

    @property
    def unk_token_id(self) -> int:
        return self.config.vocab_size - 1

    def set_word_counts(self, counts) -> None:
        """Set corpus counts (one per vocabulary id), used for negative sampling and the Huffman tree."""
        counts = torch.as_tensor(counts, dtype=torch.long)
        if counts.shape != (self.config.vocab_size,):
            raise ValueError(
                f"word_counts must have shape ({self.config.vocab_size},), got {tuple(counts.shape)}"
                + see("vocabulary-mismatch")
            )
        if (counts < 0).any():
            raise ValueError("word_counts must be non-negative" + see("vocabulary-mismatch"))
        self.word_counts.copy_(counts.to(self.word_counts.device))

    def set_vocabulary(self, words: list[str], counts=None) -> None:
        """Compute every word's subword rows (the CSR buffers) and, if given, its corpus count.

        ``words`` are the ``vocab_size - 1`` real words in id order (``[UNK]``, the last id, is added here
        with no rows); a list of ``vocab_size`` words is also accepted, its last entry taken as ``[UNK]``.
        ``counts`` has one count per word (``[UNK]``'s count, if absent, is 0).
        """
        num_words = self.config.vocab_size - 1
        words = list(words)
        if len(words) == num_words + 1:
            words = words[:num_words]
        if len(words) != num_words:
            raise ValueError(
                f"set_vocabulary got {len(words)} words but the config has vocab_size={self.config.vocab_size} "
                f"(= {num_words} words + [UNK]); build the config with vocab_size=len(words) + 1"
                + see("vocabulary-mismatch")
            )
        if counts is not None:
            counts = torch.as_tensor(np.asarray(counts, dtype=np.int64))
            if counts.shape == (num_words,):
                counts = torch.cat([counts, torch.zeros(1, dtype=torch.long)])
            self.set_word_counts(counts)
        config = self.config
        offsets, ids = subword_csr(words, config.vocab_size, config.minn, config.maxn, config.bucket)
        offsets = np.append(offsets, offsets[-1])  # [UNK]: an empty list
        device = self.subword_ids.device
        self.subword_offsets = torch.from_numpy(offsets).to(device)
        self.subword_ids = torch.from_numpy(ids).to(device)
        config.num_subword_ids = len(ids)

    # ------------------------------------------------------------------ word vectors

    def _gather_rows(self, word_ids: torch.Tensor, lengths_mask: torch.Tensor | None = None):
        """Rows of the given words, concatenated: (rows, per-word lengths)."""
        starts = self.subword_offsets[word_ids]
        lengths = self.subword_offsets[word_ids + 1] - starts
        if lengths_mask is not None:
            lengths = lengths * lengths_mask
        word_offsets = torch.cumsum(lengths, 0) - lengths
        total = int(lengths.sum())
        owner = torch.repeat_interleave(torch.arange(len(word_ids), device=word_ids.device), lengths, output_size=total)
        positions = torch.arange(total, device=word_ids.device) - word_offsets[owner] + starts[owner]
        return self.subword_ids[positions], lengths

    def word_vectors(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """The vector of each word id (any shape -> shape + (vector_size,)): the mean of its rows."""
        flat = input_ids.reshape(-1)
        rows, lengths = self._gather_rows(flat)
        bag_offsets = torch.cumsum(lengths, 0) - lengths
        vectors = F.embedding_bag(rows, self.input_embeddings.weight, bag_offsets, mode="mean")  # empty bag -> 0
        return vectors.view(*input_ids.shape, -1)

    def get_word_vectors(self) -> torch.Tensor:
        """(vocab_size, vector_size): every in-vocabulary word's vector (``[UNK]``'s is zero)."""
        return self.word_vectors(torch.arange(self.config.vocab_size, device=self.subword_ids.device))

    @torch.no_grad()
    def get_word_vector(self, word: str, word_id: int | None = None) -> torch.Tensor:
        """fastText's ``getWordVector``: an in-vocabulary word (``word_id`` given, not ``[UNK]``) gets the mean
        of its own row and its n-gram rows; any other word the mean of its n-gram rows (zeros if none)."""
        weight = self.input_embeddings.weight
        if word_id is not None and 0 <= int(word_id) < self.unk_token_id:
            return self.word_vectors(torch.tensor([int(word_id)], device=weight.device))[0]
        config = self.config
        buckets = subword_buckets(word, config.minn, config.maxn, config.bucket)
        if not buckets:
            return torch.zeros(config.vector_size, dtype=weight.dtype, device=weight.device)
        rows = torch.tensor(buckets, dtype=torch.long, device=weight.device) + config.vocab_size
        return weight[rows].mean(0)

    # ------------------------------------------------------------------ objectives

    # Copied from hfext_word2vec.modeling_word2vec.Word2VecPreTrainedModel._cached
    def _cached(self, name: str, compute):
        # Derived from word_counts, which may be loaded or replaced after __init__: key on its version.
        key = (self.word_counts._version, self.word_counts.data_ptr(), str(self.word_counts.device))
        hit = self._derived_cache.get(name)
        if hit is None or hit[0] != key:
            hit = (key, compute())
            self._derived_cache[name] = hit
        return hit[1]

    # Copied from hfext_word2vec.modeling_word2vec.Word2VecPreTrainedModel.noise_distribution
    def noise_distribution(self) -> torch.Tensor:
        """P_n(w) proportional to count(w)^0.75: where negative sampling draws its noise words."""

        def compute():
            weights = self.word_counts.double().clamp(min=0) ** self.config.ns_exponent
            return (weights / weights.sum()).float()

        return self._cached("noise", compute)

    # Copied from hfext_word2vec.modeling_word2vec.Word2VecPreTrainedModel.huffman_tree
    def huffman_tree(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(points, codes, lengths) of every word's path; see :func:`build_huffman_tree`."""

        def compute():
            tree = build_huffman_tree(self.word_counts.tolist())
            return tuple(t.to(self.word_counts.device) for t in tree)

        return self._cached("huffman", compute)

    # Copied from hfext_word2vec.modeling_word2vec.Word2VecPreTrainedModel.sample_negatives
    def sample_negatives(self, shape, generator: torch.Generator | None = None) -> torch.Tensor:
        probs = self.noise_distribution()
        flat = torch.multinomial(probs, int(torch.Size(shape).numel()), replacement=True, generator=generator)
        return flat.view(shape)

    # Copied from hfext_word2vec.modeling_word2vec.Word2VecPreTrainedModel.objective_loss
    def objective_loss(self, hidden: torch.Tensor, labels: torch.Tensor, negative_ids=None):
        """Mean -log P(label | hidden) under the configured objective; returns (loss, logits or None)."""
        config = self.config
        u = self.context_embeddings.weight
        if config.objective == "softmax":
            # log P(w_o | w_c) = u_o . v_c - log sum_i exp(u_i . v_c)
            logits = hidden @ u.t()  # (B, V)
            return F.cross_entropy(logits, labels), logits
        if config.objective == "negative_sampling":
            # -log s(u_o . h) - sum_k log s(-u_k . h),  k ~ P_n(w)
            if negative_ids is None:
                negative_ids = self.sample_negatives((labels.shape[0], config.negative))
            if negative_ids.dim() == 1:  # one set of noise words shared by the whole batch
                negative_ids = negative_ids.unsqueeze(0).expand(labels.shape[0], -1)
            positive = (hidden * u[labels]).sum(-1)  # (B,)
            negative = torch.bmm(u[negative_ids], hidden.unsqueeze(-1)).squeeze(-1)  # (B, K)
            loss = -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1))
            return loss.mean(), None
        # hierarchical softmax: product of binary decisions along the Huffman path of the label
        points, codes, lengths = self.huffman_tree()
        path, bits = points[labels], codes[labels]  # (B, L)
        mask = torch.arange(path.shape[1], device=path.device) < lengths[labels].unsqueeze(-1)
        scores = torch.bmm(u[path], hidden.unsqueeze(-1)).squeeze(-1)  # (B, L)
        # word2vec.c: the target of node j is 1 - code_j
        nll = F.binary_cross_entropy_with_logits(scores, (1 - bits).to(scores.dtype), reduction="none")
        return (nll * mask).sum(-1).mean(), None


class FastTextModel(FastTextPreTrainedModel):
    """fastText skip-gram or CBOW (``config.architecture``).

    Skip-gram: ``input_ids`` (B,) are center words, ``labels`` (B,) the context words to predict.
    CBOW: ``input_ids`` (B, 2m) are the context words (``attention_mask`` marks real ones), ``labels`` (B,) the
    center words; the hidden vector is the mean of *all* subword rows of the context words, as fastText
    computes it (``cbow_mean=False``: the sum of the context word vectors).
    """

    def forward(
        self,
        input_ids: torch.LongTensor,
        labels: torch.LongTensor | None = None,
        negative_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> FastTextOutput:
        if self.config.architecture == "cbow" and input_ids.dim() == 2:
            hidden = self._context_vector(input_ids, attention_mask)  # (B, d)
        else:
            hidden = self.word_vectors(input_ids)  # (B, d) center word vectors
        loss = logits = None
        if labels is not None:
            loss, logits = self.objective_loss(hidden, labels, negative_ids)
        return FastTextOutput(loss=loss, hidden_states=hidden, logits=logits)

    def _context_vector(self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = attention_mask.bool()
        if not self.config.cbow_mean:
            vectors = self.word_vectors(input_ids.clamp(min=0)) * mask.unsqueeze(-1)  # (B, 2m, d)
            return vectors.sum(1)
        # fastText's CBOW: one bag with every row of every context word, averaged
        rows, lengths = self._gather_rows(input_ids.clamp(min=0).reshape(-1), mask.reshape(-1).long())
        per_example = lengths.view(input_ids.shape).sum(1)
        bag_offsets = torch.cumsum(per_example, 0) - per_example
        return F.embedding_bag(rows, self.input_embeddings.weight, bag_offsets, mode="mean")


__all__ = [
    "FastTextModel",
    "FastTextOutput",
    "FastTextPreTrainedModel",
    "build_huffman_tree",
    "char_ngrams",
    "fasttext_hash",
    "subword_buckets",
    "subword_csr",
]
