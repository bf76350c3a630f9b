"""ELMo configuration (``hfext-elmo``).

Self-contained: imports only transformers, so a pushed checkpoint loads with ``trust_remote_code=True``.
The field names follow AllenNLP's ``options.json`` (``char_cnn`` and ``lstm`` sections), flattened.
"""

from __future__ import annotations

import copy

from transformers import PreTrainedConfig


# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md
def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see docs/troubleshooting.md#{section})"


ACTIVATIONS = ("relu", "tanh")

# The char CNN of every published ELMo: 2048 filters in all ("2048cnn" in the file names).
ELMO_FILTERS = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]]

# AllenNLP's published configurations (elmo_2x{dim}_{projection}_2048cnn_{n}xhighway_options.json).
# Parameter counts of ElmoModel (softmax and scalar mix excluded): 13.6M, 28.0M, 93.6M.
ELMO_PRESETS = {
    "small": {"filters": ELMO_FILTERS, "n_highway": 1, "projection_dim": 128, "lstm_dim": 1024},
    "medium": {"filters": ELMO_FILTERS, "n_highway": 1, "projection_dim": 256, "lstm_dim": 2048},
    "original": {"filters": ELMO_FILTERS, "n_highway": 2, "projection_dim": 512, "lstm_dim": 4096},
}


class ElmoConfig(PreTrainedConfig):
    r"""ELMo (Peters et al., 2018): a character CNN gives each token a context-independent vector x_k; a
    forward and a backward LSTM language model read the sentence; downstream tasks use a learned scalar
    mix gamma * sum_j s_j h_kj of all layers (s = softmax(w)).

    The defaults are AllenNLP's original model (93.6M parameters); ``ElmoConfig.from_preset("small")``
    gives the 13.6M one.

    Args:
        vocab_size: words of the output softmax (Theta_s, shared by both directions) used for
            pretraining by ``ElmoForBiLM``. 0 = no softmax (features only, e.g. converted AllenNLP weights).
        n_characters: character ids: 256 UTF-8 bytes + 5 ELMo specials (begin/end of sentence, begin/end
            of word, padding), shifted by one so that 0 masks padded tokens: 262.
        max_characters_per_token: characters per token including the begin/end-of-word markers; longer
            words are truncated to their first ``max_characters_per_token - 2`` UTF-8 bytes, as ELMo does.
        char_embedding_dim: size of each character embedding (16).
        filters: ``[[width, number], ...]`` convolutions over the characters, max-pooled over positions.
        n_highway: highway layers after the CNN.
        char_activation: non-linearity after max-pooling (``"relu"``; bilm-tf also allows ``"tanh"``).
        projection_dim: width of the token vectors and of each LSTM's (projected) output, per direction.
        lstm_dim: LSTM memory cell size before the projection (AllenNLP's ``lstm.dim``).
        num_layers: stacked LSTM layers per direction.
        cell_clip / proj_clip: clip the memory cell / the projected output to ``±value`` at every step
            (3 in every published ELMo; ``None`` turns clipping off).
        use_skip_connections: add each LSTM layer's input to its output from the second layer on.
        dropout: dropout on each LSTM layer's input and on the softmax input while pretraining
            (bilm-tf: 0.1).
        num_sampled: negatives of the sampled softmax while training (bilm-tf: 8192); 0 = full softmax.
            Evaluation always uses the full softmax.
        scalar_mix_layer_norm: layer-normalise each layer before mixing (AllenNLP's ``do_layer_norm``).
        representation_dropout: dropout on the mixed representation (AllenNLP's ``Elmo(dropout=0.5)``).
    """

    model_type = "hfext-elmo"

    vocab_size: int = 0
    n_characters: int = 262  # 256 bytes + 5 specials + the padding id 0
    max_characters_per_token: int = 50  # ELMo's ELMoCharacterMapper.max_word_length
    char_embedding_dim: int = 16
    filters: list | None = None  # None -> ELMo's 2048 filters (a list default would be shared)
    n_highway: int = 2
    char_activation: str = "relu"
    projection_dim: int = 512
    lstm_dim: int = 4096
    num_layers: int = 2
    cell_clip: float | None = 3.0  # every published ELMo clips at 3
    proj_clip: float | None = 3.0
    use_skip_connections: bool = True
    dropout: float = 0.1  # bilm-tf's pretraining dropout
    num_sampled: int = 0
    scalar_mix_layer_norm: bool = False
    representation_dropout: float = 0.5  # AllenNLP's Elmo default
    pad_token_id: int | None = None
    tie_word_embeddings: bool = False  # the softmax is its own matrix; inputs are characters

    def __post_init__(self, **kwargs):
        if self.filters is None:
            self.filters = copy.deepcopy(ELMO_FILTERS)
        self.filters = [[int(width), int(number)] for width, number in self.filters]
        if not self.filters or any(width < 1 or number < 1 for width, number in self.filters):
            raise ValueError(
                f"filters must be a non-empty list of [width >= 1, number >= 1] pairs, got {self.filters}"
                + see("config-value")
            )
        for name in ("n_characters", "max_characters_per_token", "char_embedding_dim", "projection_dim", "lstm_dim",
                     "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}" + see("config-value"))
        if self.n_characters < 262:
            raise ValueError(
                f"n_characters must be >= 262 (256 bytes, 5 ELMo specials and padding), got {self.n_characters}"
                + see("config-value")
            )
        if self.max_characters_per_token < 3:
            raise ValueError(
                f"max_characters_per_token must be >= 3 (begin-of-word, one character, end-of-word), got "
                f"{self.max_characters_per_token}" + see("config-value")
            )
        widest = max(width for width, _ in self.filters)
        if widest > self.max_characters_per_token:
            raise ValueError(
                f"the widest filter ({widest}) is wider than max_characters_per_token ({self.max_characters_per_token}); "
                "drop that filter or allow more characters per token" + see("config-value")
            )
        for name in ("vocab_size", "n_highway", "num_sampled"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}" + see("config-value"))
        if self.char_activation not in ACTIVATIONS:
            raise ValueError(
                f"char_activation must be one of {ACTIVATIONS}, got {self.char_activation!r}" + see("config-value")
            )
        for name in ("cell_clip", "proj_clip"):
            value = getattr(self, name)
            if value is not None and not float(value) > 0:
                raise ValueError(
                    f"{name} must be > 0 or None (no clipping; ELMo uses 3), got {value!r}" + see("config-value")
                )
        for name in ("dropout", "representation_dropout"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}" + see("config-value"))
        super().__post_init__(**kwargs)

    @classmethod
    def from_preset(cls, name: str, **kwargs) -> ElmoConfig:
        """AllenNLP's ``small`` (13.6M), ``medium`` (28.0M) or ``original`` (93.6M) sizes; ``kwargs``
        override any field (e.g. ``vocab_size`` for pretraining)."""
        if name not in ELMO_PRESETS:
            raise ValueError(
                f"unknown ELMo preset {name!r}; choose one of {sorted(ELMO_PRESETS)}" + see("config-value")
            )
        return cls(**{**copy.deepcopy(ELMO_PRESETS[name]), **kwargs})

    @property
    def n_filters(self) -> int:
        return sum(number for _, number in self.filters)

    @property
    def hidden_size(self) -> int:  # the width of every ELMo representation: forward + backward
        return 2 * self.projection_dim
