"""GloVe as a Hugging Face model: word vectors W (``word_embeddings``), context vectors W~
(``context_embeddings``) and their biases, fitted to log co-occurrence counts by weighted least squares

    J = sum_ij f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,   f(x) = min(1, (x / x_max)^alpha)

(Pennington et al., 2014). The vectors users keep are W + W~ (``config.vector_combination``).

Self-contained (torch + transformers only) so pushed checkpoints load with ``trust_remote_code=True``.

>>> from hfext_glove import GloVeConfig, GloVeModel
>>> model = GloVeModel(GloVeConfig(vocab_size=10, vector_size=8))
>>> out = model(input_ids=torch.tensor([1, 2]), context_ids=torch.tensor([3, 4]), cooccurrence=torch.tensor([2.0, 1.0]))
>>> out.loss.shape
torch.Size([])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_glove import GloVeConfig, see


@dataclass
class GloVeOutput(ModelOutput):
    """
    loss: mean over the given (i, j, X_ij) entries of 1/2 f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2,
        glove.c's per-entry cost.
    hidden_states: the word vectors of ``input_ids`` (w + w~, or w; see ``config.vector_combination``).
    """

    loss: torch.FloatTensor | None = None
    hidden_states: torch.FloatTensor | None = None


class GloVePreTrainedModel(PreTrainedModel):
    config_class = GloVeConfig
    base_model_prefix = "glove"
    main_input_name = "input_ids"
    _supports_sdpa = False

    def _init_weights(self, module):
        if isinstance(module, nn.Embedding):  # glove.c: every parameter (rand() - 0.5) / vector_size
            bound = self.config.init_range / self.config.vector_size
            nn.init.uniform_(module.weight, -bound, bound)


class GloVeModel(GloVePreTrainedModel):
    """GloVe. ``input_ids`` (B,) are words i; with ``context_ids`` (B,) words j and ``cooccurrence``
    (B,) their counts X_ij, the output carries the weighted least-squares loss."""

    def __init__(self, config: GloVeConfig):
        super().__init__(config)
        self.word_embeddings = nn.Embedding(config.vocab_size, config.vector_size)  # W
        self.context_embeddings = nn.Embedding(config.vocab_size, config.vector_size)  # W~
        self.word_bias = nn.Embedding(config.vocab_size, 1)  # b
        self.context_bias = nn.Embedding(config.vocab_size, 1)  # b~
        # Corpus counts of the words: not used by the objective, kept so exports sort like gensim's.
        self.register_buffer("word_counts", torch.zeros(config.vocab_size, dtype=torch.long), persistent=True)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding):
        self.word_embeddings = value

    def set_word_counts(self, counts) -> None:
        counts = torch.as_tensor(counts, dtype=torch.long)
        if counts.shape != (self.config.vocab_size,):
            raise ValueError(
                f"word_counts must have shape ({self.config.vocab_size},), got {tuple(counts.shape)}"
                + see("vocabulary-mismatch")
            )
        self.word_counts.copy_(counts.to(self.word_counts.device))

    def get_word_vectors(self) -> torch.Tensor:
        """The (vocab_size, d) vectors users keep: W + W~ (glove.c's default output) or W."""
        if self.config.vector_combination == "sum":
            return self.word_embeddings.weight + self.context_embeddings.weight
        return self.word_embeddings.weight

    def weighting(self, cooccurrence: torch.Tensor) -> torch.Tensor:
        """f(x) = (x / x_max)^alpha for x < x_max, else 1: rare pairs count less, frequent ones don't dominate."""
        return (cooccurrence / self.config.x_max).pow(self.config.alpha).clamp(max=1.0)

    def forward(
        self,
        input_ids: torch.LongTensor,
        context_ids: torch.LongTensor | None = None,
        cooccurrence: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> GloVeOutput:
        if self.config.vector_combination == "sum":
            hidden = self.word_embeddings(input_ids) + self.context_embeddings(input_ids)
        else:
            hidden = self.word_embeddings(input_ids)
        loss = None
        if context_ids is not None or cooccurrence is not None:
            if context_ids is None or cooccurrence is None:
                raise ValueError(
                    "the GloVe loss needs both context_ids and cooccurrence (the counts X_ij)" + see("model-inputs")
                )
            if (cooccurrence <= 0).any():
                raise ValueError(
                    "cooccurrence counts must be > 0: GloVe fits log X_ij on the non-zero entries only"
                    + see("model-inputs")
                )
            w = self.word_embeddings(input_ids)
            w_tilde = self.context_embeddings(context_ids)
            # w_i . w~_j + b_i + b~_j - log X_ij
            diff = (w * w_tilde).sum(-1) + self.word_bias(input_ids).squeeze(-1) + self.context_bias(context_ids).squeeze(-1)
            diff = diff - torch.log(cooccurrence.to(diff.dtype))
            loss = (0.5 * self.weighting(cooccurrence.to(diff.dtype)) * diff.pow(2)).mean()
        return GloVeOutput(loss=loss, hidden_states=hidden)
