"""GloVe configuration (``hfext-glove``).

Self-contained: imports only transformers, so a pushed checkpoint loads with ``trust_remote_code=True``.
"""

from transformers import PreTrainedConfig


# Copied from hfext.errors.see with {TROUBLESHOOTING}->docs/troubleshooting.md
def see(section: str) -> str:
    """`` (see docs/troubleshooting.md#section)``, to end a message with."""
    return f" (see docs/troubleshooting.md#{section})"


VECTOR_COMBINATIONS = ("sum", "word")


class GloVeConfig(PreTrainedConfig):
    r"""GloVe (Pennington et al., 2014): word vectors w_i and context vectors w~_j with biases, fitted so
    that w_i . w~_j + b_i + b~_j ~ log X_ij on the co-occurrence counts X, weighted by f(X_ij).

    Args:
        vocab_size: number of words (rows of each matrix), including the tokenizer's ``[UNK]``.
        vector_size: dimension d (glove.c's ``-vector-size``; 100 here, 50 in its demo).
        x_max: counts at or above it get full weight: f(x) = (x / x_max)^alpha below it, 1 above (100).
        alpha: exponent of the weighting function (0.75, the paper's choice).
        window: co-occurrence window the training matrix was counted with (glove.c: 15).
        symmetric: the matrix counted context on both sides (glove.c's ``-symmetric 1``).
        distance_weighting: a pair d words apart counted 1/d (glove.c's default) instead of 1.
        min_count: words rarer than this were left out of the vocabulary (glove.c's vocab_count: 5).
        vector_combination: the word vectors users get: ``"sum"`` w + w~ (glove.c's ``-model 2``, the
            default; the paper found the sum slightly better) or ``"word"`` w alone (``-model 1``).
        init_range: every parameter starts uniform in ``±init_range / vector_size`` (glove.c: 0.5).
    """

    model_type = "hfext-glove"

    vocab_size: int = 1
    vector_size: int = 100
    x_max: float = 100.0  # glove.c's default cutoff
    alpha: float = 0.75  # the paper's exponent
    window: int = 15  # glove.c's default window
    symmetric: bool = True
    distance_weighting: bool = True
    min_count: int = 5
    vector_combination: str = "sum"  # W + W~, glove.c's -model 2
    init_range: float = 0.5  # glove.c: (rand() - 0.5) / vector_size
    pad_token_id: int | None = None
    tie_word_embeddings: bool = False  # W and W~ are distinct parameters, summed only at the end

    def __post_init__(self, **kwargs):
        for name in ("vocab_size", "vector_size", "window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}" + see("config-value"))
        if not float(self.x_max) > 0:
            raise ValueError(f"x_max must be > 0 (glove.c uses 100), got {self.x_max}" + see("config-value"))
        if not float(self.alpha) >= 0:
            raise ValueError(f"alpha must be >= 0 (glove.c uses 0.75), got {self.alpha}" + see("config-value"))
        if self.vector_combination not in VECTOR_COMBINATIONS:
            raise ValueError(
                f"vector_combination must be one of {VECTOR_COMBINATIONS}, got {self.vector_combination!r}"
                + see("config-value")
            )
        super().__post_init__(**kwargs)

    @property
    def hidden_size(self) -> int:  # the name generic transformers code looks for
        return self.vector_size
