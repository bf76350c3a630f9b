"""word2vec as Hugging Face models: skip-gram and CBOW with full softmax, negative sampling or
hierarchical softmax (Mikolov et al., 2013), in the lecture's notation: center vectors ``v``
(``center_embeddings``, the word vectors users keep) and context vectors ``u`` (``context_embeddings``;
under hierarchical softmax its rows are the Huffman tree's inner nodes instead).

Self-contained (torch + transformers only) so pushed checkpoints load with ``trust_remote_code=True``.

>>> from hfext_word2vec import SkipGramConfig, SkipGramModel
>>> model = SkipGramModel(SkipGramConfig(vocab_size=10, vector_size=8))
>>> out = model(input_ids=torch.tensor([1, 2]), labels=torch.tensor([3, 4]))
>>> out.loss.shape
torch.Size([])
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_word2vec import CBOWConfig, SkipGramConfig, Word2VecConfig, see


@dataclass
class Word2VecOutput(ModelOutput):
    """
    loss: mean negative log-likelihood per (input, target) example of the configured objective.
    hidden_states: the input representation h: v_c for skip-gram, the (mean) context vector for CBOW.
    logits: full-softmax scores over the vocabulary (objective ``"softmax"`` only).
    """

    loss: torch.FloatTensor | None = None
    hidden_states: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None


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


class Word2VecPreTrainedModel(PreTrainedModel):
    config_class = Word2VecConfig
    base_model_prefix = "word2vec"
    main_input_name = "input_ids"
    _supports_sdpa = False

    def __init__(self, config: Word2VecConfig):
        super().__init__(config)
        num_outputs = config.vocab_size - 1 if config.objective == "hierarchical_softmax" else config.vocab_size
        self.center_embeddings = nn.Embedding(config.vocab_size, config.vector_size)  # v
        self.context_embeddings = nn.Embedding(max(num_outputs, 1), config.vector_size)  # u (or tree nodes)
        # Corpus counts drive the noise distribution and the Huffman tree; saved with the weights.
        self.register_buffer("word_counts", torch.ones(config.vocab_size, dtype=torch.long), persistent=True)
        self._derived_cache: dict[str, tuple[int, object]] = {}
        self.post_init()

    def _init_weights(self, module):
        if module is self.center_embeddings:
            bound = self.config.init_range / self.config.vector_size
            nn.init.uniform_(module.weight, -bound, bound)
        elif module is self.context_embeddings:
            nn.init.zeros_(module.weight)  # word2vec.c starts syn1 / syn1neg at zero

    def get_input_embeddings(self) -> nn.Embedding:
        return self.center_embeddings

    def set_input_embeddings(self, value: nn.Embedding):
        self.center_embeddings = value

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

    def _cached(self, name: str, compute):
        # Derived from word_counts, which may be loaded or replaced after __init__: key on its version.
        key = (self.word_counts._version, self.word_counts.data_ptr(), str(self.word_counts.device))
        hit = self._derived_cache.get(name)
        if hit is None or hit[0] != key:
            hit = (key, compute())
            self._derived_cache[name] = hit
        return hit[1]

    def noise_distribution(self) -> torch.Tensor:
        """P_n(w) proportional to count(w)^0.75: where negative sampling draws its noise words."""

        def compute():
            weights = self.word_counts.double().clamp(min=0) ** self.config.ns_exponent
            return (weights / weights.sum()).float()

        return self._cached("noise", compute)

    def huffman_tree(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(points, codes, lengths) of every word's path; see :func:`build_huffman_tree`."""

        def compute():
            tree = build_huffman_tree(self.word_counts.tolist())
            return tuple(t.to(self.word_counts.device) for t in tree)

        return self._cached("huffman", compute)

    def sample_negatives(self, shape, generator: torch.Generator | None = None) -> torch.Tensor:
        probs = self.noise_distribution()
        flat = torch.multinomial(probs, int(torch.Size(shape).numel()), replacement=True, generator=generator)
        return flat.view(shape)

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


class SkipGramModel(Word2VecPreTrainedModel):
    """Skip-gram: ``input_ids`` (B,) are center words, ``labels`` (B,) the context words to predict."""

    config_class = SkipGramConfig

    def forward(
        self,
        input_ids: torch.LongTensor,
        labels: torch.LongTensor | None = None,
        negative_ids: torch.LongTensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> Word2VecOutput:
        hidden = self.center_embeddings(input_ids)  # v_c, (B, d)
        loss = logits = None
        if labels is not None:
            loss, logits = self.objective_loss(hidden, labels, negative_ids)
        return Word2VecOutput(loss=loss, hidden_states=hidden, logits=logits)


class CBOWModel(Word2VecPreTrainedModel):
    """CBOW: ``input_ids`` (B, 2m) are the context words (``attention_mask`` marks real ones),
    ``labels`` (B,) the center words to predict."""

    config_class = CBOWConfig

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        negative_ids: torch.LongTensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> Word2VecOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = attention_mask.unsqueeze(-1).to(self.center_embeddings.weight.dtype)
        vectors = self.center_embeddings(input_ids.clamp(min=0)) * mask  # (B, 2m, d)
        hidden = vectors.sum(1)
        if self.config.cbow_mean:  # (1/2m) (v_o1 + ... + v_o2m)
            hidden = hidden / mask.sum(1).clamp(min=1)
        loss = logits = None
        if labels is not None:
            loss, logits = self.objective_loss(hidden, labels, negative_ids)
        return Word2VecOutput(loss=loss, hidden_states=hidden, logits=logits)
